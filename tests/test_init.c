/* Initialisation as the spec (and Keras' glorot_normal) states it, checked from the tensors'
 * shapes alone: every convolution weight [a,b,kh,kw] is a normal truncated at ±2σ0 with
 * σ0 = sqrt(2/(fan_in+fan_out))/0.8796, so its standard deviation is sqrt(2/(fan_in+fan_out)),
 * fan_in + fan_out = (a+b)·kh·kw (the same for convolutions and transposed convolutions); biases
 * zero; BN weight 1, bias 0, running mean 0, running variance 1. Different seeds differ. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "testlib.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

static void check_model(const char *name)
{
    ftn_model *m, *m2;
    CHECK_OK(ftn_model_create(name, 1, 64, 64, &m));
    CHECK_OK(ftn_model_create(name, 1, 64, 64, &m2));
    CHECK_OK(ftn_model_init(m, 5));
    CHECK_OK(ftn_model_init(m2, 6));
    int convs = 0, big = 0;
    for (int i = 0; i < ftn_model_tensor_count(m); i++) {
        const char *t = ftn_model_tensor_name(m, i);
        int d[4], nd;
        const float *w = ftn_model_tensor(m, i, d, &nd), *w2 = ftn_model_tensor(m2, i, d, &nd);
        size_t n = 1;
        for (int k = 0; k < nd; k++) n *= (size_t)d[k];
        if (nd == 4) {
            convs++;
            double want = sqrt(2.0 / ((double)(d[0] + d[1]) * d[2] * d[3])), sigma0 = want / 0.87962566103423978;
            double s = 0, s2 = 0, mx = 0;
            for (size_t j = 0; j < n; j++) s += w[j], s2 += (double)w[j] * w[j], mx = fmax(mx, fabs(w[j]));
            double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
            CHECK(mx <= 2 * sigma0 * (1 + 1e-6), "%s %s: |w| reaches %g > 2σ0 = %g", name, t, mx, 2 * sigma0);
            CHECK(memcmp(w, w2, n * sizeof(float)) != 0, "%s %s: seeds 5 and 6 give the same weights", name, t);
            if (n >= 4096) { /* enough samples for tight bounds */
                big++;
                CHECK(fabs(sd / want - 1) < 0.03, "%s %s: std %g, want %g", name, t, sd, want);
                CHECK(fabs(mean) < 0.05 * want, "%s %s: mean %g", name, t, mean);
                CHECK(mx > 1.9 * sigma0, "%s %s: largest |w| %g, truncation at 2σ0 = %g not reached", name, t, mx, 2 * sigma0);
            }
        } else {
            float want = ends_with(t, "running_var") || (strstr(t, ".bn") && ends_with(t, ".weight")) ? 1.0f : 0.0f;
            int bad = 0;
            for (size_t j = 0; j < n; j++) bad += w[j] != want;
            CHECK(!bad, "%s %s: %d of %zu values are not %g", name, t, bad, n, (double)want);
        }
    }
    printf("%s: %d convolution weights (%d large enough for the std check)\n", name, convs, big);
    CHECK(convs > 10 && big > 5, "%s: %d convolutions, %d large", name, convs, big);
    ftn_model_free(m);
    ftn_model_free(m2);
}

int main(void)
{
    for (const char *const *n = ftn_model_names(); *n; n++) check_model(*n);
    return tl_finish();
}
