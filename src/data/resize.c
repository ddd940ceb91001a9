#include "data/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

const char *ftn_resize_name(ftn_resize_mode mode)
{
    switch (mode) {
    case FTN_RESIZE_NEAREST: return "nearest";
    case FTN_RESIZE_AREA: return "area";
    case FTN_RESIZE_BILINEAR: return "bilinear";
    }
    return "unknown";
}

ftn_status ftn_resize_parse(const char *name, ftn_resize_mode *mode)
{
    static const ftn_resize_mode all[3] = {FTN_RESIZE_NEAREST, FTN_RESIZE_AREA, FTN_RESIZE_BILINEAR};
    for (int i = 0; name && i < 3; i++)
        if (strcmp(name, ftn_resize_name(all[i])) == 0) {
            *mode = all[i];
            return FTN_OK;
        }
    return ftn_fail(FTN_EINVAL, "resize mode '%s': unknown (use nearest, area or bilinear)", name ? name : "(null)");
}

/* One axis: output d takes Σ weight[k]·src[index[k]] for k in [start[d], start[d+1]). */
typedef struct axis { int *start, *index; double *weight; } axis;

static void axis_free(axis *a)
{
    free(a->start);
    free(a->index);
    free(a->weight);
}

static int axis_build(axis *a, int S, int D, ftn_resize_mode mode)
{
    int per = mode == FTN_RESIZE_AREA ? S / D + 2 : 2;
    a->start = malloc(sizeof(int) * (size_t)(D + 1));
    a->index = malloc(sizeof(int) * (size_t)D * per);
    a->weight = malloc(sizeof(double) * (size_t)D * per);
    if (!a->start || !a->index || !a->weight) return -1;
    int n = 0;
    for (int d = 0; d < D; d++) {
        a->start[d] = n;
        if (mode == FTN_RESIZE_NEAREST) {
            a->index[n] = (int)(((int64_t)d * S) / D);
            a->weight[n++] = 1.0f;
        } else if (mode == FTN_RESIZE_BILINEAR) {
            double x = ((double)d + 0.5) * S / D - 0.5;
            if (x < 0) x = 0;
            if (x > S - 1) x = S - 1;
            int x0 = (int)floor(x);
            int x1 = x0 + 1 < S ? x0 + 1 : S - 1;
            double t = x - x0;
            a->index[n] = x0;
            a->weight[n++] = 1.0 - t;
            if (x1 != x0 && t > 0) {
                a->index[n] = x1;
                a->weight[n++] = t;
            } else {
                a->weight[n - 1] = 1.0f;
            }
        } else {
            /* [d·S/D, (d+1)·S/D) in source units; in units of 1/D the bounds are integers. */
            int64_t lo = (int64_t)d * S, hi = (int64_t)(d + 1) * S;
            for (int64_t s = lo / D; s * D < hi; s++) {
                int64_t a0 = s * D > lo ? s * D : lo, a1 = (s + 1) * D < hi ? (s + 1) * D : hi;
                if (a1 <= a0) continue;
                a->index[n] = (int)s;
                a->weight[n++] = (double)(a1 - a0) / S;
            }
        }
    }
    a->start[D] = n;
    return 0;
}

ftn_status ftn_resize(const float *src, int sh, int sw, int c, float *dst, int dh, int dw, ftn_resize_mode mode)
{
    if (!src || !dst || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0 || c <= 0)
        return ftn_fail(FTN_EINVAL, "resize: invalid sizes %dx%dx%d -> %dx%d", sh, sw, c, dh, dw);
    if (mode != FTN_RESIZE_NEAREST && mode != FTN_RESIZE_AREA && mode != FTN_RESIZE_BILINEAR)
        return ftn_fail(FTN_EINVAL, "resize: unknown mode %d", (int)mode);
    if (sh == dh && sw == dw) {
        memcpy(dst, src, sizeof(float) * (size_t)sh * sw * c);
        return FTN_OK;
    }
    axis ax = {0}, ay = {0};
    float *tmp = malloc(sizeof(float) * (size_t)sh * dw * c);
    if (!tmp || axis_build(&ax, sw, dw, mode) || axis_build(&ay, sh, dh, mode)) {
        free(tmp);
        axis_free(&ax);
        axis_free(&ay);
        return ftn_fail(FTN_ENOMEM, "resize: out of memory (%dx%d -> %dx%d)", sh, sw, dh, dw);
    }
    /* horizontal pass: sh × dw × c */
    for (int y = 0; y < sh; y++) {
        const float *row = src + (size_t)y * sw * c;
        float *o = tmp + (size_t)y * dw * c;
        for (int x = 0; x < dw; x++)
            for (int k = 0; k < c; k++) {
                double acc = 0;
                for (int j = ax.start[x]; j < ax.start[x + 1]; j++) acc += ax.weight[j] * row[(size_t)ax.index[j] * c + k];
                o[(size_t)x * c + k] = (float)acc;
            }
    }
    /* vertical pass */
    size_t rowlen = (size_t)dw * c;
    for (int y = 0; y < dh; y++) {
        float *o = dst + (size_t)y * rowlen;
        for (size_t i = 0; i < rowlen; i++) {
            double acc = 0;
            for (int j = ay.start[y]; j < ay.start[y + 1]; j++) acc += ay.weight[j] * tmp[(size_t)ay.index[j] * rowlen + i];
            o[i] = (float)acc;
        }
    }
    free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return FTN_OK;
}
