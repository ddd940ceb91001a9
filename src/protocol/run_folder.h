/* The run folder's format, both directions: the one file that knows its file names and the
 * contents of config.json, state.json and log.csv (see ftunet_protocol.h, section "training", for
 * the layout and docs/RUN_FOLDER.md for the whole format). Training writes through it; evaluation,
 * the report and the commands (through ftunet_protocol.h's ftn_run_config) read through it.
 * Every file is written atomically (temporary name, fsync, rename). Implemented by run_folder.c
 * (file names, opening, cleanup, the JSON helpers), run_config.c (config.json), run_state.c
 * (state.json, epoch commits, checkpoints) and run_log.c (log.csv); run_internal.h holds what
 * those share and nothing else may use.
 *
 * An epoch is committed as a unit:
 *   1. its files go into RUN/epochs/NNNN.tmp/ (NNNN: the 1-based epoch, at least 4 digits):
 *      model.safetensors, optim.safetensors and log.csv (the log up to this epoch), each fsynced;
 *   2. the folder is renamed to RUN/epochs/NNNN/ and RUN/epochs/ fsynced;
 *   3. RUN/state.json, the manifest, is replaced atomically: it names, for each of last.safetensors,
 *      last.optim.safetensors, log.csv and best.safetensors, the file in an epoch folder that holds
 *      it with its size and CRC-32 (ISO-HDLC, zlib's). This rename is the commit point.
 *   4. after the commit the user-visible copies RUN/last.safetensors, RUN/last.optim.safetensors,
 *      RUN/log.csv and RUN/best.safetensors are replaced by hard links to the committed files
 *      (copies where the file system has no hard links), and everything the manifest does not name
 *      is removed: epoch folders but the last and the best one, NNNN.tmp folders, and stale
 *      "NAME.tmp.PID" files of killed processes in RUN and RUN/test.
 * A resume trusts only the manifest: it verifies every named file's size and checksum, redoes
 * step 4, and continues from the committed epoch, whatever point the previous process died at;
 * a run killed before its first commit has no state.json and starts afresh. Readers (eval, report,
 * predict) read the user-visible copies, which are the committed epoch's once step 4 ran (a
 * process killed between 3 and 4 leaves the previous epoch's until the run is resumed).
 * A state.json without a manifest (a run of before epoch folders) resumes from the copies. */
#ifndef FTN_PROTOCOL_RUN_FOLDER_H
#define FTN_PROTOCOL_RUN_FOLDER_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/fs.h" /* ftn_buf */
#include "ftunet_protocol.h"

/* ---- JSON files ------------------------------------------------------------------------------ */

/* Parses path (at most max_size bytes) into *out (cJSON_Delete it); FTN_EFORMAT unless it holds
 * a JSON object. */
ftn_status ftn_json_read(const char *path, size_t max_size, cJSON **out);
/* cJSON_Print(j) and a newline, written atomically. */
ftn_status ftn_json_write(const char *path, const cJSON *j);
/* {"dsc", "precision", "recall", "iou"}; NULL when out of memory. */
cJSON *ftn_metrics_json(const ftn_metrics *m);

/* ---- file names ------------------------------------------------------------------------------ */

typedef enum ftn_run_file {
    FTN_RUN_STATE,        /* state.json */
    FTN_RUN_CONFIG,       /* config.json */
    FTN_RUN_LOG,          /* log.csv */
    FTN_RUN_BEST,         /* best.safetensors */
    FTN_RUN_LAST,         /* last.safetensors */
    FTN_RUN_LAST_OPTIM,   /* last.optim.safetensors */
    FTN_RUN_TEST_METRICS, /* test/metrics.csv */
    FTN_RUN_TEST_SUMMARY, /* test/summary.json */
    FTN_RUN_N_FILES       /* the files above make up a run (report.html is not one of them) */
} ftn_run_file;
const char *ftn_run_file_name(ftn_run_file f);
/* RUN/<name of f> into buf[0..cap). */
ftn_status ftn_run_path(const char *run_dir, ftn_run_file f, char *buf, size_t cap);

/* Creates RUN if missing and decides how it is used: an existing run is refused unless `resume`
 * (continued when it has a state.json: *resuming = 1) or `overwrite`; a run that is not resumed
 * has its files, its epoch folders and stale temporary files removed first (a run killed before
 * its first commit has no state.json: `resume` starts it afresh). */
ftn_status ftn_run_open(const char *run_dir, int resume, int overwrite, int *resuming);

/* ---- config.json ----------------------------------------------------------------------------- */

/* Writes RUN/config.json: every option of c, the data set's absolute path and the ids of the
 * split's train, val and test samples of ds. */
ftn_status ftn_run_config_write(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp);
/* The run's config.json against the one ftn_run_config_write would write: every key but
 * "epochs" must match (keys added since, at their old default, may be absent); FTN_EINVAL
 * naming the first that differs. */
ftn_status ftn_run_config_check(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp);

/* Parses RUN/config.json into *config (cJSON_Delete it). */
ftn_status ftn_run_config_read(const char *run_dir, cJSON **config);

/* String / number members of the configuration, or `fallback` when absent or of another type. */
const char *ftn_run_config_str(const cJSON *config, const char *key, const char *fallback);
double ftn_run_config_num(const cJSON *config, const char *key, double fallback);

/* Opens the configuration's data set ("data"; a relative path that does not exist as given is
 * tried relative to the run folder) with its "mask_suffix". */
ftn_status ftn_run_dataset_open(const char *run_dir, const cJSON *config, ftn_dataset *ds);

/* The dataset indices of the ids listed in config[split] ("train", "val" or "test"), in the
 * config's order: malloc'ed into *idx (free()), count in *n. An id not in ds is an error. */
ftn_status ftn_run_split_indices(const cJSON *config, const char *split, const ftn_dataset *ds, int **idx, int *n);

/* ---- state.json: the commit point of an epoch, and its manifest ---------------------------- */

/* The files a committed epoch consists of, by their user-visible name. */
typedef enum ftn_run_entry_kind {
    FTN_RUN_ENTRY_LAST,  /* last.safetensors       <- epochs/NNNN/model.safetensors */
    FTN_RUN_ENTRY_OPTIM, /* last.optim.safetensors <- epochs/NNNN/optim.safetensors */
    FTN_RUN_ENTRY_LOG,   /* log.csv                <- epochs/NNNN/log.csv */
    FTN_RUN_ENTRY_BEST,  /* best.safetensors       <- epochs/BBBB/model.safetensors (BBBB: the best epoch) */
    FTN_RUN_N_ENTRIES
} ftn_run_entry_kind;

typedef struct ftn_run_entry {
    char path[64];  /* relative to RUN, "epochs/NNNN/<file>" */
    int64_t size;   /* bytes */
    uint32_t crc32; /* CRC-32 of the bytes (zlib's crc32) */
} ftn_run_entry;

/* The epoch in progress when training was interrupted (ftn_train_config.stop): its steps done
 * and what makes the rest of it bit-identical to an uninterrupted run. Its weights and optimiser
 * state are RUN/partial/EEEE-SSSS/{model,optim}.safetensors (EEEE the 1-based epoch, SSSS the
 * steps done); the user-visible copies stay the last finished epoch's. */
typedef struct ftn_run_partial {
    int epoch;               /* 1-based: epochs_done + 1 */
    int step;                /* steps of it done, >= 1 */
    double loss_sum;         /* Σ loss × batch size over those steps (state.json: C99 hex float) */
    float lr;                /* the epoch's first update's rate (log.csv's lr) */
    double seconds;          /* the epoch's time so far (log.csv's seconds) */
    int64_t iteration;       /* optimiser steps done (the optimiser state must agree) */
    ftn_run_entry model, optim; /* "partial/EEEE-SSSS/model.safetensors", ".../optim.safetensors" */
} ftn_run_partial;

typedef struct ftn_run_state {
    int epochs_done, best_epoch; /* best_epoch 1-based, 0: none yet */
    float best_val_dsc;          /* the best epoch's score by the run's `select`; NaN: none */
    int64_t iteration;           /* optimiser steps done (the optimiser state must agree) */
    int has_test;                /* test results below are those of this state */
    int n_test;
    ftn_metrics test_mean, test_std;
    int has_manifest;            /* files[] below is valid (0: a run of before epoch folders, whose
                                    top-level files are the epoch's) */
    ftn_run_entry files[FTN_RUN_N_ENTRIES];
    int has_partial;             /* partial below is valid: an interrupted epoch (ftn_run_commit_partial) */
    ftn_run_partial partial;
} ftn_run_state;

/* `seed` is recorded with the shuffle scheme. state.json is written atomically with st's manifest. */
ftn_status ftn_run_state_write(const char *run_dir, const ftn_run_state *st, uint64_t seed);
/* Reads state.json and its manifest (paths checked to be epoch-folder files); does not verify
 * the files (ftn_run_tidy does). */
ftn_status ftn_run_state_read(const char *run_dir, ftn_run_state *st);

/* After ftn_run_state_read on a resume: verifies every file the manifest names (size and CRC-32;
 * FTN_EFORMAT naming the file when one differs: damaged, not interrupted), makes the user-visible
 * copies the committed ones and removes what the manifest does not name (see above). A run
 * without a manifest only has its stale temporary files removed. */
ftn_status ftn_run_tidy(const char *run_dir, const ftn_run_state *st);

/* ---- log.csv, kept in memory and written with every epoch ------------------------------------ */

typedef struct ftn_run_log {
    ftn_buf text;
    int v1; /* a resumed run's log.csv without the val_soft_dsc column: kept so */
} ftn_run_log;

/* A new log: the header only, written to RUN/log.csv (outside any epoch: no epoch is done). */
ftn_status ftn_run_log_start(const char *run_dir, ftn_run_log *log);
/* The header and the first st->epochs_done epoch lines of the committed log (the manifest's,
 * verified; without a manifest RUN/log.csv); FTN_EFORMAT when it has fewer. */
ftn_status ftn_run_log_resume(const char *run_dir, const ftn_run_state *st, ftn_run_log *log);
/* One epoch's line (1-based epoch; NaN validation values without validation), in memory: it is
 * written by the epoch's commit. */
ftn_status ftn_run_log_append(ftn_run_log *log, int epoch, float lr, double train_loss, float val_loss, float val_dsc,
                              float val_soft_dsc, double seconds);
void ftn_run_log_free(ftn_run_log *log);

/* ---- checkpoints and test results ------------------------------------------------------------ */

/* Commits epoch st->epochs_done (1-based) as a unit (steps 1–4 above): m's weights and optimiser
 * state and the log, then state.json with st (best_epoch, best_val_dsc, iteration, has_test as
 * the caller set them for this epoch; the manifest is filled in here: the best entry is this
 * epoch's model when st->best_epoch is this epoch, else kept from st). */
ftn_status ftn_run_commit_epoch(const char *run_dir, const ftn_model *m, const ftn_run_log *log, ftn_run_state *st,
                                uint64_t seed);
/* Commits the epoch in progress, interrupted after st->partial.step steps, as a unit: m's
 * weights and optimiser state into RUN/partial/EEEE-SSSS.tmp/, renamed to EEEE-SSSS/, then
 * state.json with st (its finished epochs' fields and manifest as they were) and st->partial: the
 * commit point; then the partial folders it does not name are removed. st->partial's files are
 * filled in here; st->has_partial is set. */
ftn_status ftn_run_commit_partial(const char *run_dir, const ftn_model *m, ftn_run_state *st, uint64_t seed);
/* The interrupted epoch's weights with their optimiser state (verified; at st->partial.iteration). */
ftn_status ftn_run_load_partial(const char *run_dir, const ftn_run_state *st, ftn_model **m);
/* The committed weights with their optimiser state, which must be at st->iteration. With a
 * manifest, the epoch folder's files (verified); without, RUN/last(.optim).safetensors. */
ftn_status ftn_run_load_last(const char *run_dir, const ftn_run_state *st, ftn_model **m);
/* The best checkpoint: st's manifest entry (verified) when st has one, else RUN/best.safetensors
 * (st may be NULL). */
ftn_status ftn_run_load_best(const char *run_dir, const ftn_run_state *st, ftn_model **m);

/* 1 when RUN/test/summary.json exists. */
int ftn_run_has_test(const char *run_dir);
/* RUN/test/metrics.csv and RUN/test/summary.json (ftn_eval_write). */
ftn_status ftn_run_test_write(const char *run_dir, const ftn_eval_result *r);

#endif
