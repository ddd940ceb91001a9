/* The paper's training protocol: ftn_train_run, its configuration, progress and summary are
 * public (ftunet_protocol.h, section "training", with the run folder's layout); reading a
 * finished run's summary back is here. */
#ifndef FTN_PROTOCOL_TRAIN_H
#define FTN_PROTOCOL_TRAIN_H
#include <stdint.h>

#include "ftunet_protocol.h"

/* Reads RUN/state.json of a finished run (test metrics present) into *out; FTN_EIO if absent. */
ftn_status ftn_train_read_summary(const char *run_dir, ftn_train_summary *out);

#endif
