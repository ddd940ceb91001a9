/* 2×2 pooling with stride 2; output (h/2) × (w/2). */
#include "layers/layers.h"

void ftn_maxpool2_forward(const float *x, int n, int c, int h, int w, float *y)
{
    const int ho = h / 2, wo = w / 2;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * ho * wo;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                const float *q = xp + (size_t)(2 * oy) * w + 2 * ox;
                float m = q[0];
                if (q[1] > m) m = q[1];
                if (q[w] > m) m = q[w];
                if (q[w + 1] > m) m = q[w + 1];
                yp[(size_t)oy * wo + ox] = m;
            }
        }
    }
}

void ftn_maxpool2_backward(const float *x, const float *dy, int n, int c, int h, int w, float *dx)
{
    if (!dx) return;
    const int ho = h / 2, wo = w / 2;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        const float *dyp = dy + p * ho * wo;
        float *dxp = dx + p * h * w;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                /* Recompute the argmax; strict '>' keeps the first maximum in row-major order. */
                const size_t base = (size_t)(2 * oy) * w + 2 * ox;
                const size_t cand[4] = {base, base + 1, base + w, base + w + 1};
                size_t best = cand[0];
                for (int j = 1; j < 4; j++)
                    if (xp[cand[j]] > xp[best]) best = cand[j];
                dxp[best] += dyp[(size_t)oy * wo + ox];
            }
        }
    }
}

void ftn_avgpool2_forward(const float *x, int n, int c, int h, int w, float *y)
{
    const int ho = h / 2, wo = w / 2;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * ho * wo;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                const float *q = xp + (size_t)(2 * oy) * w + 2 * ox;
                yp[(size_t)oy * wo + ox] = 0.25f * (q[0] + q[1] + q[w] + q[w + 1]);
            }
        }
    }
}

void ftn_avgpool2_backward(const float *dy, int n, int c, int h, int w, float *dx)
{
    if (!dx) return;
    const int ho = h / 2, wo = w / 2;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *dyp = dy + p * ho * wo;
        float *dxp = dx + p * h * w;
        for (int oy = 0; oy < ho; oy++) {
            for (int ox = 0; ox < wo; ox++) {
                const float g = 0.25f * dyp[(size_t)oy * wo + ox];
                float *q = dxp + (size_t)(2 * oy) * w + 2 * ox;
                q[0] += g;
                q[1] += g;
                q[w] += g;
                q[w + 1] += g;
            }
        }
    }
}
