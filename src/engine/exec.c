/* Engine-neutral part of an executable graph: the NCHW buffers at the network's boundary. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/graph.h"

void ftn_exec_free(ftn_exec *ex)
{
    if (!ex) return;
    if (ex->vt && ex->vt->destroy) ex->vt->destroy(ex);
    free(ex->input);
    for (int i = 0; i < FTN_MAX_OUTPUTS; i++) { free(ex->outputs[i]); free(ex->d_outputs[i]); }
    free(ex->prof_op_s);
    free(ex->prof_op_n);
    free(ex);
}

ftn_status ftn_exec_create(const ftn_graph *g, float *params, float *grads, ftn_engine engine, ftn_exec **out)
{
    return ftn_exec_create_ex(g, params, grads, engine, FTN_PRECISION_FP32, out);
}

ftn_status ftn_exec_create_ex(const ftn_graph *g, float *params, float *grads, ftn_engine engine,
                              ftn_precision precision, ftn_exec **out)
{
    return ftn_exec_create_opts(g, params, grads, engine, precision, NULL, out);
}

ftn_status ftn_exec_create_opts(const ftn_graph *g, float *params, float *grads, ftn_engine engine,
                                ftn_precision precision, const ftn_engine_options *opts, ftn_exec **out)
{
    *out = NULL;
    if (g->error) return g->error;
    ftn_status pst = ftn_precision_check(engine, precision); /* unknown, or not on this engine or CPU */
    if (pst != FTN_OK) return pst;
    ftn_exec *ex = calloc(1, sizeof *ex);
    if (!ex) return ftn_fail(FTN_ENOMEM, "engine: out of memory");
    ex->g = g;
    ex->params = params;
    ex->grads = grads;
    ex->vt = engine == FTN_ENGINE_REF ? &ftn_ref_engine : &ftn_dnnl_engine;
    ex->precision = precision;
    ex->opts = opts ? *opts : ftn_engine_options_default();
    ex->bn_momentum = FTN_BN_MOMENTUM;
    ex->input = malloc(ftn_shape_count(g->tensors[g->input].shape) * sizeof(float));
    ex->prof_op_s = calloc(2 * ((size_t)g->n_ops + 1), sizeof *ex->prof_op_s);
    ex->prof_op_n = calloc(2 * ((size_t)g->n_ops + 1), sizeof *ex->prof_op_n);
    bool ok = ex->input && ex->prof_op_s && ex->prof_op_n;
    for (int i = 0; i < g->n_outputs; i++) {
        size_t n = ftn_shape_count(g->tensors[g->outputs[i]].shape);
        ex->outputs[i] = calloc(n, sizeof(float));
        ex->d_outputs[i] = calloc(n, sizeof(float));
        ok = ok && ex->outputs[i] && ex->d_outputs[i];
    }
    if (!ok) {
        ex->vt = NULL;
        ftn_exec_free(ex);
        return ftn_fail(FTN_ENOMEM, "engine: out of memory for the network's inputs and outputs");
    }
    ftn_status s = ex->vt->compile(ex);
    if (s != FTN_OK) {
        ftn_exec_free(ex);
        return s;
    }
    *out = ex;
    return FTN_OK;
}

ftn_status ftn_exec_share(ftn_exec *ex, ftn_exec *with)
{
    if (ex->vt != with->vt) return ftn_fail(FTN_EINVAL, "engine: execs of different engines cannot share memory");
    return ex->vt->share ? ex->vt->share(ex, with) : FTN_OK;
}

void ftn_exec_set_profile(ftn_exec *ex, bool on)
{
    if (on) {
        memset(ex->prof_op_s, 0, 2 * ((size_t)ex->g->n_ops + 1) * sizeof *ex->prof_op_s);
        memset(ex->prof_op_n, 0, 2 * ((size_t)ex->g->n_ops + 1) * sizeof *ex->prof_op_n);
    }
    ex->profile = on;
}

void ftn_exec_profile_add(ftn_exec *ex, int pass, int op, double seconds)
{
    int n_ops = ex->g->n_ops;
    if (op < 0 || op > n_ops) op = n_ops;
    ex->prof_op_s[pass * (n_ops + 1) + op] += seconds;
    ex->prof_op_n[pass * (n_ops + 1) + op]++;
}
