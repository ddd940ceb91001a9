/* What the run folder's files (run_folder.c, run_config.c, run_state.c, run_log.c) share and no
 * other file uses; the format itself is run_folder.h's. */
#ifndef FTN_PROTOCOL_RUN_INTERNAL_H
#define FTN_PROTOCOL_RUN_INTERNAL_H
#include "protocol/run_folder.h"

#define FTN_RUN_MAX_JSON (64u << 20) /* the largest JSON file or log.csv read */
#define FTN_RUN_EPOCHS_DIR "epochs"

/* The shortest decimal that reads back as the same float, so config.json and log.csv show 0.01,
 * not 0.00999999977648258. (run_config.c) */
double ftn_run_short_float(float f);

/* ---- folders (run_folder.c) ------------------------------------------------------------------ */

/* Best effort, as io/atomic_file.c's: makes renames in folder `dir` durable. */
void ftn_run_sync_dir(const char *dir);
/* Removes folder path and the files in it (epoch folders hold files only); a missing one is fine. */
ftn_status ftn_run_remove_folder(const char *path);
/* mkdir of a folder whose parent exists; one that exists already is fine. */
ftn_status ftn_run_make_folder(const char *path);
/* Removes what no commit names: every entry of RUN/epochs but the folders of epochs keep1 and
 * keep2 (0: none; RUN/epochs itself when nothing is kept), then the stale "NAME.tmp.PID" files
 * of RUN and RUN/test. */
ftn_status ftn_run_remove_except(const char *run_dir, int keep1, int keep2);

/* ---- the manifest (run_state.c) -------------------------------------------------------------- */

/* The file of manifest entry en (k: its ftn_run_entry_kind) against the size and CRC-32 recorded
 * at its commit; FTN_EFORMAT naming the file when they differ. */
ftn_status ftn_run_verify_entry(const char *run_dir, const ftn_run_entry *en, int k);
/* Removes every entry of RUN/partial but the folder `keep` ("EEEE-SSSS", the committed
 * interrupted epoch's; NULL: none, and RUN/partial itself then). */
ftn_status ftn_run_remove_partials(const char *run_dir, const char *keep);
#define FTN_RUN_PARTIAL_DIR "partial"

/* ---- log.csv (run_log.c) --------------------------------------------------------------------- */

/* The log's text, written atomically to path (RUN/log.csv, or an epoch folder's log.csv). */
ftn_status ftn_run_log_save(const ftn_run_log *log, const char *path);

#endif
