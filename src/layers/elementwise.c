/* Element-wise sum and the channel-broadcast product used by the attention gate. */
#include "layers/layers.h"

void ftn_add_forward(const float *a, const float *b, size_t count, float *y)
{
    for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

void ftn_add_backward(const float *dy, size_t count, float *da, float *db)
{
    /* da and db may be the same buffer (y = a + a): two separate passes then add 2·dy. */
    if (da)
        for (size_t i = 0; i < count; i++) da[i] += dy[i];
    if (db)
        for (size_t i = 0; i < count; i++) db[i] += dy[i];
}

void ftn_mul_bcast_forward(const float *x, const float *a, int n, int c, int hw, float *y)
{
    for (int in = 0; in < n; in++) {
        const float *ap = a + (size_t)in * hw;
        for (int ch = 0; ch < c; ch++) {
            const size_t off = ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) y[off + i] = x[off + i] * ap[i];
        }
    }
}

void ftn_mul_bcast_backward(const float *x, const float *a, const float *dy, int n, int c, int hw,
                        float *dx, float *da)
{
    for (int in = 0; in < n; in++) {
        const float *ap = a + (size_t)in * hw;
        for (int ch = 0; ch < c; ch++) {
            const size_t off = ((size_t)in * c + ch) * hw;
            if (dx)
                for (int i = 0; i < hw; i++) dx[off + i] += dy[off + i] * ap[i];
            /* a was broadcast over channels, so its gradient sums over them. */
            if (da)
                for (int i = 0; i < hw; i++) da[(size_t)in * hw + i] += dy[off + i] * x[off + i];
        }
    }
}
