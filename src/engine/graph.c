#include "engine/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"

void ftn_graph_init(ftn_graph *g)
{
    memset(g, 0, sizeof *g);
    g->input = -1;
}

void ftn_graph_free(ftn_graph *g)
{
    free(g->tensors);
    free(g->ops);
    free(g->params);
    free(g->labels);
    ftn_graph_init(g);
}

static int oom(ftn_graph *g)
{
    if (!g->error) g->error = ftn_fail(FTN_ENOMEM, "network graph: out of memory");
    return -1;
}

static int bad(ftn_graph *g, const char *what, const char *label)
{
    if (!g->error) g->error = ftn_fail(FTN_EINVAL, "network graph: %s at %s", what, label ? label : "?");
    return -1;
}

static bool valid(const ftn_graph *g, int t) { return t >= 0 && t < g->n_tensors; }

static int new_tensor(ftn_graph *g, ftn_shape s, int producer)
{
    if (ftn_grow(&g->tensors, &g->cap_tensors, (size_t)g->n_tensors + 1, sizeof(ftn_tensor)) != FTN_OK) return oom(g);
    g->tensors[g->n_tensors] = (ftn_tensor){ .shape = s, .producer = producer, .consumers = 0 };
    return g->n_tensors++;
}

/* Copies an op label into the graph's label storage; offsets are fixed up into pointers once the
 * storage stops moving (labels are read through ftn_op.label only after building). */
static const char *keep_label(ftn_graph *g, const char *label)
{
    size_t len = strlen(label) + 1;
    if (g->labels_len + len > g->labels_cap) {
        size_t cap = g->labels_cap ? g->labels_cap * 2 : 4096;
        while (cap < g->labels_len + len) cap *= 2;
        char *p = realloc(g->labels, cap);
        if (!p) return NULL;
        /* re-point earlier labels into the moved storage */
        for (int i = 0; i < g->n_ops; i++)
            if (g->ops[i].label) g->ops[i].label = p + (g->ops[i].label - g->labels);
        g->labels = p;
        g->labels_cap = cap;
    }
    char *dst = g->labels + g->labels_len;
    memcpy(dst, label, len);
    g->labels_len += len;
    return dst;
}

static int add_op(ftn_graph *g, ftn_op op, ftn_shape out_shape, const char *label)
{
    if (g->error) return -1;
    if (ftn_grow(&g->ops, &g->cap_ops, (size_t)g->n_ops + 1, sizeof(ftn_op)) != FTN_OK) return oom(g);
    op.label = keep_label(g, label);
    if (!op.label) return oom(g);
    int t = new_tensor(g, out_shape, g->n_ops);
    if (t < 0) return -1;
    op.out = t;
    for (int i = 0; i < op.n_in; i++) g->tensors[op.in[i]].consumers++;
    g->ops[g->n_ops++] = op;
    return t;
}

static int add_param(ftn_graph *g, const char *prefix, const char *suffix, int ndim, const int *dims,
                     bool trainable, ftn_param_init init, int fan_in, int fan_out)
{
    if (ftn_grow(&g->params, &g->cap_params, (size_t)g->n_params + 1, sizeof(ftn_param)) != FTN_OK) return oom(g);
    ftn_param *p = &g->params[g->n_params];
    memset(p, 0, sizeof *p);
    int len = snprintf(p->name, sizeof p->name, "%s.%s", prefix, suffix);
    if (len < 0 || len >= (int)sizeof p->name) return bad(g, "parameter name too long", prefix);
    for (int i = 0; i < g->n_params; i++)
        if (!strcmp(g->params[i].name, p->name)) return bad(g, "duplicate parameter name", p->name);
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) { p->dims[i] = dims[i]; p->count *= (size_t)dims[i]; }
    p->offset = g->n_param_floats;
    p->trainable = trainable;
    p->init = init;
    p->fan_in = fan_in;
    p->fan_out = fan_out;
    g->n_param_floats += p->count;
    return g->n_params++;
}

static ftn_op op_of(ftn_op_kind kind, int n_in, const int *in)
{
    ftn_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.n_in = n_in;
    for (int i = 0; i < n_in; i++) op.in[i] = in[i];
    op.weight = op.bias = op.running_mean = op.running_var = -1;
    return op;
}

int ftn_g_input(ftn_graph *g, ftn_shape shape)
{
    if (g->error) return -1;
    if (g->input >= 0) return bad(g, "second network input", "input");
    int t = new_tensor(g, shape, -1);
    if (t >= 0) g->input = t;
    return t;
}

int ftn_g_conv(ftn_graph *g, const char *name, int x, int co, int k, int stride, int pad)
{
    if (g->error) return -1;
    if (!valid(g, x)) return bad(g, "missing input", name);
    ftn_shape s = g->tensors[x].shape;
    if ((s.h + 2 * pad - k) % stride || (s.w + 2 * pad - k) % stride)
        return bad(g, "convolution does not tile its input", name);
    int ci = s.c;
    int wdims[4] = { co, ci, k, k }, bdims[1] = { co };
    ftn_op op = op_of(FTN_OP_CONV, 1, &x);
    op.k = k; op.stride = stride; op.pad = pad;
    op.weight = add_param(g, name, "weight", 4, wdims, true, FTN_INIT_GLOROT, ci * k * k, co * k * k);
    op.bias = add_param(g, name, "bias", 1, bdims, true, FTN_INIT_ZERO, 0, 0);
    ftn_shape o = { s.n, co, (s.h + 2 * pad - k) / stride + 1, (s.w + 2 * pad - k) / stride + 1 };
    return add_op(g, op, o, name);
}

int ftn_g_deconv(ftn_graph *g, const char *name, int x, int co, int k, int stride, int pad, int outpad)
{
    if (g->error) return -1;
    if (!valid(g, x)) return bad(g, "missing input", name);
    ftn_shape s = g->tensors[x].shape;
    int ci = s.c;
    /* PyTorch ConvTranspose2d layout [ci, co, k, k]; Keras counts fans the same way for Glorot
     * (fan_in = co·k·k as the kernel's "input" side, fan_out = ci·k·k) — the sum is symmetric. */
    int wdims[4] = { ci, co, k, k }, bdims[1] = { co };
    ftn_op op = op_of(FTN_OP_DECONV, 1, &x);
    op.k = k; op.stride = stride; op.pad = pad; op.outpad = outpad;
    op.weight = add_param(g, name, "weight", 4, wdims, true, FTN_INIT_GLOROT, co * k * k, ci * k * k);
    op.bias = add_param(g, name, "bias", 1, bdims, true, FTN_INIT_ZERO, 0, 0);
    ftn_shape o = { s.n, co, (s.h - 1) * stride - 2 * pad + k + outpad, (s.w - 1) * stride - 2 * pad + k + outpad };
    return add_op(g, op, o, name);
}

int ftn_g_bn(ftn_graph *g, const char *name, int x)
{
    if (g->error) return -1;
    if (!valid(g, x)) return bad(g, "missing input", name);
    ftn_shape s = g->tensors[x].shape;
    int d[1] = { s.c };
    ftn_op op = op_of(FTN_OP_BN, 1, &x);
    op.weight = add_param(g, name, "weight", 1, d, true, FTN_INIT_ONE, 0, 0);
    op.bias = add_param(g, name, "bias", 1, d, true, FTN_INIT_ZERO, 0, 0);
    op.running_mean = add_param(g, name, "running_mean", 1, d, false, FTN_INIT_ZERO, 0, 0);
    op.running_var = add_param(g, name, "running_var", 1, d, false, FTN_INIT_ONE, 0, 0);
    return add_op(g, op, s, name);
}

static int unary(ftn_graph *g, ftn_op_kind kind, int x, ftn_shape o)
{
    if (g->error) return -1;
    if (!valid(g, x)) return bad(g, "missing input", ftn_op_kind_name(kind));
    return add_op(g, op_of(kind, 1, &x), o, ftn_op_kind_name(kind));
}

int ftn_g_relu(ftn_graph *g, int x) { return valid(g, x) ? unary(g, FTN_OP_RELU, x, g->tensors[x].shape) : bad(g, "missing input", "relu"); }
int ftn_g_sigmoid(ftn_graph *g, int x) { return valid(g, x) ? unary(g, FTN_OP_SIGMOID, x, g->tensors[x].shape) : bad(g, "missing input", "sigmoid"); }

static int pool(ftn_graph *g, ftn_op_kind kind, int x)
{
    if (!valid(g, x)) return bad(g, "missing input", ftn_op_kind_name(kind));
    ftn_shape s = g->tensors[x].shape;
    if (s.h % 2 || s.w % 2) return bad(g, "pooling an odd-sized tensor", ftn_op_kind_name(kind));
    return unary(g, kind, x, (ftn_shape){ s.n, s.c, s.h / 2, s.w / 2 });
}

int ftn_g_maxpool2(ftn_graph *g, int x) { return pool(g, FTN_OP_MAXPOOL2, x); }
int ftn_g_avgpool2(ftn_graph *g, int x) { return pool(g, FTN_OP_AVGPOOL2, x); }

int ftn_g_up2x(ftn_graph *g, int x)
{
    if (!valid(g, x)) return bad(g, "missing input", "up2x");
    ftn_shape s = g->tensors[x].shape;
    return unary(g, FTN_OP_UP2X, x, (ftn_shape){ s.n, s.c, s.h * 2, s.w * 2 });
}

int ftn_g_add(ftn_graph *g, int a, int b)
{
    if (g->error) return -1;
    if (!valid(g, a) || !valid(g, b)) return bad(g, "missing input", "add");
    ftn_shape sa = g->tensors[a].shape, sb = g->tensors[b].shape;
    if (memcmp(&sa, &sb, sizeof sa)) return bad(g, "adding tensors of different shapes", "add");
    int in[2] = { a, b };
    return add_op(g, op_of(FTN_OP_ADD, 2, in), sa, "add");
}

int ftn_g_mul(ftn_graph *g, int x, int a)
{
    if (g->error) return -1;
    if (!valid(g, x) || !valid(g, a)) return bad(g, "missing input", "mul");
    ftn_shape sx = g->tensors[x].shape, sa = g->tensors[a].shape;
    if (sa.c != 1 || sa.n != sx.n || sa.h != sx.h || sa.w != sx.w)
        return bad(g, "multiplying by a map that is not N×1×H×W of the same size", "mul");
    int in[2] = { x, a };
    return add_op(g, op_of(FTN_OP_MUL, 2, in), sx, "mul");
}

int ftn_g_concat2(ftn_graph *g, int a, int b)
{
    if (g->error) return -1;
    if (!valid(g, a) || !valid(g, b)) return bad(g, "missing input", "concat");
    ftn_shape sa = g->tensors[a].shape, sb = g->tensors[b].shape;
    if (sa.n != sb.n || sa.h != sb.h || sa.w != sb.w) return bad(g, "concatenating tensors of different sizes", "concat");
    int in[2] = { a, b };
    return add_op(g, op_of(FTN_OP_CONCAT, 2, in), (ftn_shape){ sa.n, sa.c + sb.c, sa.h, sa.w }, "concat");
}

void ftn_g_output(ftn_graph *g, int x)
{
    if (g->error) return;
    if (!valid(g, x)) { bad(g, "missing output", "output"); return; }
    if (g->n_outputs == FTN_MAX_OUTPUTS) { bad(g, "too many outputs", "output"); return; }
    g->outputs[g->n_outputs++] = x;
}

double ftn_graph_conv_flops(const ftn_graph *g)
{
    double flops = 0;
    for (int i = 0; i < g->n_ops; i++) {
        const ftn_op *op = &g->ops[i];
        if (op->kind == FTN_OP_CONV) {
            ftn_shape o = g->tensors[op->out].shape;
            int ci = g->tensors[op->in[0]].shape.c;
            flops += 2.0 * o.n * o.c * o.h * o.w * ci * op->k * op->k;
        } else if (op->kind == FTN_OP_DECONV) {
            ftn_shape in = g->tensors[op->in[0]].shape;
            int co = g->tensors[op->out].shape.c;
            flops += 2.0 * in.n * in.c * in.h * in.w * co * op->k * op->k;
        }
    }
    return flops;
}

const char *ftn_op_kind_name(ftn_op_kind kind)
{
    static const char *names[FTN_OP_KIND_COUNT] = {
        [FTN_OP_CONV] = "conv", [FTN_OP_DECONV] = "deconv", [FTN_OP_BN] = "bn",
        [FTN_OP_RELU] = "relu", [FTN_OP_SIGMOID] = "sigmoid", [FTN_OP_MAXPOOL2] = "maxpool2",
        [FTN_OP_AVGPOOL2] = "avgpool2", [FTN_OP_UP2X] = "up2x", [FTN_OP_ADD] = "add",
        [FTN_OP_MUL] = "mul", [FTN_OP_CONCAT] = "concat",
    };
    return kind >= 0 && kind < FTN_OP_KIND_COUNT ? names[kind] : "?";
}
