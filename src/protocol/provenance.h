/* RUN/provenance.json: what a run ran on and was built from. One entry per session (the start
 * and every resume), appended when ftn_train_run opens the run, never compared on resume (the
 * format is docs/RUN_FOLDER.md's). The report shows it. */
#ifndef FTN_PROTOCOL_PROVENANCE_H
#define FTN_PROTOCOL_PROVENANCE_H
#include "ftunet_protocol.h"

#define FTN_RUN_PROVENANCE "provenance.json"

/* The commit this library was built from (git describe --always --dirty --tags at build time),
 * or "unknown" when it was built outside a git checkout. */
const char *ftn_build_commit(void);

/* Appends this session to RUN/provenance.json (a fresh run: the file starts over; a resume keeps
 * the earlier sessions, a file that cannot be read starting over): UTC start time, the epoch it
 * starts from, ftunet version and commit, CPU model, logical CPUs online, OpenMP threads, engine,
 * oneDNN version and ISA, precision, OS. Written atomically. */
ftn_status ftn_run_provenance_write(const char *run_dir, const ftn_train_config *cfg, int resuming, int epochs_done);

#endif
