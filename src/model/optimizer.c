/* Optimisers: the default configurations and ftn_model_step (Keras-style SGD with momentum, and
 * Adam) over the model's parameter, gradient and moment buffers. */
#include "model/model.h"

#include <math.h>

#include "core/error.h"

ftn_optimizer_config ftn_optimizer_default(ftn_optimizer_kind kind)
{
    if (kind == FTN_OPT_ADAM) return (ftn_optimizer_config){ FTN_OPT_ADAM, 1e-3f, 0.0f, 0.0f, 0.9f, 0.999f, 1e-7f };
    return (ftn_optimizer_config){ FTN_OPT_SGD, 0.01f, 0.9f, 1e-6f, 0.9f, 0.999f, 1e-7f };
}

ftn_status ftn_model_step(ftn_model *m, const ftn_optimizer_config *o)
{
    if (!(o->lr > 0) || o->momentum < 0 || o->momentum >= 1 || o->decay < 0)
        return ftn_fail(FTN_EINVAL, "optimiser: lr %g, momentum %g, decay %g out of range", o->lr, o->momentum, o->decay);
    if (m->iteration > 0 && o->kind != m->opt_kind)
        return ftn_fail(FTN_EINVAL, "optimiser: the model's state was made by another optimiser");
    m->opt_kind = o->kind;
    /* Keras: lr_t = lr / (1 + decay · iterations), iterations counted before this update */
    double lr = o->lr / (1.0 + (double)o->decay * (double)m->iteration);
    m->iteration++;
    double bc = 1.0;
    if (o->kind == FTN_OPT_ADAM)
        bc = sqrt(1.0 - pow(o->beta2, (double)m->iteration)) / (1.0 - pow(o->beta1, (double)m->iteration));
    for (int i = 0; i < m->graph.n_params; i++) {
        const ftn_param *p = &m->graph.params[i];
        if (!p->trainable) continue;
        float *w = m->params + p->offset, *g = m->grads + p->offset;
        float *v1 = m->opt_m + p->offset, *v2 = m->opt_v + p->offset;
        size_t n = p->count;
        if (o->kind == FTN_OPT_SGD) {
            /* Keras SGD: v = momentum·v − lr·g; w += v */
            float mo = o->momentum, lrf = (float)lr;
            #pragma omp parallel for if (n > 65536) schedule(static)
            for (size_t j = 0; j < n; j++) {
                v1[j] = mo * v1[j] - lrf * g[j];
                w[j] += v1[j];
            }
        } else {
            float b1 = o->beta1, b2 = o->beta2, eps = o->eps, lrt = (float)(lr * bc);
            #pragma omp parallel for if (n > 65536) schedule(static)
            for (size_t j = 0; j < n; j++) {
                v1[j] = b1 * v1[j] + (1 - b1) * g[j];
                v2[j] = b2 * v2[j] + (1 - b2) * g[j] * g[j];
                w[j] -= lrt * v1[j] / (sqrtf(v2[j]) + eps);
            }
        }
    }
    return FTN_OK;
}
