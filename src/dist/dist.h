/* Data parallelism over a process group (ftn_comm, include/ftunet.h): which images of a batch are
 * this process's, and the model made the same on every process. */
#ifndef FTN_DIST_DIST_H
#define FTN_DIST_DIST_H

#include "ftunet_protocol.h"

/* This process's part of a batch of b images: [*lo, *lo + *n), the first b mod size processes one
 * image more than the rest (a batch smaller than the group leaves the last ones none). NULL comm:
 * all of it. */
void ftn_dist_slice(const ftn_comm *comm, int b, int *lo, int *n);

/* 1 on the process that writes (process 0, or no comm). */
int ftn_dist_lead(const ftn_comm *comm);

/* The part of a training batch of b images (of the run's batch size B) this process computes:
 * [*lo, *lo + *n). A batch of at least as many images as processes is split (ftn_dist_slice)
 * and computed by the group (returns 1); a smaller one, the last of an epoch (b < size), is
 * computed whole by every process alone (returns 0), since a process without images cannot take
 * part in the group's sums; its result is then process 0's on every process
 * (ftn_dist_broadcast_model). */
int ftn_dist_batch_part(const ftn_comm *comm, int b, int *lo, int *n);

/* Every process's status after a phase that may fail on one process alone (opening the run):
 * own failures are returned as they are; when only others failed, FTN_EIO "another process
 * failed" (and ftn_dist_peer_failed() is 1 from then on: its message is the other's to print). */
ftn_status ftn_dist_agree(const ftn_comm *comm, ftn_status own);

/* 1 when any process's *flag is non-zero (a stop request that only some processes saw). */
ftn_status ftn_dist_any(const ftn_comm *comm, int flag, int *any);

/* bytes of buf from process 0 on every process. */
ftn_status ftn_dist_broadcast(const ftn_comm *comm, void *buf, size_t bytes);

#endif
