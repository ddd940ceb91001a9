/*
 * The reference implementation of every layer: plain C over NCHW float32, written to be read.
 * It is the tests' oracle for the oneDNN engine and the FTUNET_ENGINE=ref fallback.
 *
 * Conventions: forward functions overwrite their output. Backward functions ACCUMULATE (+=) into
 * every gradient they are given (dx, dw, ...), so a tensor read by several layers sums its
 * gradients naturally; a NULL gradient pointer is skipped.
 */
#ifndef FTN_LAYERS_H
#define FTN_LAYERS_H

#include <stddef.h>

/* Convolution: w [co,ci,k,k], b [co]; output Ho = (H + 2·pad − k)/stride + 1. */
void ftn_conv2d_forward(const float *x, int n, int ci, int h, int w,
                    const float *wt, const float *b, int co, int k, int stride, int pad,
                    float *y, int ho, int wo);
void ftn_conv2d_backward(const float *x, const float *wt, const float *dy,
                     int n, int ci, int h, int w, int co, int k, int stride, int pad, int ho, int wo,
                     float *dx, float *dw, float *db);

/* Transposed convolution (PyTorch ConvTranspose2d): w [ci,co,k,k], b [co];
 * y[o, i·stride − pad + kk] += x[i]·w; Ho = (H − 1)·stride − 2·pad + k + outpad. */
void ftn_deconv2d_forward(const float *x, int n, int ci, int h, int w,
                      const float *wt, const float *b, int co, int k, int stride, int pad,
                      float *y, int ho, int wo);
void ftn_deconv2d_backward(const float *x, const float *wt, const float *dy,
                       int n, int ci, int h, int w, int co, int k, int stride, int pad, int ho, int wo,
                       float *dx, float *dw, float *db);

/* Batch normalisation over N,H,W per channel. Training: biased batch variance; writes the batch
 * mean and variance (biased) for backward and for the running statistics. */
void ftn_batchnorm_forward_train(const float *x, int n, int c, int hw, const float *gamma,
                             const float *beta, float eps, float *y, float *mean, float *var);
void ftn_batchnorm_forward_infer(const float *x, int n, int c, int hw, const float *gamma,
                             const float *beta, const float *running_mean,
                             const float *running_var, float eps, float *y);
void ftn_batchnorm_backward(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                        const float *mean, const float *var, float eps,
                        float *dx, float *dgamma, float *dbeta);
/* r = momentum·r + (1 − momentum)·batch; the variance is made unbiased (× m/(m−1)). */
void ftn_batchnorm_update_running(const float *mean, const float *var, int c, size_t m, float momentum,
                              float *running_mean, float *running_var);

/* The same for a batch split between processes, each holding n of its images, in the two passes
 * of a single process: this part's Σx per channel (summed over the processes: the batch mean),
 * then its Σ(x − mean)² (summed: the batch variance); forward with given (the whole batch's)
 * statistics; backward: this part's Σdy and Σdy·x̂ into sums, then dx += from the whole batch's
 * sums over its m elements per channel. */
void ftn_batchnorm_sums(const float *x, int n, int c, int hw, double *sums);
void ftn_batchnorm_sq_dev(const float *x, int n, int c, int hw, const double *mean, double *sq);
void ftn_batchnorm_forward_given(const float *x, int n, int c, int hw, const float *gamma, const float *beta,
                                 const double *mean, const double *var, float eps, float *y);
void ftn_batchnorm_backward_sums(const float *x, const float *dy, int n, int c, int hw, const float *mean,
                                 const float *var, float eps, double *sums);
void ftn_batchnorm_backward_given(const float *x, const float *dy, int n, int c, int hw, const float *gamma,
                                  const float *mean, const float *var, float eps, const double *sums, double m,
                                  float *dx);

void ftn_relu_forward(const float *x, size_t count, float *y);
void ftn_relu_backward(const float *y, const float *dy, size_t count, float *dx);     /* y: output */
void ftn_sigmoid_forward(const float *x, size_t count, float *y);
void ftn_sigmoid_backward(const float *y, const float *dy, size_t count, float *dx);  /* y: output */

/* 2×2, stride 2; output h/2 × w/2. Max pooling sends the gradient to the first maximum. */
void ftn_maxpool2_forward(const float *x, int n, int c, int h, int w, float *y);
void ftn_maxpool2_backward(const float *x, const float *dy, int n, int c, int h, int w, float *dx);
void ftn_avgpool2_forward(const float *x, int n, int c, int h, int w, float *y);
void ftn_avgpool2_backward(const float *dy, int n, int c, int h, int w, float *dx);

/* Nearest 2×: input h × w, output 2h × 2w. */
void ftn_up2x_forward(const float *x, int n, int c, int h, int w, float *y);
void ftn_up2x_backward(const float *dy, int n, int c, int h, int w, float *dx);

void ftn_add_forward(const float *a, const float *b, size_t count, float *y);
void ftn_add_backward(const float *dy, size_t count, float *da, float *db);
/* y = x ⊙ a, x N×C×HW, a N×1×HW broadcast over channels. */
void ftn_mul_bcast_forward(const float *x, const float *a, int n, int c, int hw, float *y);
void ftn_mul_bcast_backward(const float *x, const float *a, const float *dy, int n, int c, int hw,
                        float *dx, float *da);

/* Channel concatenation of `count` inputs with channels cs[i], each N×cs[i]×HW. */
void ftn_concat_forward(const float *const *xs, const int *cs, int count, int n, int hw, float *y);
void ftn_concat_backward(const float *dy, const int *cs, int count, int n, int hw, float *const *dxs);

#endif
