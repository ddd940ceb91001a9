#include <stdio.h>

#include "networks/networks.h"

/* Parameter names are "<prefix>.<part>"; this joins them. */
static const char *sub(char *buf, size_t len, const char *prefix, const char *part)
{
    snprintf(buf, len, "%s.%s", prefix, part);
    return buf;
}

int ftn_conv_block(ftn_graph *g, const char *name, int x, int co, block_norm norm)
{
    char b[FTN_PARAM_NAME_MAX];
    x = ftn_g_conv(g, sub(b, sizeof b, name, "conv1"), x, co, 3, 1, 1);
    if (norm) x = ftn_g_bn(g, sub(b, sizeof b, name, "bn1"), x);
    x = ftn_g_relu(g, x);
    x = ftn_g_conv(g, sub(b, sizeof b, name, "conv2"), x, co, 3, 1, 1);
    if (norm) x = ftn_g_bn(g, sub(b, sizeof b, name, "bn2"), x);
    return ftn_g_relu(g, x);
}

int ftn_conv_single(ftn_graph *g, const char *name, int x, int co)
{
    char b[FTN_PARAM_NAME_MAX];
    return ftn_g_relu(g, ftn_g_conv(g, sub(b, sizeof b, name, "conv1"), x, co, 3, 1, 1));
}

int ftn_gating_signal(ftn_graph *g, const char *name, int x)
{
    char b[FTN_PARAM_NAME_MAX];
    int c = x >= 0 ? g->tensors[x].shape.c : 0;
    x = ftn_g_conv(g, sub(b, sizeof b, name, "conv"), x, c, 1, 1, 0);
    x = ftn_g_bn(g, sub(b, sizeof b, name, "bn"), x);
    return ftn_g_relu(g, x);
}

int ftn_attention_gate(ftn_graph *g, const char *name, int x, int gate, int inter)
{
    char b[FTN_PARAM_NAME_MAX];
    if (x < 0 || gate < 0 || g->error) return -1;
    int cx = g->tensors[x].shape.c;
    int hx = g->tensors[x].shape.h, hg = g->tensors[gate].shape.h;
    int stride = (hx / 2) / hg; /* 1 or 2: brings phi(g) to theta(x)'s size */

    int t = ftn_g_conv(g, sub(b, sizeof b, name, "theta"), x, inter, 2, 2, 0);
    int u = ftn_g_conv(g, sub(b, sizeof b, name, "phi"), gate, inter, 1, 1, 0);
    u = ftn_g_deconv(g, sub(b, sizeof b, name, "up"), u, inter, 3, stride, 1, stride - 1);
    int a = ftn_g_relu(g, ftn_g_add(g, t, u));
    a = ftn_g_sigmoid(g, ftn_g_conv(g, sub(b, sizeof b, name, "psi"), a, 1, 1, 1, 0));
    a = ftn_g_up2x(g, a);
    int y = ftn_g_mul(g, x, a);
    y = ftn_g_conv(g, sub(b, sizeof b, name, "out"), y, cx, 1, 1, 0);
    return ftn_g_bn(g, sub(b, sizeof b, name, "bn"), y);
}

int ftn_up_transposed(ftn_graph *g, const char *name, int x, int co)
{
    return ftn_g_deconv(g, name, x, co, 3, 2, 1, 1);
}

int ftn_sigmoid_head(ftn_graph *g, const char *name, int x)
{
    return ftn_g_sigmoid(g, ftn_g_conv(g, name, x, 1, 1, 1, 0));
}
