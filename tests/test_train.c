/* Training works: the paper's network learns a bright disc on noise in a few dozen SGD steps, on
 * each engine; the same seed and threads give bit-identical weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "metrics/metrics.h"
#include "model.h"
#include "testlib.h"

enum { N = 8, S = 32 };

static void make_batch(float *x, float *m, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < N; i++) {
        float cy = tl_uniform(&st, 10, 22), cx = tl_uniform(&st, 10, 22), r = tl_uniform(&st, 4, 8);
        for (int y = 0; y < S; y++)
            for (int xx = 0; xx < S; xx++) {
                int in = (y - cy) * (y - cy) + (xx - cx) * (xx - cx) < r * r;
                m[(i * S + y) * S + xx] = (float)in;
                x[(i * S + y) * S + xx] = 0.35f * tl_uniform(&st, 0, 1) + (in ? 0.5f : 0.1f);
            }
    }
}

static double batch_dsc(ftn_session *s, const float *x, const float *m)
{
    ftn_session_forward(s, x, 0);
    int k = ftn_model_output_count(s->model) - 1;
    const float *p = ftn_session_output(s, k, NULL);
    ftn_metrics r = ftn_metrics_compute(p, m, (size_t)N * S * S, 0.5f);
    return r.dsc;
}

static void train(ftn_engine engine, const char *model, float *out_first_loss, float *out_last_loss, double *dsc,
                  float **weights, size_t *count)
{
    ftn_model *m;
    CHECK_OK(ftn_model_create(model, 1, S, S, &m));
    ftn_model_init(m, 1);
    ftn_session *s;
    CHECK_OK(ftn_session_create(m, N, engine, &s));
    float *x = malloc(N * S * S * 4), *mask = malloc(N * S * S * 4);
    make_batch(x, mask, 42);
    ftn_loss_config lc = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config oc = ftn_optimizer_default(FTN_OPT_SGD);
    oc.lr = 0.05f;
    float loss = 0;
    for (int step = 0; step < 40; step++) {
        CHECK_OK(ftn_train_step(s, x, mask, &lc, &oc, &loss));
        if (step == 0) *out_first_loss = loss;
    }
    *out_last_loss = loss;
    *dsc = batch_dsc(s, x, mask);
    if (weights) {
        *count = m->graph.n_param_floats;
        *weights = malloc(*count * 4);
        memcpy(*weights, m->params, *count * 4);
    }
    free(x);
    free(mask);
    ftn_session_free(s);
    ftn_model_free(m);
}

int main(void)
{
    ftn_set_threads(2);
    const ftn_engine engines[2] = { FTN_ENGINE_REF, FTN_ENGINE_DNNL };
    for (int e = 0; e < 2; e++) {
        float first, last;
        double dsc;
        float *w1, *w2;
        size_t n1, n2;
        train(engines[e], "attn-unet-mi-ds", &first, &last, &dsc, &w1, &n1);
        printf("%s: loss %.4f -> %.4f, batch DSC %.3f\n", ftn_engine_name(engines[e]), first, last, dsc);
        CHECK(last < 0.5f * first, "%s: loss %g -> %g", ftn_engine_name(engines[e]), first, last);
        CHECK(dsc > 0.9, "%s: batch DSC %g after 40 steps", ftn_engine_name(engines[e]), dsc);
        /* determinism: the same seed and thread count give bit-identical weights */
        train(engines[e], "attn-unet-mi-ds", &first, &last, &dsc, &w2, &n2);
        CHECK(n1 == n2 && !memcmp(w1, w2, n1 * 4), "%s: two runs differ", ftn_engine_name(engines[e]));
        free(w1);
        free(w2);
    }
    return tl_finish();
}
