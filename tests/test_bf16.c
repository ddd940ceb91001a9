/* Mixed precision (FTN_PRECISION_BF16) against float32 on the paper's network: outputs close,
 * gradients pointing the same way, and training still learns the synthetic disc. On a CPU
 * without AVX512-BF16 it checks that bf16 sessions are refused, then reports itself skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "testlib.h"

enum { S = 32 };

/* One training forward + loss + backward; returns the outputs (concatenated) and gradients. */
static void fwd_bwd(ftn_model *m, ftn_precision p, const float *x, const float *mask, int n,
                    float **outs, size_t *n_out, float **grads)
{
    ftn_session *s = NULL;
    CHECK_OK(ftn_session_create_ex(m, n, FTN_ENGINE_DNNL, p, &s));
    if (!s) return;
    CHECK(ftn_session_precision(s) == p, "session precision");
    /* the running statistics move in a training forward: start each run from the same ones */
    size_t np = m->graph.n_param_floats;
    float *saved = malloc(np * sizeof(float));
    memcpy(saved, m->params, np * sizeof(float));
    CHECK_OK(ftn_session_forward(s, x, 1));
    ftn_loss_config lc = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    float loss;
    CHECK_OK(ftn_session_loss(s, mask, &lc, &loss));
    CHECK_OK(ftn_session_backward(s));
    int k = ftn_model_output_count(m);
    size_t total = 0;
    for (int i = 0; i < k; i++) {
        ftn_shape sh;
        ftn_session_output(s, i, &sh);
        total += (size_t)sh.n * sh.c * sh.h * sh.w;
    }
    *outs = malloc(total * sizeof(float));
    *n_out = 0;
    for (int i = 0; i < k; i++) {
        ftn_shape sh;
        const float *o = ftn_session_output(s, i, &sh);
        size_t c = (size_t)sh.n * sh.c * sh.h * sh.w;
        memcpy(*outs + *n_out, o, c * sizeof(float));
        *n_out += c;
    }
    *grads = malloc(np * sizeof(float));
    memcpy(*grads, m->grads, np * sizeof(float));
    memcpy(m->params, saved, np * sizeof(float));
    free(saved);
    ftn_session_free(s);
}

static float round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Per trainable tensor whose fp32 gradient is not ~0: cosine similarity of b's gradient with
 * a's; returns the mean and the worst. */
static int cosines(const ftn_graph *g, const float *ga, const float *gb, double *mean, double *worst, const char **wname)
{
    double gmax = 0, sum = 0;
    int n = 0;
    for (int i = 0; i < g->n_params; i++)
        if (g->params[i].trainable)
            for (size_t j = 0; j < g->params[i].count; j++) gmax = fmax(gmax, fabs(ga[g->params[i].offset + j]));
    *worst = 1;
    for (int i = 0; i < g->n_params; i++) {
        const ftn_param *p = &g->params[i];
        if (!p->trainable) continue;
        double dot = 0, a2 = 0, b2 = 0, amax = 0;
        for (size_t j = 0; j < p->count; j++) {
            double a = ga[p->offset + j], b = gb[p->offset + j];
            dot += a * b; a2 += a * a; b2 += b * b; amax = fmax(amax, fabs(a));
        }
        if (amax < 1e-3 * gmax) continue; /* e.g. conv biases before BN */
        double cs = dot / (sqrt(a2) * sqrt(b2) + 1e-30);
        sum += cs;
        n++;
        if (cs < *worst) { *worst = cs; *wname = p->name; }
    }
    *mean = n ? sum / n : 0;
    return n;
}

/* At 2×1×32×32 the network is badly conditioned (BN over 8 values per channel at the centre):
 * rounding only the input to bf16 already moves fp32 gradients by a few percent. So bf16 is
 * measured against fp32, next to that yardstick (fp32 on the bf16-rounded input). */
static void compare(void)
{
    enum { N = 2 };
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &m));
    ftn_model_init(m, 7);
    float *x = malloc(N * S * S * sizeof(float)), *xr = malloc(N * S * S * sizeof(float));
    float *mask = malloc(N * S * S * sizeof(float));
    tl_disc_batch(x, mask, N, 11);
    for (int i = 0; i < N * S * S; i++) xr[i] = round_bf16(x[i]);
    float *o32 = NULL, *o16 = NULL, *or = NULL, *g32 = NULL, *g16 = NULL, *gr = NULL;
    size_t n32 = 0, n16 = 0, nr = 0;
    fwd_bwd(m, FTN_PRECISION_FP32, x, mask, N, &o32, &n32, &g32);
    fwd_bwd(m, FTN_PRECISION_FP32, xr, mask, N, &or, &nr, &gr);
    fwd_bwd(m, FTN_PRECISION_BF16, x, mask, N, &o16, &n16, &g16);
    if (!o32 || !o16 || !or || n32 != n16 || n32 != nr) { CHECK(0, "no outputs"); goto done; }
    double maxd = 0, maxr = 0, meand = 0;
    for (size_t i = 0; i < n32; i++) {
        maxd = fmax(maxd, fabs((double)o32[i] - o16[i]));
        maxr = fmax(maxr, fabs((double)o32[i] - or[i]));
        meand += fabs((double)o32[i] - o16[i]);
    }
    meand /= (double)n32;
    printf("outputs vs fp32: bf16 max |diff| %.4f (mean %.5f); fp32 on bf16-rounded input %.4f\n", maxd, meand, maxr);
    CHECK(maxd < 5e-2, "outputs differ by %g", maxd);
    CHECK(meand < 5e-3, "outputs differ by %g on average", meand);

    double mean16, worst16, meanr, worstr;
    const char *w16 = "", *wr = "";
    int n = cosines(&m->graph, g32, g16, &mean16, &worst16, &w16);
    cosines(&m->graph, g32, gr, &meanr, &worstr, &wr);
    printf("gradient cosine vs fp32 over %d tensors: bf16 mean %.4f, worst %.4f (%s); "
           "fp32 on bf16-rounded input mean %.4f, worst %.4f (%s)\n", n, mean16, worst16, w16, meanr, worstr, wr);
    CHECK(n > 50, "only %d gradients compared", n);
    CHECK(mean16 > 0.95, "bf16 gradients: mean cosine %.4f", mean16);
    CHECK(worst16 > 0.8, "bf16 gradients: worst cosine %.4f (%s)", worst16, w16);
done:
    free(o32); free(o16); free(or); free(g32); free(g16); free(gr); free(x); free(xr); free(mask);
    ftn_model_free(m);
}

static void train(void)
{
    enum { N = 8 };
    int steps = getenv("STEPS") ? atoi(getenv("STEPS")) : 40;
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &m));
    ftn_model_init(m, 1);
    ftn_session *s = NULL;
    CHECK_OK(ftn_session_create_ex(m, N, FTN_ENGINE_DNNL, FTN_PRECISION_BF16, &s));
    float *x = malloc(N * S * S * sizeof(float)), *mask = malloc(N * S * S * sizeof(float));
    tl_disc_batch(x, mask, N, 42);
    ftn_loss_config lc = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config oc = ftn_optimizer_default(FTN_OPT_SGD);
    oc.lr = 0.05f;
    float first = 0, loss = 0;
    for (int i = 0; s && i < steps; i++) {
        CHECK_OK(ftn_train_step(s, x, mask, &lc, &oc, &loss));
        if (i == 0) first = loss;
    }
    if (s) {
        CHECK_OK(ftn_session_forward(s, x, 1));
        const float *p = ftn_session_output(s, ftn_model_output_count(m) - 1, NULL);
        ftn_metrics r = ftn_metrics_compute(p, mask, (size_t)N * S * S, 0.5f);
        printf("bf16: loss %.4f -> %.4f, batch DSC %.3f after %d steps\n", first, loss, r.dsc, steps);
        CHECK(loss < 0.5f * first, "bf16: loss %g -> %g", first, loss);
        CHECK(r.dsc > 0.9, "bf16: batch DSC %g after %d steps", r.dsc, steps);
        /* Inference of the bf16-trained weights at either precision. The running statistics
         * are re-estimated on the training batch first: after 40 steps at momentum 0.99 they are
         * still 67 % their start values (mean 0, variance 1), and inference with them is chaotic.
         * Measured over seeds 1–8 on AMX and on AVX512-BF16 without AMX
         * (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), fp32 inference DSC with the spec's statistics
         * ranged 0.11–0.99 (0.02 on an AMD EPYC), fp32-trained weights 0.74–0.95; once
         * re-estimated it was 0.992–0.999 everywhere, fp32 and bf16 inference within 0.0005
         * (one pixel) of each other and of the training-mode DSC. 0.01 is 20× that. */
        if (s) ftn_session_free(s);
        s = NULL;
        CHECK_OK(ftn_bn_recalibrate(m, x, N, N, FTN_ENGINE_DNNL, FTN_PRECISION_FP32));
        double dsc[2] = { -1, -2 };
        ftn_precision ps[2] = { FTN_PRECISION_FP32, FTN_PRECISION_BF16 };
        for (int k = 0; k < 2; k++) {
            ftn_session *e = NULL;
            CHECK_OK(ftn_session_create_ex(m, N, FTN_ENGINE_DNNL, ps[k], &e));
            if (!e) break;
            CHECK_OK(ftn_session_forward(e, x, 0));
            const float *pe = ftn_session_output(e, ftn_model_output_count(m) - 1, NULL);
            dsc[k] = ftn_metrics_compute(pe, mask, (size_t)N * S * S, 0.5f).dsc;
            ftn_session_free(e);
        }
        printf("inference DSC of the bf16-trained weights, BN statistics re-estimated: fp32 %.4f, bf16 %.4f "
               "(training mode %.4f)\n", dsc[0], dsc[1], r.dsc);
        CHECK(fabs(dsc[0] - dsc[1]) < 0.01, "inference fp32 %g vs bf16 %g", dsc[0], dsc[1]);
        CHECK(fabs(dsc[0] - r.dsc) < 0.01, "inference fp32 %g vs training mode %g", dsc[0], r.dsc);
    }
    free(x); free(mask);
    ftn_session_free(s);
    ftn_model_free(m);
}

int main(void)
{
    ftn_set_threads(2);
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet", 1, S, S, &m));
    /* the reference engine is fp32 only, everywhere */
    ftn_session *s = NULL;
    CHECK(ftn_session_create_ex(m, 2, FTN_ENGINE_REF, FTN_PRECISION_BF16, &s) == FTN_EUNSUPPORTED && !s,
          "bf16 on the reference engine must be refused");
    ftn_precision p;
    CHECK(ftn_precision_parse("bf16", &p) == FTN_OK && p == FTN_PRECISION_BF16, "parse bf16");
    CHECK(ftn_precision_parse("fp16", &p) == FTN_EINVAL, "parse fp16");
    if (ftn_precision_check(FTN_ENGINE_DNNL, FTN_PRECISION_BF16) != FTN_OK) {
        const char *why = ftn_last_error();
        CHECK(ftn_session_create_ex(m, 2, FTN_ENGINE_DNNL, FTN_PRECISION_BF16, &s) == FTN_EUNSUPPORTED && !s,
              "bf16 without AVX512-BF16 must be refused");
        printf("SKIP: %s\n", why);
        ftn_model_free(m);
        int rc = tl_finish();
        return rc ? rc : TL_SKIPPED; /* CTest reports it as skipped, with this reason in its log */
    }
    ftn_model_free(m);
    compare();
    train();
    return tl_finish();
}
