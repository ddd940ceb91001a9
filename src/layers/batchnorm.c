/* Batch normalisation over (N, H·W) per channel; statistics are accumulated in double. */
#include "layers/layers.h"

#include <math.h>

void ftn_batchnorm_forward_train(const float *x, int n, int c, int hw, const float *gamma,
                             const float *beta, float eps, float *y, float *mean, float *var)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) s += xp[i];
        }
        const double mu = s / m;
        /* Two passes (mean, then squared deviations): no cancellation from E[x²] − E[x]². */
        double ss = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) ss += (xp[i] - mu) * (xp[i] - mu);
        }
        const double v = ss / m; /* biased: this is what training normalises with */
        const double istd = 1.0 / sqrt(v + eps);
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            float *yp = y + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++)
                yp[i] = (float)(gamma[ch] * (xp[i] - mu) * istd + beta[ch]);
        }
        if (mean) mean[ch] = (float)mu;
        if (var) var[ch] = (float)v;
    }
}

void ftn_batchnorm_forward_infer(const float *x, int n, int c, int hw, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps, float *y)
{
    for (int ch = 0; ch < c; ch++) {
        const float scale = gamma[ch] / sqrtf(running_var[ch] + eps);
        const float shift = beta[ch] - running_mean[ch] * scale;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            float *yp = y + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) yp[i] = xp[i] * scale + shift;
        }
    }
}

/* With x̂ = (x − μ)/σ and m = N·HW elements per channel, the training-mode gradient is
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/σ · (dy − dβ/m − x̂·dγ/m),
 * the last two terms coming from μ and σ² depending on x. */
void ftn_batchnorm_backward(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                        const float *mean, const float *var, float eps,
                        float *dx, float *dgamma, float *dbeta)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch];
        const double istd = 1.0 / sqrt((double)var[ch] + eps);
        double sdy = 0.0, sdyx = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            const float *dyp = dy + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) {
                sdy += dyp[i];
                sdyx += dyp[i] * (xp[i] - mu) * istd;
            }
        }
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dx) {
            const double g = gamma[ch] * istd;
            for (int in = 0; in < n; in++) {
                const float *xp = x + ((size_t)in * c + ch) * hw;
                const float *dyp = dy + ((size_t)in * c + ch) * hw;
                float *dxp = dx + ((size_t)in * c + ch) * hw;
                for (int i = 0; i < hw; i++) {
                    const double xh = (xp[i] - mu) * istd;
                    dxp[i] += (float)(g * (dyp[i] - sdy / m - xh * sdyx / m));
                }
            }
        }
    }
}

void ftn_batchnorm_update_running(const float *mean, const float *var, int c, size_t m, float momentum,
                              float *running_mean, float *running_var)
{
    /* Bessel's correction; a single element per channel has no spread to correct. */
    const double unbias = m > 1 ? (double)m / (double)(m - 1) : 1.0;
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (float)(momentum * (double)running_mean[ch] + (1.0 - momentum) * mean[ch]);
        running_var[ch] = (float)(momentum * (double)running_var[ch] +
                                  (1.0 - momentum) * var[ch] * unbias);
    }
}

/* ---- the pieces of a batch split between processes (synchronized BN, src/engine/group.c) ---- */

void ftn_batchnorm_sums(const float *x, int n, int c, int hw, double *sums)
{
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) s += xp[i];
        }
        sums[ch] = s;
    }
}

void ftn_batchnorm_sq_dev(const float *x, int n, int c, int hw, const double *mean, double *sq)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch];
        double ss = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) ss += (xp[i] - mu) * (xp[i] - mu);
        }
        sq[ch] = ss;
    }
}

void ftn_batchnorm_forward_given(const float *x, int n, int c, int hw, const float *gamma, const float *beta,
                                 const double *mean, const double *var, float eps, float *y)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], istd = 1.0 / sqrt(var[ch] + eps);
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            float *yp = y + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) yp[i] = (float)(gamma[ch] * (xp[i] - mu) * istd + beta[ch]);
        }
    }
}

void ftn_batchnorm_backward_sums(const float *x, const float *dy, int n, int c, int hw, const float *mean,
                                 const float *var, float eps, double *sums)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], istd = 1.0 / sqrt((double)var[ch] + eps);
        double sdy = 0.0, sdyx = 0.0;
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            const float *dyp = dy + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) {
                sdy += dyp[i];
                sdyx += dyp[i] * (xp[i] - mu) * istd;
            }
        }
        sums[ch] = sdy;
        sums[c + ch] = sdyx;
    }
}

void ftn_batchnorm_backward_given(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                                  const float *mean, const float *var, float eps, const double *sums, double m,
                                  float *dx)
{
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], istd = 1.0 / sqrt((double)var[ch] + eps), g = gamma[ch] * istd;
        const double sdy = sums[ch], sdyx = sums[c + ch];
        for (int in = 0; in < n; in++) {
            const float *xp = x + ((size_t)in * c + ch) * hw;
            const float *dyp = dy + ((size_t)in * c + ch) * hw;
            float *dxp = dx + ((size_t)in * c + ch) * hw;
            for (int i = 0; i < hw; i++) {
                const double xh = (xp[i] - mu) * istd;
                dxp[i] += (float)(g * (dyp[i] - sdy / m - xh * sdyx / m));
            }
        }
    }
}
