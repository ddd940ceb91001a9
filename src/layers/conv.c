/* 2-D convolution, NCHW, weight [co,ci,k,k], bias [co]. Padding is implicit zeros: out-of-range
 * input positions are skipped by bounds checks. */
#include "layers/layers.h"

void ftn_conv2d_forward(const float *x, int n, int ci, int h, int w,
                    const float *wt, const float *b, int co, int k, int stride, int pad,
                    float *y, int ho, int wo)
{
    /* One (image, output channel) plane per iteration: each writes only its own plane. */
    #pragma omp parallel for collapse(2) schedule(static)
    for (int in = 0; in < n; in++) {
        for (int oc = 0; oc < co; oc++) {
            float *yp = y + ((size_t)in * co + oc) * ho * wo;
            const float bias = b ? b[oc] : 0.0f;
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    float acc = bias;
                    for (int ic = 0; ic < ci; ic++) {
                        const float *xp = x + ((size_t)in * ci + ic) * h * w;
                        const float *wp = wt + ((size_t)oc * ci + ic) * k * k;
                        for (int ky = 0; ky < k; ky++) {
                            int iy = oy * stride - pad + ky;
                            if (iy < 0 || iy >= h) continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ix = ox * stride - pad + kx;
                                if (ix < 0 || ix >= w) continue;
                                acc += xp[(size_t)iy * w + ix] * wp[ky * k + kx];
                            }
                        }
                    }
                    yp[(size_t)oy * wo + ox] = acc;
                }
            }
        }
    }
}

void ftn_conv2d_backward(const float *x, const float *wt, const float *dy,
                     int n, int ci, int h, int w, int co, int k, int stride, int pad, int ho, int wo,
                     float *dx, float *dw, float *db)
{
    /* db, dw: one output channel per iteration, so no two threads touch the same element. */
    if (db) {
        #pragma omp parallel for schedule(static)
        for (int oc = 0; oc < co; oc++) {
            double s = 0.0;
            for (int in = 0; in < n; in++) {
                const float *dyp = dy + ((size_t)in * co + oc) * ho * wo;
                for (int i = 0; i < ho * wo; i++) s += dyp[i];
            }
            db[oc] += (float)s;
        }
    }
    if (dw) {
        #pragma omp parallel for schedule(static)
        for (int oc = 0; oc < co; oc++) {
            for (int ic = 0; ic < ci; ic++) {
                for (int ky = 0; ky < k; ky++) {
                    for (int kx = 0; kx < k; kx++) {
                        double s = 0.0;
                        for (int in = 0; in < n; in++) {
                            const float *xp = x + ((size_t)in * ci + ic) * h * w;
                            const float *dyp = dy + ((size_t)in * co + oc) * ho * wo;
                            for (int oy = 0; oy < ho; oy++) {
                                int iy = oy * stride - pad + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int ox = 0; ox < wo; ox++) {
                                    int ix = ox * stride - pad + kx;
                                    if (ix < 0 || ix >= w) continue;
                                    s += (double)dyp[(size_t)oy * wo + ox] * xp[(size_t)iy * w + ix];
                                }
                            }
                        }
                        dw[(((size_t)oc * ci + ic) * k + ky) * k + kx] += (float)s;
                    }
                }
            }
        }
    }
    if (dx) {
        /* One (image, input channel) plane per iteration; the forward's scatter pattern is
         * replayed in reverse: every (output, tap) pair adds dy·w to the input it read. */
        #pragma omp parallel for collapse(2) schedule(static)
        for (int in = 0; in < n; in++) {
            for (int ic = 0; ic < ci; ic++) {
                float *dxp = dx + ((size_t)in * ci + ic) * h * w;
                for (int oc = 0; oc < co; oc++) {
                    const float *dyp = dy + ((size_t)in * co + oc) * ho * wo;
                    const float *wp = wt + ((size_t)oc * ci + ic) * k * k;
                    for (int oy = 0; oy < ho; oy++) {
                        for (int ox = 0; ox < wo; ox++) {
                            const float g = dyp[(size_t)oy * wo + ox];
                            for (int ky = 0; ky < k; ky++) {
                                int iy = oy * stride - pad + ky;
                                if (iy < 0 || iy >= h) continue;
                                for (int kx = 0; kx < k; kx++) {
                                    int ix = ox * stride - pad + kx;
                                    if (ix < 0 || ix >= w) continue;
                                    dxp[(size_t)iy * w + ix] += g * wp[ky * k + kx];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
