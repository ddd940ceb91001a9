/* Sessions: a model compiled for one batch on one engine — create, free, share memory, forward,
 * outputs, loss, backward, and the whole training step. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "losses/losses.h"
#include "networks/networks.h"

ftn_status ftn_session_create(ftn_model *m, int batch, ftn_engine engine, ftn_session **out)
{
    return ftn_session_create_ex(m, batch, engine, FTN_PRECISION_FP32, out);
}

ftn_precision ftn_session_precision(const ftn_session *s) { return s->exec->precision; }

ftn_status ftn_session_create_ex(ftn_model *m, int batch, ftn_engine engine, ftn_precision precision,
                                 ftn_session **out)
{
    *out = NULL;
    FTN_TRY(ftn_precision_check(engine, precision));
    ftn_engine_options opts; /* the one place the engine's switches are read from the environment */
    FTN_TRY(ftn_engine_options_from_env(&opts));
    ftn_session *s = calloc(1, sizeof *s);
    if (!s) return ftn_fail(FTN_ENOMEM, "session: out of memory");
    s->model = m;
    s->batch = batch;
    ftn_graph_init(&s->graph);
    ftn_status st = ftn_network_build(m->name, &s->graph, batch, m->channels, m->height, m->width);
    if (st == FTN_OK && s->graph.n_param_floats != m->graph.n_param_floats)
        st = ftn_fail(FTN_EINTERNAL, "session: parameter layout differs between batch sizes");
    if (st == FTN_OK) st = ftn_exec_create_opts(&s->graph, m->params, m->grads, engine, precision, &opts, &s->exec);
    if (st == FTN_OK) {
        s->mask_scratch = malloc((size_t)batch * m->height * m->width * sizeof(float));
        if (!s->mask_scratch) st = ftn_fail(FTN_ENOMEM, "session: out of memory");
    }
    if (st != FTN_OK) {
        ftn_session_free(s);
        return st;
    }
    *out = s;
    return FTN_OK;
}

ftn_status ftn_session_share_memory(ftn_session *s, ftn_session *with)
{
    if (!s || !with) return ftn_fail(FTN_EINVAL, "session: missing session to share memory with");
    return ftn_exec_share(s->exec, with->exec);
}

void ftn_session_free(ftn_session *s)
{
    if (!s) return;
    ftn_exec_free(s->exec);
    ftn_graph_free(&s->graph);
    free(s->mask_scratch);
    free(s);
}

int ftn_session_batch(const ftn_session *s) { return s->batch; }
ftn_model *ftn_session_model(const ftn_session *s) { return s->model; }

ftn_status ftn_session_forward(ftn_session *s, const float *x, int training)
{
    ftn_exec *ex = s->exec;
    memcpy(ex->input, x, ftn_shape_count(s->graph.tensors[s->graph.input].shape) * sizeof(float));
    s->have_loss = 0;
    s->trained_forward = 0;
    FTN_TRY(ex->vt->forward(ex, training != 0));
    s->trained_forward = training != 0;
    return FTN_OK;
}

const float *ftn_session_output(const ftn_session *s, int k, ftn_shape *shape)
{
    if (k < 0 || k >= s->graph.n_outputs) return NULL;
    if (shape) *shape = s->graph.tensors[s->graph.outputs[k]].shape;
    return s->exec->outputs[k];
}

ftn_status ftn_session_loss(ftn_session *s, const float *masks, const ftn_loss_config *cfg, float *loss)
{
    const ftn_graph *g = &s->graph;
    FTN_TRY(ftn_loss_check(cfg, g->n_outputs));
    int H = s->model->height, W = s->model->width;
    double total = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        ftn_shape os = g->tensors[g->outputs[k]].shape;
        const float *m = masks;
        if (os.h != H) {
            ftn_mask_subsample(masks, s->batch, H, W, H / os.h, s->mask_scratch);
            m = s->mask_scratch;
        }
        double v;
        FTN_TRY(ftn_loss_output_comm(cfg, k, g->n_outputs, s->exec->outputs[k], m, os.n, (size_t)os.h * os.w,
                                     s->exec->d_outputs[k], s->comm, &v));
        total += v;
    }
    if (loss) *loss = (float)total;
    s->have_loss = 1;
    return FTN_OK;
}

ftn_status ftn_session_backward(ftn_session *s)
{
    if (!s->trained_forward || !s->have_loss)
        return ftn_fail(FTN_EINVAL, "session: backward needs a training forward and a loss first");
    return s->exec->vt->backward(s->exec);
}

void ftn_session_set_comm(ftn_session *s, const ftn_comm *comm)
{
    s->comm = comm && comm->size > 1 ? comm : NULL; /* a group of one is a single process */
    s->exec->comm = s->comm;
}

ftn_status ftn_train_step(ftn_session *s, const float *x, const float *masks,
                          const ftn_loss_config *loss_cfg, const ftn_optimizer_config *opt, float *loss)
{
    FTN_TRY(ftn_session_forward(s, x, 1));
    FTN_TRY(ftn_session_loss(s, masks, loss_cfg, loss));
    FTN_TRY(ftn_session_backward(s));
    return ftn_model_step(s->model, opt);
}
