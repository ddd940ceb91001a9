/* The insides of ftn_model and ftn_session: private to src/model/ (and white-box tests). Outside
 * code uses the public accessors of include/ftunet.h. */
#ifndef FTN_MODEL_MODEL_H
#define FTN_MODEL_MODEL_H

#include "engine/graph.h"
#include "ftunet.h"

struct ftn_model {
    char name[32];
    int channels, height, width;
    ftn_graph graph;        /* built at batch 1: the parameter table and FLOP count */
    /* One allocation each, laid out as graph.params (spec layouts, checkpoint order). */
    float *params, *grads;
    float *opt_m, *opt_v;   /* SGD velocity / Adam first moment; Adam second moment */
    ftn_optimizer_kind opt_kind;
    int64_t iteration;
    ftn_loss_config loss;
};

struct ftn_session {
    ftn_model *model;
    ftn_graph graph;        /* the same network at this session's batch size */
    ftn_exec *exec;
    int batch;
    float *mask_scratch;    /* subsampled masks for deep supervision */
    int trained_forward;    /* the last forward was a training one: backward is allowed */
    int have_loss;
    const ftn_comm *comm;   /* the process group this session trains in; NULL: alone */
};

#endif
