/* Training works: the paper's network learns a bright disc on noise in a few dozen SGD steps, on
 * each engine; the same seed and threads give bit-identical weights. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "testlib.h"

enum { N = 8, S = 32 };

/* DSC of the batch under batch statistics (a training-mode forward): after a few dozen steps
 * BN's running statistics (momentum 0.99, as the reference) still remember their start. */
static double batch_dsc(ftn_session *s, const float *x, const float *m)
{
    ftn_session_forward(s, x, 1);
    int k = ftn_model_output_count(ftn_session_model(s)) - 1;
    const float *p = ftn_session_output(s, k, NULL);
    ftn_metrics r = ftn_metrics_compute(p, m, (size_t)N * S * S, 0.5f);
    return r.dsc;
}

static void train(ftn_engine engine, int steps, float *out_first_loss, float *out_last_loss, double *dsc,
                  float **weights, size_t *count)
{
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &m));
    ftn_model_init(m, 1);
    ftn_session *s;
    CHECK_OK(ftn_session_create(m, N, engine, &s));
    float *x = malloc(N * S * S * 4), *mask = malloc(N * S * S * 4);
    tl_disc_batch(x, mask, N, 42);
    ftn_loss_config lc = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config oc = ftn_optimizer_default(FTN_OPT_SGD);
    oc.lr = getenv("LR") ? (float)atof(getenv("LR")) : 0.05f;
    float loss = 0;
    for (int step = 0; step < steps; step++) {
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
    int steps = getenv("STEPS") ? atoi(getenv("STEPS")) : 40;
    float first, last;
    double dsc;
    float *w1, *w2;
    size_t n1, n2;
    /* oneDNN: learns the disc */
    train(FTN_ENGINE_DNNL, steps, &first, &last, &dsc, &w1, &n1);
    printf("dnnl: loss %.4f -> %.4f, batch DSC %.3f after %d steps\n", first, last, dsc, steps);
    CHECK(last < 0.5f * first, "dnnl: loss %g -> %g", first, last);
    CHECK(dsc > 0.9, "dnnl: batch DSC %g after %d steps", dsc, steps);
    /* determinism: the same seed and thread count give bit-identical weights */
    train(FTN_ENGINE_DNNL, steps, &first, &last, &dsc, &w2, &n2);
    CHECK(n1 == n2 && !memcmp(w1, w2, n1 * 4), "dnnl: two runs differ");
    free(w1);
    free(w2);
    /* the reference engine is slow: a few steps, loss going down, determinism */
    train(FTN_ENGINE_REF, 3, &first, &last, &dsc, &w1, &n1);
    CHECK(last < first, "ref: loss %g -> %g", first, last);
    train(FTN_ENGINE_REF, 3, &first, &last, &dsc, &w2, &n2);
    CHECK(n1 == n2 && !memcmp(w1, w2, n1 * 4), "ref: two runs differ");
    free(w1);
    free(w2);
    return tl_finish();
}
