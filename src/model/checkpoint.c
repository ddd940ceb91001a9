/* Checkpoints: model parameters (and BN running statistics), gradients and optimiser state as
 * safetensors (see ftn_model_save in ftunet.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "model/model.h"

#define CHECKPOINT_FORMAT "ftunet-checkpoint"
#define OPTIMIZER_FORMAT "ftunet-optimizer"
#define GRADIENTS_FORMAT "ftunet-gradients"
#define FORMAT_VERSION "1"
/* PyTorch's counter of BN updates ("P.num_batches_tracked", an int64 scalar): it never affects
 * the arithmetic with a fixed momentum, so a file that carries it for a BN layer P of the model
 * loads as if it did not (any other name the model does not have is still refused). */
#define BN_COUNTER ".num_batches_tracked"

enum { MAX_META = 24 };
typedef struct meta { const char *keys[MAX_META]; const char *values[MAX_META]; char buf[MAX_META][64]; int n; } meta;

static void meta_add(meta *m, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void meta_add(meta *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->buf[m->n], sizeof m->buf[m->n], fmt, ap);
    va_end(ap);
    m->keys[m->n] = key;
    m->values[m->n] = m->buf[m->n];
    m->n++;
}

/* Writes one value per parameter tensor, taking trainable tensors from `trainable_src` and the
 * BN running statistics from the parameters: a checkpoint (trainable_src = params) or the
 * gradients of a step (trainable_src = grads), with the checkpoint's metadata. */
static ftn_status save_tensors(const ftn_model *m, const float *trainable_src, const char *path)
{
    int n = m->graph.n_params;
    ftn_st_tensor *ts = calloc((size_t)n, sizeof *ts);
    if (!ts) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        const ftn_param *p = &m->graph.params[i];
        ts[i].name = p->name;
        ts[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) ts[i].dims[d] = p->dims[d];
        ts[i].data = (p->trainable ? trainable_src : m->params) + p->offset;
    }
    meta md = { .n = 0 };
    meta_add(&md, "format", trainable_src == m->params ? CHECKPOINT_FORMAT : GRADIENTS_FORMAT);
    meta_add(&md, "format_version", FORMAT_VERSION);
    meta_add(&md, "model", "%s", m->name);
    meta_add(&md, "channels", "%d", m->channels);
    meta_add(&md, "height", "%d", m->height);
    meta_add(&md, "width", "%d", m->width);
    meta_add(&md, "loss", "%s", ftn_loss_name(m->loss.kind));
    meta_add(&md, "alpha", "%.9g", m->loss.alpha);
    meta_add(&md, "beta", "%.9g", m->loss.beta);
    meta_add(&md, "gamma", "%.9g", m->loss.gamma);
    meta_add(&md, "smooth", "%.9g", m->loss.smooth);
    meta_add(&md, "reduction", "%s", m->loss.reduction == FTN_REDUCE_IMAGE ? "image" : "batch");
    meta_add(&md, "iteration", "%" PRId64, m->iteration);
    /* the conventions another framework needs to run these tensors (README, "Fine-tuning and
     * PyTorch"); the loader refuses a file whose layout or BN eps says otherwise */
    meta_add(&md, "layout", "NCHW");
    meta_add(&md, "conv_weight", "out,in,kh,kw");
    meta_add(&md, "deconv_weight", "in,out,kh,kw");
    meta_add(&md, "bn_eps", "%g", (double)FTN_BN_EPS);
    meta_add(&md, "bn_running_update", "r = %.3g*r + %.3g*batch (unbiased batch var)", (double)FTN_BN_MOMENTUM,
             1.0 - (double)FTN_BN_MOMENTUM);
    meta_add(&md, "bn_momentum_pytorch", "%.3g", 1.0 - (double)FTN_BN_MOMENTUM);
    meta_add(&md, "activation", "relu");
    meta_add(&md, "output", "sigmoid probabilities; the last output is the prediction");
    ftn_status s = ftn_safetensors_write(path, ts, n, md.keys, md.values, md.n);
    free(ts);
    return s;
}

ftn_status ftn_model_save(const ftn_model *m, const char *path) { return save_tensors(m, m->params, path); }
ftn_status ftn_model_save_gradients(const ftn_model *m, const char *path) { return save_tensors(m, m->grads, path); }

static ftn_status meta_int(const ftn_st_file *f, const char *path, const char *key, long lo, long hi, long *out)
{
    const char *v = ftn_st_meta(f, key);
    if (!v) return ftn_fail(FTN_EFORMAT, "%s: metadata has no '%s'", path, key);
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return ftn_fail(FTN_EFORMAT, "%s: metadata '%s' = '%s' is not an integer in [%ld, %ld]", path, key, v, lo, hi);
    *out = x;
    return FTN_OK;
}

/* A finite number in [lo, hi] (the ranges train's options allow), or the fallback when absent. */
static ftn_status meta_float(const ftn_st_file *f, const char *path, const char *key, float lo, float hi,
                             float fallback, float *out)
{
    const char *v = ftn_st_meta(f, key);
    if (!v) { *out = fallback; return FTN_OK; }
    char *end;
    float x = strtof(v, &end);
    if (end == v || *end || !isfinite(x) || x < lo || x > hi)
        return ftn_fail(FTN_EFORMAT, "%s: metadata '%s' = '%s' is not a number in [%g, %g]", path, key, v, lo, hi);
    *out = x;
    return FTN_OK;
}

/* A NaN or infinity in a checkpoint would load and predict garbage (or poison training): refused. */
static ftn_status check_finite(const char *path, const char *name, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' holds a non-finite value (%g at element %zu)", path, name,
                            (double)x[i], i);
    return FTN_OK;
}

/* "P.num_batches_tracked" of a BN layer P of g (one with "P.running_mean"). */
static bool is_bn_counter(const ftn_graph *g, const char *name)
{
    size_t n = strlen(name), k = strlen(BN_COUNTER);
    if (n <= k || strcmp(name + n - k, BN_COUNTER)) return false;
    char want[FTN_PARAM_NAME_MAX + 16];
    if (n - k + sizeof ".running_mean" > sizeof want) return false;
    snprintf(want, sizeof want, "%.*s.running_mean", (int)(n - k), name);
    for (int j = 0; j < g->n_params; j++)
        if (!strcmp(g->params[j].name, want)) return true;
    return false;
}

/* Copies every tensor the model expects from f, checking names and shapes; `suffix` selects
 * optimiser slots ("" for the parameters themselves). */
static ftn_status copy_tensors(const ftn_graph *g, const ftn_st_file *f, const char *path, const char *suffix,
                               bool trainable_only, float *dst)
{
    int expected = 0;
    for (int i = 0; i < g->n_params; i++) {
        const ftn_param *p = &g->params[i];
        if (trainable_only && !p->trainable) continue;
        expected++;
        char name[FTN_PARAM_NAME_MAX + 16];
        snprintf(name, sizeof name, "%s%s", p->name, suffix);
        const ftn_st_tensor *t = ftn_st_find(f, name);
        if (!t) return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' is missing", path, name);
        bool same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->dims[d] == p->dims[d];
        if (!same) {
            char got[64] = "", want[64] = "";
            for (int d = 0; d < t->ndim && d < 4; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%" PRId64, d ? "," : "", t->dims[d]);
            for (int d = 0; d < p->ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "," : "", p->dims[d]);
            return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' has shape [%s], the model needs [%s]", path, name, got, want);
        }
        FTN_TRY(check_finite(path, name, t->data, p->count));
        memcpy(dst + p->offset, t->data, p->count * sizeof(float));
    }
    if (ftn_st_count(f) != expected) {
        for (int i = 0; i < ftn_st_count(f); i++) {
            const char *name = ftn_st_get(f, i)->name;
            bool known = !*suffix && is_bn_counter(g, name);
            for (int j = 0; j < g->n_params && !known; j++) {
                char want[FTN_PARAM_NAME_MAX + 16];
                snprintf(want, sizeof want, "%s%s", g->params[j].name, suffix);
                known = !strcmp(want, name) && (!trainable_only || g->params[j].trainable);
            }
            if (!known) return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' does not belong to this model", path, name);
        }
    }
    return FTN_OK;
}

/* The metadata every checkpoint reader checks first: the format and its version, a model name,
 * and (when the file states them) the conventions ftunet computes with. */
static ftn_status check_header(const ftn_st_file *f, const char *path)
{
    const char *format = ftn_st_meta(f, "format"), *version = ftn_st_meta(f, "format_version");
    const char *layout = ftn_st_meta(f, "layout"), *eps = ftn_st_meta(f, "bn_eps");
    if (!format || strcmp(format, CHECKPOINT_FORMAT))
        return ftn_fail(FTN_EFORMAT, "%s: not an ftunet checkpoint (metadata 'format' is %s)", path, format ? format : "absent");
    if (!version || strcmp(version, FORMAT_VERSION))
        return ftn_fail(FTN_EFORMAT, "%s: checkpoint format version %s; this build reads version %s", path,
                        version ? version : "(absent)", FORMAT_VERSION);
    if (!ftn_st_meta(f, "model")) return ftn_fail(FTN_EFORMAT, "%s: metadata has no 'model'", path);
    if (layout && strcmp(layout, "NCHW"))
        return ftn_fail(FTN_EFORMAT, "%s: metadata 'layout' = '%s'; ftunet's tensors are NCHW", path, layout);
    if (eps) { /* a network trained with another eps would predict differently here */
        char *end;
        double e = strtod(eps, &end);
        if (end == eps || *end || fabs(e - (double)FTN_BN_EPS) > 1e-9)
            return ftn_fail(FTN_EFORMAT, "%s: metadata 'bn_eps' = '%s'; ftunet's batch norm uses eps %g", path, eps,
                            (double)FTN_BN_EPS);
    }
    return FTN_OK;
}

ftn_status ftn_model_load(const char *path, ftn_model **out)
{
    *out = NULL;
    ftn_st_file *f;
    FTN_TRY(ftn_safetensors_read(path, &f));
    ftn_status s = FTN_OK;
    ftn_model *m = NULL;
    const char *model = ftn_st_meta(f, "model");
    long c = 0, h = 0, w = 0, it = 0;
    s = check_header(f, path);
    if (s == FTN_OK) s = meta_int(f, path, "channels", 1, 3, &c);
    if (s == FTN_OK) s = meta_int(f, path, "height", 16, 1 << 16, &h);
    if (s == FTN_OK) s = meta_int(f, path, "width", 16, 1 << 16, &w);
    if (s == FTN_OK && ftn_st_meta(f, "iteration")) s = meta_int(f, path, "iteration", 0, (long)(~0ul >> 1), &it);
    if (s == FTN_OK && (s = ftn_model_create(model, (int)c, (int)h, (int)w, &m)) != FTN_OK)
        s = ftn_fail_context(s, "%s", path);
    if (s == FTN_OK) {
        ftn_loss_config l = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
        const char *loss = ftn_st_meta(f, "loss"), *red = ftn_st_meta(f, "reduction");
        /* ftn_loss_parse's message names the --loss option, which the user never gave here */
        if (loss && ftn_loss_parse(loss, &l.kind) != FTN_OK)
            s = ftn_fail(FTN_EFORMAT, "%s: metadata 'loss' = '%s' is not a loss (expected dl, tl or ftl)", path, loss);
        if (s == FTN_OK) s = meta_float(f, path, "alpha", 0, 1e6, l.alpha, &l.alpha);
        if (s == FTN_OK) s = meta_float(f, path, "beta", 0, 1e6, l.beta, &l.beta);
        if (s == FTN_OK) s = meta_float(f, path, "gamma", 1e-3f, 1e3f, l.gamma, &l.gamma);
        if (s == FTN_OK) s = meta_float(f, path, "smooth", 1e-6f, 1e6, l.smooth, &l.smooth);
        if (red && !strcmp(red, "image")) l.reduction = FTN_REDUCE_IMAGE;
        m->loss = l;
        m->iteration = it;
    }
    if (s == FTN_OK) s = copy_tensors(&m->graph, f, path, "", false, m->params);
    ftn_st_file_free(f);
    if (s != FTN_OK) { ftn_model_free(m); return s; }
    *out = m;
    return FTN_OK;
}

ftn_status ftn_model_load_weights(ftn_model *m, const char *path)
{
    if (!m || !path) return ftn_fail(FTN_EINVAL, "load weights: missing argument");
    ftn_st_file *f;
    FTN_TRY(ftn_safetensors_read(path, &f));
    ftn_status s = check_header(f, path);
    const char *model = ftn_st_meta(f, "model");
    long c = 0;
    if (s == FTN_OK) s = meta_int(f, path, "channels", 1, 3, &c);
    if (s == FTN_OK && (strcmp(model, m->name) || c != m->channels))
        s = ftn_fail(FTN_EINVAL, "%s: a checkpoint of %s with %ld channel%s; this model is %s with %d channel%s", path,
                     model, c, c == 1 ? "" : "s", m->name, m->channels, m->channels == 1 ? "" : "s");
    /* into a copy first: m is unchanged unless every tensor is there with its shape */
    float *p = s == FTN_OK ? malloc(m->graph.n_param_floats * sizeof(float)) : NULL;
    if (s == FTN_OK && !p) s = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    if (s == FTN_OK) s = copy_tensors(&m->graph, f, path, "", false, p);
    if (s == FTN_OK) memcpy(m->params, p, m->graph.n_param_floats * sizeof(float));
    free(p);
    ftn_st_file_free(f);
    return s;
}

ftn_status ftn_checkpoint_crc32(const char *path, uint32_t *crc)
{
    if (!path || !crc) return ftn_fail(FTN_EINVAL, "checkpoint crc32: missing argument");
    uint32_t table[256]; /* CRC-32 (ISO-HDLC, reflected 0xEDB88320), as zlib's crc32 */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t v = i;
        for (int k = 0; k < 8; k++) v = v & 1 ? 0xEDB88320u ^ (v >> 1) : v >> 1;
        table[i] = v;
    }
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(path, (size_t)1 << 40, &data, &size));
    uint32_t v = ~0u;
    for (size_t i = 0; i < size; i++) v = table[(v ^ data[i]) & 0xff] ^ (v >> 8);
    free(data);
    *crc = ~v;
    return FTN_OK;
}

ftn_status ftn_optimizer_save(const ftn_model *m, const char *path)
{
    const ftn_graph *g = &m->graph;
    int slots = m->opt_kind == FTN_OPT_ADAM ? 2 : 1;
    ftn_st_tensor *ts = calloc((size_t)g->n_params * slots, sizeof *ts);
    char (*names)[FTN_PARAM_NAME_MAX + 16] = calloc((size_t)g->n_params * slots, sizeof *names);
    if (!ts || !names) { free(ts); free(names); return ftn_fail(FTN_ENOMEM, "%s: out of memory", path); }
    int n = 0;
    for (int slot = 0; slot < slots; slot++)
        for (int i = 0; i < g->n_params; i++) {
            const ftn_param *p = &g->params[i];
            if (!p->trainable) continue;
            snprintf(names[n], sizeof names[n], "%s%s", p->name, slot ? ".v" : ".m");
            ts[n].name = names[n];
            ts[n].ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++) ts[n].dims[d] = p->dims[d];
            ts[n].data = (slot ? m->opt_v : m->opt_m) + p->offset;
            n++;
        }
    meta md = { .n = 0 };
    meta_add(&md, "format", OPTIMIZER_FORMAT);
    meta_add(&md, "format_version", FORMAT_VERSION);
    meta_add(&md, "model", "%s", m->name);
    meta_add(&md, "optimizer", "%s", m->opt_kind == FTN_OPT_ADAM ? "adam" : "sgd");
    meta_add(&md, "iteration", "%" PRId64, m->iteration);
    ftn_status s = ftn_safetensors_write(path, ts, n, md.keys, md.values, md.n);
    free(ts);
    free(names);
    return s;
}

ftn_status ftn_optimizer_load(ftn_model *m, const char *path)
{
    ftn_st_file *f;
    FTN_TRY(ftn_safetensors_read(path, &f));
    ftn_status s = FTN_OK;
    const char *format = ftn_st_meta(f, "format"), *model = ftn_st_meta(f, "model"), *opt = ftn_st_meta(f, "optimizer");
    long it = 0;
    if (!format || strcmp(format, OPTIMIZER_FORMAT))
        s = ftn_fail(FTN_EFORMAT, "%s: not an ftunet optimiser state", path);
    else if (!model || strcmp(model, m->name))
        s = ftn_fail(FTN_EFORMAT, "%s: optimiser state of model %s, not %s", path, model ? model : "(none)", m->name);
    else if (!opt || (strcmp(opt, "sgd") && strcmp(opt, "adam")))
        s = ftn_fail(FTN_EFORMAT, "%s: unknown optimiser '%s'", path, opt ? opt : "(none)");
    if (s == FTN_OK) s = meta_int(f, path, "iteration", 0, (long)(~0ul >> 1), &it);
    if (s == FTN_OK) {
        ftn_optimizer_kind kind = !strcmp(opt, "adam") ? FTN_OPT_ADAM : FTN_OPT_SGD;
        /* check everything before changing the model */
        size_t n = m->graph.n_param_floats;
        float *mm = calloc(n, sizeof(float)), *vv = calloc(n, sizeof(float));
        if (!mm || !vv) s = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        if (s == FTN_OK && kind == FTN_OPT_SGD) s = copy_tensors(&m->graph, f, path, ".m", true, mm);
        if (s == FTN_OK && kind == FTN_OPT_ADAM) {
            for (int i = 0; s == FTN_OK && i < m->graph.n_params; i++) {
                const ftn_param *p = &m->graph.params[i];
                if (!p->trainable) continue;
                char a[FTN_PARAM_NAME_MAX + 16], b[FTN_PARAM_NAME_MAX + 16];
                snprintf(a, sizeof a, "%s.m", p->name);
                snprintf(b, sizeof b, "%s.v", p->name);
                const ftn_st_tensor *ta = ftn_st_find(f, a), *tb = ftn_st_find(f, b);
                size_t cnt = 1;
                if (ta) for (int d = 0; d < ta->ndim; d++) cnt *= (size_t)ta->dims[d];
                size_t cntb = 1;
                if (tb) for (int d = 0; d < tb->ndim; d++) cntb *= (size_t)tb->dims[d];
                if (!ta || !tb || cnt != p->count || cntb != p->count)
                    s = ftn_fail(FTN_EFORMAT, "%s: Adam state for '%s' is missing or has the wrong size", path, p->name);
                else if ((s = check_finite(path, a, ta->data, cnt)) == FTN_OK &&
                         (s = check_finite(path, b, tb->data, cnt)) == FTN_OK) {
                    memcpy(mm + p->offset, ta->data, cnt * sizeof(float));
                    memcpy(vv + p->offset, tb->data, cnt * sizeof(float));
                }
            }
        }
        if (s == FTN_OK) {
            memcpy(m->opt_m, mm, n * sizeof(float));
            memcpy(m->opt_v, vv, n * sizeof(float));
            m->opt_kind = kind;
            m->iteration = it;
        }
        free(mm);
        free(vv);
    }
    ftn_st_file_free(f);
    return s;
}
