/* ftn_bn_recalibrate: the first BN layer's running statistics must equal the sample-weighted
 * average of its batches' statistics, computed here independently from a direct convolution;
 * the engines must agree on every layer; weights must not move; the variant over the caller's
 * sessions must give the same and leave them as it found them. Also the zero-debiased running
 * statistics of train --bn-debias (ftn_bn_debiased_momentum). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "testlib.h"

enum { N = 5, B = 2, S = 32 };

static float *tensor(ftn_model *m, const char *name)
{
    int dims[4], nd, i = ftn_model_tensor_find(m, name);
    CHECK(i >= 0, "no tensor %s", name);
    return i >= 0 ? ftn_model_tensor(m, i, dims, &nd) : NULL;
}

/* enc1.conv1 (3×3, pad 1, 1 → co channels) of image x, output channel c, by its definition */
static double conv_at(const float *w, const float *bias, const float *x, int c, int y, int xx)
{
    double acc = bias[c];
    for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
            int sy = y + ky - 1, sx = xx + kx - 1;
            if (sy >= 0 && sy < S && sx >= 0 && sx < S) acc += (double)w[(c * 3 + ky) * 3 + kx] * x[sy * S + sx];
        }
    return acc;
}

/* enc1.conv1's per-channel mean and unbiased variance over nb images starting at x */
static void batch_stats(ftn_model *m, const float *x, int nb, int co, double *mean, double *var)
{
    const float *w = tensor(m, "enc1.conv1.weight"), *b = tensor(m, "enc1.conv1.bias");
    for (int c = 0; c < co; c++) {
        double s = 0, s2 = 0, cnt = (double)nb * S * S;
        for (int i = 0; i < nb; i++)
            for (int y = 0; y < S; y++)
                for (int xx = 0; xx < S; xx++) {
                    double v = conv_at(w, b, x + (size_t)i * S * S, c, y, xx);
                    s += v, s2 += v * v;
                }
        mean[c] = s / cnt;
        var[c] = (s2 / cnt - mean[c] * mean[c]) * cnt / (cnt - 1);
    }
}

static void first_layer_expected(ftn_model *m, const float *x, int co, double *mean, double *var)
{
    double *bm = malloc(sizeof(double) * (size_t)co), *bv = malloc(sizeof(double) * (size_t)co);
    for (int c = 0; c < co; c++) mean[c] = var[c] = 0;
    for (int i0 = 0; i0 < N; i0 += B) {
        int nb = N - i0 < B ? N - i0 : B;
        batch_stats(m, x + (size_t)i0 * S * S, nb, co, bm, bv);
        for (int c = 0; c < co; c++) mean[c] += bm[c] * nb / N, var[c] += bv[c] * nb / N;
    }
    free(bm), free(bv);
}

/* worst relative difference of enc1.bn1's running statistics from (mean, var) */
static double first_layer_error(ftn_model *m, int co, const double *mean, const double *var)
{
    const float *rm = tensor(m, "enc1.bn1.running_mean"), *rv = tensor(m, "enc1.bn1.running_var");
    double worst = 0;
    for (int c = 0; rm && rv && c < co; c++) {
        double dm = fabs(rm[c] - mean[c]) / (fabs(mean[c]) + 1e-3), dv = fabs(rv[c] - var[c]) / var[c];
        worst = fmax(worst, fmax(dm, dv));
    }
    return worst;
}

/* train --bn-debias: K training forwards with ftn_bn_debiased_momentum(k) must leave the running
 * statistics at the closed form Σ (1−m)·m^(K−k)·v_k / (1 − m^K) of the batches' statistics v_k —
 * Keras-on-TensorFlow-1's zero-debiased average — and the spec's default must not be that. */
static void check_debiased(const float *x, int co)
{
    enum { K = N / B };
    const double m = 0.99;
    double *v_mean = malloc(sizeof(double) * K * (size_t)co), *v_var = malloc(sizeof(double) * K * (size_t)co);
    double *want_m = malloc(sizeof(double) * (size_t)co), *want_v = malloc(sizeof(double) * (size_t)co);
    ftn_engine eng[2] = { FTN_ENGINE_REF, FTN_ENGINE_DNNL };
    for (int e = 0; e < 2; e++) {
        ftn_model *md;
        ftn_session *s;
        CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &md));
        CHECK_OK(ftn_model_init(md, 5));
        for (int k = 0; k < K; k++) batch_stats(md, x + (size_t)k * B * S * S, B, co, v_mean + k * co, v_var + k * co);
        CHECK_OK(ftn_session_create_ex(md, B, eng[e], FTN_PRECISION_FP32, &s));
        for (int k = 1; k <= K; k++) {
            CHECK_OK(ftn_session_set_bn_momentum(s, ftn_bn_debiased_momentum(k)));
            CHECK_OK(ftn_session_forward(s, x + (size_t)(k - 1) * B * S * S, 1));
            for (int c = 0; c < co; c++) {
                want_m[c] = want_v[c] = 0;
                for (int i = 1; i <= k; i++) {
                    double w = (1 - m) * pow(m, k - i) / (1 - pow(m, k));
                    want_m[c] += w * v_mean[(i - 1) * co + c], want_v[c] += w * v_var[(i - 1) * co + c];
                }
            }
            double err = first_layer_error(md, co, want_m, want_v);
            printf("%s: debiased statistics after %d updates, worst relative error %.2e\n", e ? "dnnl" : "ref", k, err);
            CHECK(err < 1e-4, "engine %d, update %d: debiased statistics off by %g", e, k, err);
        }
        CHECK(ftn_session_set_bn_momentum(s, 1.5f) == FTN_EINVAL && ftn_session_set_bn_momentum(s, NAN) == FTN_EINVAL,
              "a BN momentum outside [0, 1] was accepted");
        ftn_session_free(s);
        /* a fresh session keeps the spec's update: after one forward r = 0.99·0 + 0.01·mean */
        CHECK_OK(ftn_model_init(md, 5));
        CHECK_OK(ftn_session_create_ex(md, B, eng[e], FTN_PRECISION_FP32, &s));
        CHECK_OK(ftn_session_forward(s, x, 1));
        const float *rm = tensor(md, "enc1.bn1.running_mean");
        double worst = 0;
        for (int c = 0; rm && c < co; c++) worst = fmax(worst, fabs(rm[c] - 0.01 * v_mean[c]) / (fabs(0.01 * v_mean[c]) + 1e-5));
        CHECK(worst < 1e-3, "engine %d: the default update is not the spec's (off by %g)", e, worst);
        ftn_session_free(s);
        ftn_model_free(md);
    }
    CHECK(ftn_bn_debiased_momentum(1) == 0.0f, "the first debiased update must take the batch as it is");
    CHECK(fabs(ftn_bn_debiased_momentum(100000) - 0.99) < 1e-6, "the debiased momentum must tend to the spec's");
    free(v_mean), free(v_var), free(want_m), free(want_v);
}

int main(void)
{
    ftn_set_threads(2);
    float *x = malloc(sizeof(float) * N * S * S);
    uint64_t st = 9;
    for (int i = 0; i < N * S * S; i++) x[i] = tl_uniform(&st, 0, 1) * (i % 7 == 0 ? 0.2f : 1.0f);

    ftn_model *m[2];
    ftn_engine eng[2] = { FTN_ENGINE_REF, FTN_ENGINE_DNNL };
    for (int e = 0; e < 2; e++) {
        CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &m[e]));
        CHECK_OK(ftn_model_init(m[e], 3));
    }
    int dims[4], nd, iw = ftn_model_tensor_find(m[0], "enc1.conv1.weight");
    ftn_model_tensor(m[0], iw, dims, &nd);
    int co = dims[0];
    float *w_before = malloc(sizeof(float) * (size_t)co * 9);
    memcpy(w_before, tensor(m[0], "enc1.conv1.weight"), sizeof(float) * (size_t)co * 9);
    double *mean = malloc(sizeof(double) * (size_t)co), *var = malloc(sizeof(double) * (size_t)co);
    first_layer_expected(m[0], x, co, mean, var);

    for (int e = 0; e < 2; e++) {
        CHECK_OK(ftn_bn_recalibrate(m[e], x, N, B, eng[e], FTN_PRECISION_FP32));
        double worst = first_layer_error(m[e], co, mean, var);
        printf("%s: first BN layer vs direct computation, worst relative error %.2e\n", e ? "dnnl" : "ref", worst);
        CHECK(worst < 1e-4, "engine %d: running statistics off by %g", e, worst);
    }
    CHECK(!memcmp(w_before, tensor(m[0], "enc1.conv1.weight"), sizeof(float) * (size_t)co * 9), "weights moved");

    /* every BN layer: the engines agree, and the statistics left their initial 0 / 1 */
    int n_bn = 0, moved = 0;
    double worst = 0;
    for (int i = 0; i < ftn_model_tensor_count(m[0]); i++) {
        const char *name = ftn_model_tensor_name(m[0], i);
        if (!strstr(name, ".running_")) continue;
        int d[4], k;
        const float *a = ftn_model_tensor(m[0], i, d, &k), *b = ftn_model_tensor(m[1], i, d, &k);
        int is_var = strstr(name, "running_var") != NULL;
        n_bn += is_var;
        for (int c = 0; c < d[0]; c++) {
            worst = fmax(worst, fabs(a[c] - b[c]) / (fabs(a[c]) + 1e-2));
            moved += is_var && fabsf(a[c] - 1.0f) > 1e-3f;
        }
    }
    printf("%d BN layers: engines agree to %.2e (relative); %d running variances moved from 1\n", n_bn, worst, moved);
    CHECK(n_bn > 20 && worst < 1e-3, "%d BN layers, engines differ by %g", n_bn, worst);
    CHECK(moved > 1000, "only %d running variances moved", moved);

    /* in sessions the caller keeps (train --bn-recalibrate): the same statistics, and the sessions'
     * own momentum back afterwards — one more training forward must move the statistics exactly
     * as it does in a fresh session */
    ftn_model *k[2];
    ftn_session *full, *rest, *fresh;
    for (int j = 0; j < 2; j++) {
        CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &k[j]));
        CHECK_OK(ftn_model_init(k[j], 3));
    }
    CHECK_OK(ftn_session_create_ex(k[0], B, FTN_ENGINE_REF, FTN_PRECISION_FP32, &full));
    CHECK_OK(ftn_session_create_ex(k[0], N % B, FTN_ENGINE_REF, FTN_PRECISION_FP32, &rest));
    CHECK_OK(ftn_bn_recalibrate_sessions(full, rest, x, N));
    CHECK_OK(ftn_bn_recalibrate(k[1], x, N, B, FTN_ENGINE_REF, FTN_PRECISION_FP32));
    const char *rm_name = "enc1.bn1.running_mean";
    CHECK(!memcmp(tensor(k[0], rm_name), tensor(k[1], rm_name), sizeof(float) * (size_t)co),
          "sessions variant differs from ftn_bn_recalibrate");
    CHECK_OK(ftn_session_create_ex(k[1], B, FTN_ENGINE_REF, FTN_PRECISION_FP32, &fresh));
    CHECK_OK(ftn_session_forward(full, x, 1));
    CHECK_OK(ftn_session_forward(fresh, x, 1));
    CHECK(!memcmp(tensor(k[0], rm_name), tensor(k[1], rm_name), sizeof(float) * (size_t)co),
          "a training forward after recalibration did not use the default momentum");
    CHECK(ftn_bn_recalibrate_sessions(full, NULL, x, N) == FTN_EINVAL, "a missing rest session was accepted");
    CHECK(strstr(ftn_last_error(), "session of batch 1"), "%s", ftn_last_error());
    ftn_session_free(full), ftn_session_free(rest), ftn_session_free(fresh);
    ftn_model_free(k[0]), ftn_model_free(k[1]);

    check_debiased(x, co);

    CHECK(ftn_bn_recalibrate(m[0], x, 0, B, FTN_ENGINE_REF, FTN_PRECISION_FP32) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "bn recalibrate"), "%s", ftn_last_error());

    free(x), free(w_before), free(mean), free(var);
    ftn_model_free(m[0]);
    ftn_model_free(m[1]);
    return tl_finish();
}
