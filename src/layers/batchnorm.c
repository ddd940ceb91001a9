/* Batch normalisation over (N, H·W) per channel; statistics are accumulated in double. */
#include "layers/layers.h"

#include <math.h>

/* The per-channel passes, shared by the single-process functions and the pieces of a batch split
 * between processes below (the same arithmetic in the same order, so both give the same bits). */
static double channel_sum(const float *x, int n, int c, int hw, int ch)
{
    double s = 0.0;
    for (int in = 0; in < n; in++) {
        const float *xp = x + ((size_t)in * c + ch) * hw;
        for (int i = 0; i < hw; i++) s += xp[i];
    }
    return s;
}

static double channel_sq_dev(const float *x, int n, int c, int hw, int ch, double mu)
{
    double ss = 0.0;
    for (int in = 0; in < n; in++) {
        const float *xp = x + ((size_t)in * c + ch) * hw;
        for (int i = 0; i < hw; i++) ss += (xp[i] - mu) * (xp[i] - mu);
    }
    return ss;
}

static void channel_normalise(const float *x, int n, int c, int hw, int ch, double gamma, double beta, double mu,
                              double var, float eps, float *y)
{
    const double istd = 1.0 / sqrt(var + eps);
    for (int in = 0; in < n; in++) {
        const float *xp = x + ((size_t)in * c + ch) * hw;
        float *yp = y + ((size_t)in * c + ch) * hw;
        for (int i = 0; i < hw; i++) yp[i] = (float)(gamma * (xp[i] - mu) * istd + beta);
    }
}

void ftn_batchnorm_forward_train(const float *x, int n, int c, int hw, const float *gamma,
                             const float *beta, float eps, float *y, float *mean, float *var)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        const double mu = channel_sum(x, n, c, hw, ch) / m;
        /* Two passes (mean, then squared deviations): no cancellation from E[x²] − E[x]². */
        const double v = channel_sq_dev(x, n, c, hw, ch, mu) / m; /* biased: what training normalises with */
        channel_normalise(x, n, c, hw, ch, gamma[ch], beta[ch], mu, v, eps, y);
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

/* Σ dy and Σ dy·x̂ of channel ch */
static void channel_grad_sums(const float *x, const float *dy, int n, int c, int hw, int ch, double mu, double var,
                              float eps, double *sdy_out, double *sdyx_out)
{
    const double istd = 1.0 / sqrt(var + eps);
    double sdy = 0.0, sdyx = 0.0;
    for (int in = 0; in < n; in++) {
        const float *xp = x + ((size_t)in * c + ch) * hw;
        const float *dyp = dy + ((size_t)in * c + ch) * hw;
        for (int i = 0; i < hw; i++) {
            sdy += dyp[i];
            sdyx += dyp[i] * (xp[i] - mu) * istd;
        }
    }
    *sdy_out = sdy;
    *sdyx_out = sdyx;
}

/* dx of channel ch given the sums over the m elements of the (whole) batch */
static void channel_dx(const float *x, const float *dy, int n, int c, int hw, int ch, double gamma, double mu,
                       double var, float eps, double sdy, double sdyx, double m, float *dx)
{
    const double istd = 1.0 / sqrt(var + eps), g = gamma * istd;
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

/* With x̂ = (x − μ)/σ and m = N·HW elements per channel, the training-mode gradient is
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/σ · (dy − dβ/m − x̂·dγ/m),
 * the last two terms coming from μ and σ² depending on x. */
void ftn_batchnorm_backward(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                        const float *mean, const float *var, float eps,
                        float *dx, float *dgamma, float *dbeta)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double sdy, sdyx;
        channel_grad_sums(x, dy, n, c, hw, ch, mean[ch], var[ch], eps, &sdy, &sdyx);
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (dx) channel_dx(x, dy, n, c, hw, ch, gamma[ch], mean[ch], var[ch], eps, sdy, sdyx, m, dx);
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
    for (int ch = 0; ch < c; ch++) sums[ch] = channel_sum(x, n, c, hw, ch);
}

void ftn_batchnorm_sq_dev(const float *x, int n, int c, int hw, const double *mean, double *sq)
{
    for (int ch = 0; ch < c; ch++) sq[ch] = channel_sq_dev(x, n, c, hw, ch, mean[ch]);
}

void ftn_batchnorm_forward_given(const float *x, int n, int c, int hw, const float *gamma, const float *beta,
                                 const double *mean, const double *var, float eps, float *y)
{
    for (int ch = 0; ch < c; ch++) channel_normalise(x, n, c, hw, ch, gamma[ch], beta[ch], mean[ch], var[ch], eps, y);
}

void ftn_batchnorm_backward_sums(const float *x, const float *dy, int n, int c, int hw, const float *mean,
                                 const float *var, float eps, double *sums)
{
    for (int ch = 0; ch < c; ch++) channel_grad_sums(x, dy, n, c, hw, ch, mean[ch], var[ch], eps, &sums[ch], &sums[c + ch]);
}

void ftn_batchnorm_backward_given(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                                  const float *mean, const float *var, float eps, const double *sums, double m,
                                  float *dx)
{
    for (int ch = 0; ch < c; ch++)
        channel_dx(x, dy, n, c, hw, ch, gamma[ch], mean[ch], var[ch], eps, sums[ch], sums[c + ch], m, dx);
}
