/* Element-wise activations. Backward functions take the forward OUTPUT y. */
#include "layers/layers.h"

#include <math.h>

void ftn_relu_forward(const float *x, size_t count, float *y)
{
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void ftn_relu_backward(const float *y, const float *dy, size_t count, float *dx)
{
    if (!dx) return;
    for (size_t i = 0; i < count; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

void ftn_sigmoid_forward(const float *x, size_t count, float *y)
{
    for (size_t i = 0; i < count; i++) {
        /* exp of a non-positive argument only: never overflows, and 1/(1+e) stays exact-ish. */
        if (x[i] >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        } else {
            const float e = expf(x[i]);
            y[i] = e / (1.0f + e);
        }
    }
}

void ftn_sigmoid_backward(const float *y, const float *dy, size_t count, float *dx)
{
    if (!dx) return;
    for (size_t i = 0; i < count; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}
