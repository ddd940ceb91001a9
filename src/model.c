/* Models (parameters, gradients, optimiser state) and sessions (a model compiled for a batch). */
#include "model.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "losses/losses.h"
#include "networks/networks.h"

/* ---- models ----------------------------------------------------------------------------------- */
ftn_status ftn_model_create(const char *name, int channels, int height, int width, ftn_model **out)
{
    *out = NULL;
    ftn_model *m = calloc(1, sizeof *m);
    if (!m) return ftn_fail(FTN_ENOMEM, "model: out of memory");
    ftn_graph_init(&m->graph);
    ftn_status s = ftn_network_build(name, &m->graph, 1, channels, height, width);
    if (s != FTN_OK) { ftn_model_free(m); return s; }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->channels = channels;
    m->height = height;
    m->width = width;
    m->loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    size_t n = m->graph.n_param_floats;
    m->params = calloc(n, sizeof(float));
    m->grads = calloc(n, sizeof(float));
    m->opt_m = calloc(n, sizeof(float));
    m->opt_v = calloc(n, sizeof(float));
    if (!m->params || !m->grads || !m->opt_m || !m->opt_v) {
        ftn_model_free(m);
        return ftn_fail(FTN_ENOMEM, "model %s: out of memory for %zu parameters", name, n);
    }
    *out = m;
    return FTN_OK;
}

void ftn_model_free(ftn_model *m)
{
    if (!m) return;
    ftn_graph_free(&m->graph);
    free(m->params);
    free(m->grads);
    free(m->opt_m);
    free(m->opt_v);
    free(m);
}

ftn_status ftn_model_init(ftn_model *m, uint64_t seed)
{
    ftn_rng rng;
    ftn_rng_seed(&rng, seed);
    for (int i = 0; i < m->graph.n_params; i++) {
        const ftn_param *p = &m->graph.params[i];
        float *d = m->params + p->offset;
        switch (p->init) {
        case FTN_INIT_GLOROT: {
            /* Keras glorot_normal: truncated normal, std = sqrt(2/(fan_in+fan_out)) / 0.8796 */
            double std = sqrt(2.0 / (p->fan_in + p->fan_out)) / .87962566103423978;
            for (size_t j = 0; j < p->count; j++) d[j] = (float)ftn_rng_truncated_normal(&rng, std);
            break;
        }
        case FTN_INIT_ZERO: memset(d, 0, p->count * sizeof(float)); break;
        case FTN_INIT_ONE: for (size_t j = 0; j < p->count; j++) d[j] = 1.0f; break;
        }
    }
    size_t n = m->graph.n_param_floats;
    memset(m->grads, 0, n * sizeof(float));
    memset(m->opt_m, 0, n * sizeof(float));
    memset(m->opt_v, 0, n * sizeof(float));
    m->iteration = 0;
    return FTN_OK;
}

const char *ftn_model_name(const ftn_model *m) { return m->name; }
ftn_shape ftn_model_input_shape(const ftn_model *m) { return (ftn_shape){ 1, m->channels, m->height, m->width }; }
int ftn_model_output_count(const ftn_model *m) { return m->graph.n_outputs; }
int64_t ftn_model_iteration(const ftn_model *m) { return m->iteration; }
double ftn_model_forward_flops(const ftn_model *m) { return ftn_graph_conv_flops(&m->graph); }
void ftn_model_set_loss(ftn_model *m, const ftn_loss_config *loss) { m->loss = *loss; }
ftn_loss_config ftn_model_loss(const ftn_model *m) { return m->loss; }

size_t ftn_model_param_count(const ftn_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->graph.n_params; i++)
        if (m->graph.params[i].trainable) n += m->graph.params[i].count;
    return n;
}

int ftn_model_tensor_count(const ftn_model *m) { return m->graph.n_params; }
const char *ftn_model_tensor_name(const ftn_model *m, int i) { return m->graph.params[i].name; }

float *ftn_model_tensor(ftn_model *m, int i, int dims[4], int *ndim)
{
    const ftn_param *p = &m->graph.params[i];
    if (dims) memcpy(dims, p->dims, sizeof p->dims);
    if (ndim) *ndim = p->ndim;
    return m->params + p->offset;
}

int ftn_model_tensor_find(const ftn_model *m, const char *name)
{
    for (int i = 0; i < m->graph.n_params; i++)
        if (!strcmp(m->graph.params[i].name, name)) return i;
    return -1;
}

/* ---- optimisers ------------------------------------------------------------------------------- */
ftn_optimizer_config ftn_optimizer_default(ftn_optimizer_kind kind)
{
    if (kind == FTN_OPT_ADAM) return (ftn_optimizer_config){ FTN_OPT_ADAM, 1e-3f, 0.0f, 0.0f, 0.9f, 0.999f, 1e-7f };
    return (ftn_optimizer_config){ FTN_OPT_SGD, 0.01f, 0.9f, 1e-6f, 0.9f, 0.999f, 1e-7f };
}

ftn_status ftn_model_step(ftn_model *m, const ftn_optimizer_config *o)
{
    if (!(o->lr > 0) || o->momentum < 0 || o->momentum >= 1 || o->decay < 0)
        return ftn_fail(FTN_EINVAL, "optimiser: lr %g, momentum %g, decay %g out of range", o->lr, o->momentum, o->decay);
    if (m->iteration > 0 && o->kind != m->opt_kind)
        return ftn_fail(FTN_EINVAL, "optimiser: the model's state was made by another optimiser");
    m->opt_kind = o->kind;
    /* Keras: lr_t = lr / (1 + decay · iterations), iterations counted before this update */
    double lr = o->lr / (1.0 + (double)o->decay * (double)m->iteration);
    m->iteration++;
    double bc = 1.0;
    if (o->kind == FTN_OPT_ADAM)
        bc = sqrt(1.0 - pow(o->beta2, (double)m->iteration)) / (1.0 - pow(o->beta1, (double)m->iteration));
    for (int i = 0; i < m->graph.n_params; i++) {
        const ftn_param *p = &m->graph.params[i];
        if (!p->trainable) continue;
        float *w = m->params + p->offset, *g = m->grads + p->offset;
        float *v1 = m->opt_m + p->offset, *v2 = m->opt_v + p->offset;
        size_t n = p->count;
        if (o->kind == FTN_OPT_SGD) {
            /* Keras SGD: v = momentum·v − lr·g; w += v */
            float mo = o->momentum, lrf = (float)lr;
            #pragma omp parallel for if (n > 65536) schedule(static)
            for (size_t j = 0; j < n; j++) {
                v1[j] = mo * v1[j] - lrf * g[j];
                w[j] += v1[j];
            }
        } else {
            float b1 = o->beta1, b2 = o->beta2, eps = o->eps, lrt = (float)(lr * bc);
            #pragma omp parallel for if (n > 65536) schedule(static)
            for (size_t j = 0; j < n; j++) {
                v1[j] = b1 * v1[j] + (1 - b1) * g[j];
                v2[j] = b2 * v2[j] + (1 - b2) * g[j] * g[j];
                w[j] -= lrt * v1[j] / (sqrtf(v2[j]) + eps);
            }
        }
    }
    return FTN_OK;
}

/* ---- sessions --------------------------------------------------------------------------------- */
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
    if (!(cfg->smooth >= 0) || !(cfg->alpha >= 0) || !(cfg->beta >= 0) || !(cfg->gamma > 0))
        return ftn_fail(FTN_EINVAL, "loss: alpha %g, beta %g, gamma %g, smooth %g out of range",
                        cfg->alpha, cfg->beta, cfg->gamma, cfg->smooth);
    const ftn_graph *g = &s->graph;
    int H = s->model->height, W = s->model->width;
    double total = 0;
    for (int k = 0; k < g->n_outputs; k++) {
        ftn_shape os = g->tensors[g->outputs[k]].shape;
        const float *m = masks;
        if (os.h != H) {
            ftn_mask_subsample(masks, s->batch, H, W, H / os.h, s->mask_scratch);
            m = s->mask_scratch;
        }
        ftn_loss_kind kind = ftn_loss_for_output(cfg, k, g->n_outputs);
        total += ftn_loss_eval(kind, cfg, s->exec->outputs[k], m, os.n, (size_t)os.h * os.w, s->exec->d_outputs[k]);
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

ftn_status ftn_train_step(ftn_session *s, const float *x, const float *masks,
                          const ftn_loss_config *loss_cfg, const ftn_optimizer_config *opt, float *loss)
{
    FTN_TRY(ftn_session_forward(s, x, 1));
    FTN_TRY(ftn_session_loss(s, masks, loss_cfg, loss));
    FTN_TRY(ftn_session_backward(s));
    return ftn_model_step(s->model, opt);
}

ftn_status ftn_session_set_bn_momentum(ftn_session *s, float momentum)
{
    if (!s) return ftn_fail(FTN_EINVAL, "bn momentum: missing session");
    if (!(momentum >= 0 && momentum <= 1)) return ftn_fail(FTN_EINVAL, "bn momentum %g: expected 0 to 1", momentum);
    s->exec->bn_momentum = momentum;
    return FTN_OK;
}

float ftn_bn_debiased_momentum(int64_t k)
{
    if (k < 1) return 0;
    /* weight of the new batch (1−m)/(1−mᵏ); 1 − mᵏ in double so that it stays exact for large k */
    double m = FTN_BN_MOMENTUM;
    return (float)(1.0 - (1.0 - m) / (1.0 - pow(m, (double)k)));
}

ftn_status ftn_bn_recalibrate_sessions(ftn_session *full, ftn_session *rest, const float *x, int n)
{
    if (!full || !x) return ftn_fail(FTN_EINVAL, "bn recalibrate: missing session or images");
    if (n < 1) return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images", n);
    int batch = full->batch, full_batches = n / batch, tail = n % batch;
    if (tail && (!rest || rest->batch != tail || rest->model != full->model))
        return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images in batches of %d need a session of batch %d for the "
                        "rest", n, batch, tail);
    ftn_shape in = ftn_model_input_shape(full->model);
    size_t per = (size_t)in.c * in.h * in.w;
    float keep[2] = { full->exec->bn_momentum, rest ? rest->exec->bn_momentum : 0 };
    ftn_status st = FTN_OK;
    long seen = 0;
    for (int k = 0; k < full_batches + (tail > 0) && st == FTN_OK; k++) {
        ftn_session *cur = k < full_batches ? full : rest;
        int b = k < full_batches ? batch : tail;
        /* r = seen/(seen+b)·r + b/(seen+b)·batch: after each batch, the average over all seen */
        cur->exec->bn_momentum = (float)((double)seen / (double)(seen + b));
        st = ftn_session_forward(cur, x + (size_t)k * batch * per, 1);
        if (st != FTN_OK) st = ftn_fail_context(st, "bn recalibrate: batch %d", k + 1);
        seen += b;
    }
    full->exec->bn_momentum = keep[0];
    if (rest) rest->exec->bn_momentum = keep[1];
    return st;
}

ftn_status ftn_bn_recalibrate(ftn_model *m, const float *x, int n, int batch, ftn_engine engine,
                              ftn_precision precision)
{
    if (!m || !x) return ftn_fail(FTN_EINVAL, "bn recalibrate: missing model or images");
    if (n < 1 || batch < 1) return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images in batches of %d", n, batch);
    if (batch > n) batch = n;
    ftn_session *full = NULL, *rest = NULL;
    ftn_status st = ftn_session_create_ex(m, batch, engine, precision, &full);
    if (st == FTN_OK && n % batch) st = ftn_session_create_ex(m, n % batch, engine, precision, &rest);
    if (st == FTN_OK && rest) st = ftn_session_share_memory(rest, full);
    if (st == FTN_OK) st = ftn_bn_recalibrate_sessions(full, rest, x, n);
    ftn_session_free(full);
    ftn_session_free(rest);
    return st;
}

/* ---- profiling -------------------------------------------------------------------------------- */
void ftn_session_set_profile(ftn_session *s, int on) { ftn_exec_set_profile(s->exec, on != 0); }

int ftn_session_profile_layers(const ftn_session *s, ftn_profile_layer *out, int cap)
{
    const ftn_exec *ex = s->exec;
    const ftn_graph *g = ex->g;
    for (int o = 0; o <= g->n_ops && o < cap; o++) {
        ftn_profile_layer *e = &out[o];
        if (o < g->n_ops) {
            const ftn_op *op = &g->ops[o];
            const char *kind = ftn_op_kind_name(op->kind);
            bool unnamed = !strcmp(op->label, kind);
            int prod = g->tensors[op->in[0]].producer; /* the nearest named op upstream */
            while (prod >= 0 && !strcmp(g->ops[prod].label, ftn_op_kind_name(g->ops[prod].kind)))
                prod = g->tensors[g->ops[prod].in[0]].producer;
            *e = (ftn_profile_layer){ op->label, kind, !unnamed ? "" : prod < 0 ? "input" : g->ops[prod].label,
                                      g->tensors[op->out].shape, { 0 }, { 0 } };
        } else {
            *e = (ftn_profile_layer){ "boundary", "boundary", "", g->tensors[g->input].shape, { 0 }, { 0 } };
        }
        for (int pass = 0; pass < 2; pass++) {
            e->seconds[pass] = ex->prof_op_s[pass * (g->n_ops + 1) + o];
            e->calls[pass] = ex->prof_op_n[pass * (g->n_ops + 1) + o];
        }
    }
    return g->n_ops + 1;
}

int ftn_session_profile(const ftn_session *s, ftn_profile_entry *out, int cap)
{
    const ftn_exec *ex = s->exec;
    const ftn_graph *g = ex->g;
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k <= FTN_OP_KIND_COUNT; k++) { /* FTN_OP_KIND_COUNT: the boundary */
            double sec = 0;
            long calls = 0;
            for (int o = 0; o <= g->n_ops; o++) {
                int ok = o < g->n_ops ? (int)g->ops[o].kind : FTN_OP_KIND_COUNT;
                if (ok != k) continue;
                sec += ex->prof_op_s[pass * (g->n_ops + 1) + o];
                calls += ex->prof_op_n[pass * (g->n_ops + 1) + o];
            }
            if (!calls) continue;
            if (n < cap)
                out[n] = (ftn_profile_entry){ k < FTN_OP_KIND_COUNT ? ftn_op_kind_name((ftn_op_kind)k) : "boundary", pass, sec, calls };
            n++;
        }
    return n;
}
