/* Nearest-neighbour 2× upsampling: input h × w, output 2h × 2w. */
#include "layers/layers.h"

void ftn_up2x_forward(const float *x, int n, int c, int h, int w, float *y)
{
    const int ho = 2 * h, wo = 2 * w;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * ho * wo;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++)
                yp[(size_t)oy * wo + ox] = xp[(size_t)(oy / 2) * w + ox / 2];
    }
}

void ftn_up2x_backward(const float *dy, int n, int c, int h, int w, float *dx)
{
    if (!dx) return;
    const int ho = 2 * h, wo = 2 * w;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *dyp = dy + p * ho * wo;
        float *dxp = dx + p * h * w;
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++)
                dxp[(size_t)(oy / 2) * w + ox / 2] += dyp[(size_t)oy * wo + ox];
    }
}
