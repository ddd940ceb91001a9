/* Channel concatenation: y[n] = [xs[0][n], xs[1][n], ...], earlier inputs' channels first. */
#include "layers/layers.h"

#include <string.h>

static int total_channels(const int *cs, int count)
{
    int ct = 0;
    for (int i = 0; i < count; i++) ct += cs[i];
    return ct;
}

void ftn_concat_forward(const float *const *xs, const int *cs, int count, int n, int hw, float *y)
{
    const int ct = total_channels(cs, count);
    for (int in = 0; in < n; in++) {
        int c0 = 0; /* first channel of input i within y */
        for (int i = 0; i < count; i++) {
            memcpy(y + ((size_t)in * ct + c0) * hw, xs[i] + (size_t)in * cs[i] * hw,
                   (size_t)cs[i] * hw * sizeof(float));
            c0 += cs[i];
        }
    }
}

void ftn_concat_backward(const float *dy, const int *cs, int count, int n, int hw, float *const *dxs)
{
    const int ct = total_channels(cs, count);
    for (int in = 0; in < n; in++) {
        int c0 = 0;
        for (int i = 0; i < count; i++) {
            if (dxs[i]) {
                const float *src = dy + ((size_t)in * ct + c0) * hw;
                float *dst = dxs[i] + (size_t)in * cs[i] * hw;
                for (size_t j = 0; j < (size_t)cs[i] * hw; j++) dst[j] += src[j];
            }
            c0 += cs[i];
        }
    }
}
