/* Transposed convolution with PyTorch ConvTranspose2d semantics: weight [ci,co,k,k], bias [co].
 * Each input pixel (iy,ix) scatters x·w into output (iy·stride − pad + ky, ix·stride − pad + kx);
 * outputs that fall outside [0,ho)×[0,wo) are dropped. The output padding is implied by ho, wo. */
#include "layers/layers.h"

void ftn_deconv2d_forward(const float *x, int n, int ci, int h, int w,
                      const float *wt, const float *b, int co, int k, int stride, int pad,
                      float *y, int ho, int wo)
{
    /* One (image, output channel) plane per iteration: the scatter stays within that plane. */
    #pragma omp parallel for collapse(2) schedule(static)
    for (int in = 0; in < n; in++) {
        for (int oc = 0; oc < co; oc++) {
            float *yp = y + ((size_t)in * co + oc) * ho * wo;
            const float bias = b ? b[oc] : 0.0f;
            for (int i = 0; i < ho * wo; i++) yp[i] = bias;
            for (int ic = 0; ic < ci; ic++) {
                const float *xp = x + ((size_t)in * ci + ic) * h * w;
                const float *wp = wt + ((size_t)ic * co + oc) * k * k;
                for (int iy = 0; iy < h; iy++) {
                    for (int ix = 0; ix < w; ix++) {
                        const float v = xp[(size_t)iy * w + ix];
                        for (int ky = 0; ky < k; ky++) {
                            int oy = iy * stride - pad + ky;
                            if (oy < 0 || oy >= ho) continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ox = ix * stride - pad + kx;
                                if (ox < 0 || ox >= wo) continue;
                                yp[(size_t)oy * wo + ox] += v * wp[ky * k + kx];
                            }
                        }
                    }
                }
            }
        }
    }
}

void ftn_deconv2d_backward(const float *x, const float *wt, const float *dy,
                       int n, int ci, int h, int w, int co, int k, int stride, int pad, int ho, int wo,
                       float *dx, float *dw, float *db)
{
    /* db, dw: one output channel per iteration (dw[ic,oc,..] for a fixed oc is that thread's). */
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
                            for (int iy = 0; iy < h; iy++) {
                                int oy = iy * stride - pad + ky;
                                if (oy < 0 || oy >= ho) continue;
                                for (int ix = 0; ix < w; ix++) {
                                    int ox = ix * stride - pad + kx;
                                    if (ox < 0 || ox >= wo) continue;
                                    s += (double)xp[(size_t)iy * w + ix] * dyp[(size_t)oy * wo + ox];
                                }
                            }
                        }
                        dw[(((size_t)ic * co + oc) * k + ky) * k + kx] += (float)s;
                    }
                }
            }
        }
    }
    if (dx) {
        /* One (image, input channel) plane per iteration: each input gathers dy·w from every
         * output it was scattered to. */
        #pragma omp parallel for collapse(2) schedule(static)
        for (int in = 0; in < n; in++) {
            for (int ic = 0; ic < ci; ic++) {
                float *dxp = dx + ((size_t)in * ci + ic) * h * w;
                for (int iy = 0; iy < h; iy++) {
                    for (int ix = 0; ix < w; ix++) {
                        float acc = 0.0f;
                        for (int oc = 0; oc < co; oc++) {
                            const float *dyp = dy + ((size_t)in * co + oc) * ho * wo;
                            const float *wp = wt + ((size_t)ic * co + oc) * k * k;
                            for (int ky = 0; ky < k; ky++) {
                                int oy = iy * stride - pad + ky;
                                if (oy < 0 || oy >= ho) continue;
                                for (int kx = 0; kx < k; kx++) {
                                    int ox = ix * stride - pad + kx;
                                    if (ox < 0 || ox >= wo) continue;
                                    acc += dyp[(size_t)oy * wo + ox] * wp[ky * k + kx];
                                }
                            }
                        }
                        dxp[(size_t)iy * w + ix] += acc;
                    }
                }
            }
        }
    }
}
