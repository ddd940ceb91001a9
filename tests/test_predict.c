/* Prediction beyond the protocol: mirrors undone exactly (on arrays, against a function whose
 * test-time-flip average is known by hand, and through a real network against manual flips), a
 * flip-equivariant function's TTA equal to its plain map, bilinear upsampling against
 * hand-computed values, ensembles (a checkpoint with itself is itself; two of different sizes are
 * the mean of each at the original resolution), the largest 8-connected component on drawn maps,
 * and the checkpoints of run and cross-validation folders. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "protocol/evaluate.h"
#include "protocol/predict.h"
#include "testlib.h"

/* ---- the flip helper ------------------------------------------------------------------------- */

static void test_flip(void)
{
    enum { C = 2, FH = 3, FW = 4 };
    float a[C * FH * FW], b[C * FH * FW], c[C * FH * FW];
    for (int i = 0; i < C * FH * FW; i++) a[i] = (float)i;
    for (int fx = 0; fx < 2; fx++)
        for (int fy = 0; fy < 2; fy++) {
            ftn_flip_planar(a, C, FH, FW, fx, fy, b);
            int ok = 1;
            for (int k = 0; k < C; k++)
                for (int y = 0; y < FH; y++)
                    for (int x = 0; x < FW; x++)
                        ok &= b[(k * FH + y) * FW + x] == a[(k * FH + (fy ? FH - 1 - y : y)) * FW + (fx ? FW - 1 - x : x)];
            CHECK(ok, "flip x=%d y=%d misplaces pixels", fx, fy);
            ftn_flip_planar(b, C, FH, FW, fx, fy, c);
            CHECK(!memcmp(a, c, sizeof a), "flip x=%d y=%d is not its own inverse", fx, fy);
        }
}

/* ---- test-time flips on functions whose answer is known -------------------------------------- */

enum { MH = 5, MW = 6 };

/* Not flip-equivariant: out(y, x) = in(y, x + 1) (0 past the right edge). */
static ftn_status shift_left(void *user, const float *x, int n, float *out)
{
    int *calls = user;
    (*calls)++;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < MH; y++)
            for (int c = 0; c < MW; c++)
                out[(i * MH + y) * MW + c] = c + 1 < MW ? x[(i * MH + y) * MW + c + 1] : 0;
    return FTN_OK;
}

/* Flip-equivariant: the 3×3 box sum with zero padding. */
static ftn_status box3(void *user, const float *x, int n, float *out)
{
    (void)user;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < MH; y++)
            for (int c = 0; c < MW; c++) {
                float s = 0;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                        if (y + dy >= 0 && y + dy < MH && c + dx >= 0 && c + dx < MW) s += x[(i * MH + y + dy) * MW + c + dx];
                out[(i * MH + y) * MW + c] = s;
            }
    return FTN_OK;
}

static void test_tta_functions(void)
{
    float x[MH * MW], out[MH * MW], plain[MH * MW];
    uint64_t st = 3;
    for (int i = 0; i < MH * MW; i++) x[i] = (float)(tl_next(&st) % 9); /* small integers: exact sums */
    /* shift: the left–right views see in(y, x − 1) once mirrored back, the top–bottom ones
     * in(y, x + 1), so the mean is (in(y, x+1) + in(y, x−1)) / 2; without the mirror back the
     * left–right views would give in(y, W − 2 − x) */
    for (int batch = 1; batch <= 5; batch++) {
        int calls = 0;
        CHECK_OK(ftn_predict_map(shift_left, &calls, batch, x, 1, MH, MW, FTN_TTA_FLIPS, out));
        int ok = 1;
        for (int y = 0; y < MH; y++)
            for (int c = 0; c < MW; c++) {
                float r = c + 1 < MW ? x[y * MW + c + 1] : 0, l = c > 0 ? x[y * MW + c - 1] : 0;
                ok &= out[y * MW + c] == (r + l) / 2;
            }
        CHECK(ok, "batch %d: TTA of the shift is not the hand-computed mean", batch);
        int want_calls = batch >= 4 ? 1 : (4 + batch - 1) / batch;
        CHECK(calls == want_calls, "batch %d: %d calls, expected %d", batch, calls, want_calls);
    }
    int calls = 0;
    CHECK_OK(ftn_predict_map(shift_left, &calls, 4, x, 1, MH, MW, FTN_TTA_NONE, out));
    CHECK_OK(shift_left(&calls, x, 1, plain));
    CHECK(!memcmp(out, plain, sizeof out), "TTA none is not the plain map");

    /* an equivariant function: TTA equals the plain map, for a symmetric input and any other */
    float sym[MH * MW];
    for (int y = 0; y < MH; y++)
        for (int c = 0; c < MW; c++) {
            int yy = y < MH - 1 - y ? y : MH - 1 - y, cc = c < MW - 1 - c ? c : MW - 1 - c;
            sym[y * MW + c] = (float)(yy * 3 + cc);
        }
    const float *inputs[2] = { sym, x };
    for (int k = 0; k < 2; k++) {
        CHECK_OK(box3(NULL, inputs[k], 1, plain));
        CHECK_OK(ftn_predict_map(box3, NULL, 4, inputs[k], 1, MH, MW, FTN_TTA_FLIPS, out));
        CHECK(!memcmp(out, plain, sizeof out), "%s input: TTA of an equivariant map differs from the plain one",
              k ? "asymmetric" : "symmetric");
    }
    CHECK(ftn_predict_map(box3, NULL, 4, x, 1, MH, MW, (ftn_tta)7, out) == FTN_EINVAL);
}

/* ---- upsampling ------------------------------------------------------------------------------ */

static void test_upsample(void)
{
    const float src[4] = { 0, 1, 2, 3 }; /* [[0, 1], [2, 3]] */
    float dst[16];
    /* bilinear, align_corners = false: output d samples (d + 0.5)·2/4 − 0.5 = −0.25 (clamped to
     * 0), 0.25, 0.75, 1.25 (clamped to 1); the map is 2·row + col, linear, so the value is
     * 2·u_y + u_x with u = 0, 0.25, 0.75, 1 */
    const float want4[16] = { 0, 0.25f, 0.75f, 1, 0.5f, 0.75f, 1.25f, 1.5f, 1.5f, 1.75f, 2.25f, 2.5f, 2, 2.25f, 2.75f, 3 };
    CHECK_OK(ftn_upsample_prob(src, 2, 2, dst, 4, 4, FTN_UPSAMPLE_BILINEAR));
    double worst = 0;
    for (int i = 0; i < 16; i++) worst = fmax(worst, fabs(dst[i] - want4[i]));
    CHECK(worst < 1e-6, "bilinear 2x2 -> 4x4 off by %g", worst);
    /* 2×2 → 3×3: (d + 0.5)·2/3 − 0.5 = −1/6 (→ 0), 0.5, 7/6 (→ 1) */
    const float want3[9] = { 0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3 };
    CHECK_OK(ftn_upsample_prob(src, 2, 2, dst, 3, 3, FTN_UPSAMPLE_BILINEAR));
    worst = 0;
    for (int i = 0; i < 9; i++) worst = fmax(worst, fabs(dst[i] - want3[i]));
    CHECK(worst < 1e-6, "bilinear 2x2 -> 3x3 off by %g", worst);
    /* nearest: each source pixel repeated */
    const float wantn[16] = { 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3 };
    CHECK_OK(ftn_upsample_prob(src, 2, 2, dst, 4, 4, FTN_UPSAMPLE_NEAREST));
    CHECK(!memcmp(dst, wantn, sizeof wantn), "nearest 2x2 -> 4x4");
    CHECK(ftn_upsample_prob(src, 2, 2, dst, 4, 4, (ftn_upsample)9) == FTN_EINVAL);
    ftn_upsample u;
    ftn_tta t;
    CHECK(ftn_upsample_parse("bilinear", &u) == FTN_OK && u == FTN_UPSAMPLE_BILINEAR && !strcmp(ftn_upsample_name(u), "bilinear"));
    CHECK(ftn_upsample_parse("cubic", &u) == FTN_EINVAL && strstr(ftn_last_error(), "cubic"));
    CHECK(ftn_tta_parse("flips", &t) == FTN_OK && t == FTN_TTA_FLIPS && !strcmp(ftn_tta_name(t), "flips"));
    CHECK(ftn_tta_parse("flip", &t) == FTN_EINVAL);
    ftn_predict_config d = ftn_predict_default();
    CHECK(d.resize == FTN_RESIZE_NEAREST && d.tta == FTN_TTA_NONE && d.upsample == FTN_UPSAMPLE_NEAREST &&
          d.threshold == 0.5f && !d.largest_component, "defaults are not the paper's protocol");
}

/* ---- the largest component ------------------------------------------------------------------- */

static void test_largest_component(void)
{
    enum { LH = 6, LW = 8 };
    /* a diagonal of 5 (one component only with 8-neighbours; with 4 it is 5 single pixels and
     * the 2×2 square would win), the square of 4, a bar of 2 */
    const uint8_t drawn[LH * LW] = {
        1, 0, 0, 0, 0, 0, 1, 1,
        0, 1, 0, 0, 0, 0, 1, 1,
        0, 0, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 0,
        0, 0, 0, 0, 1, 0, 0, 1,
        0, 0, 0, 0, 0, 0, 0, 1,
    };
    uint8_t m[LH * LW];
    memcpy(m, drawn, sizeof m);
    size_t kept = 99;
    CHECK_OK(ftn_largest_component(m, LH, LW, &kept));
    int ok = kept == 5;
    for (int y = 0; y < LH; y++)
        for (int x = 0; x < LW; x++) ok &= m[y * LW + x] == (x == y && x < 5);
    CHECK(ok, "largest component: kept %zu, not the diagonal", kept);
    /* equal sizes: the first reached in row-major order stays */
    const uint8_t tie[3 * 5] = { 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    memcpy(m, tie, sizeof tie);
    CHECK_OK(ftn_largest_component(m, 3, 5, &kept));
    CHECK(kept == 2 && m[3] && m[4] && !m[5] && !m[6], "tie: kept %zu", kept);
    memset(m, 0, sizeof m);
    CHECK_OK(ftn_largest_component(m, LH, LW, &kept));
    CHECK(kept == 0, "empty mask");
    /* through ftn_predict_mask: threshold, then the component */
    float prob[LH * LW];
    for (int i = 0; i < LH * LW; i++) prob[i] = drawn[i] ? 0.6f : 0.4f;
    prob[0] = 0.5f; /* not > 0.5: the diagonal is now 4 long, tied with the square, and first */
    ftn_predict_config cfg = ftn_predict_default();
    size_t area;
    CHECK_OK(ftn_predict_mask(prob, LH, LW, &cfg, m, &area));
    CHECK(area == 10 && !m[0] && m[1 * LW + 1] && m[7], "threshold only: area %zu", area);
    cfg.largest_component = 1;
    CHECK_OK(ftn_predict_mask(prob, LH, LW, &cfg, m, &area));
    CHECK(area == 4 && m[6] && m[7] && m[LW + 6] && m[LW + 7] && !m[LW + 1], "largest component after the threshold: %zu", area);
}

/* ---- real networks --------------------------------------------------------------------------- */

static ftn_image random_image(int w, int h, uint64_t seed)
{
    ftn_image im = { w, h, 1, malloc(sizeof(float) * (size_t)w * h) };
    tl_fill_uniform(im.data, (size_t)w * h, &seed, 0, 1);
    return im;
}

static void test_networks(void)
{
    ftn_model *a, *b;
    CHECK_OK(ftn_model_create("attn-unet", 1, 32, 32, &a));
    CHECK_OK(ftn_model_init(a, 4));
    CHECK_OK(ftn_model_create("attn-unet", 1, 48, 48, &b));
    CHECK_OK(ftn_model_init(b, 5));
    /* biases and BN shifts away from zero, so that the outputs are not near-constant */
    for (int i = 0; i < ftn_model_tensor_count(a); i++) {
        const char *nm = ftn_model_tensor_name(a, i);
        size_t len = strlen(nm);
        if (len < 5 || strcmp(nm + len - 5, ".bias")) continue;
        int d[4], nd;
        float *t = ftn_model_tensor(a, i, d, &nd);
        for (int k = 0; k < d[0]; k++) t[k] = 0.05f * (float)((k * 7 + i) % 5 - 2);
    }
    ftn_session *s1, *s4, *sb;
    CHECK_OK(ftn_session_create(a, 1, FTN_ENGINE_REF, &s1));
    CHECK_OK(ftn_session_create(a, 4, FTN_ENGINE_REF, &s4));
    CHECK_OK(ftn_session_create(b, 1, FTN_ENGINE_REF, &sb));
    ftn_predict_config cfg = ftn_predict_default();
    float *p = NULL, *q = NULL, *r = NULL;
    size_t np;

    /* the default is the protocol's prediction, bit for bit (not at the model's size) */
    ftn_image odd = random_image(40, 30, 11);
    np = 40 * 30;
    CHECK_OK(ftn_predict_image(s1, &odd, FTN_RESIZE_NEAREST, &p));
    CHECK_OK(ftn_predict_ensemble(&s1, 1, &odd, &cfg, &q));
    CHECK(p && q && !memcmp(p, q, np * sizeof(float)), "the default differs from ftn_predict_image");
    /* a checkpoint with itself is itself, exactly */
    ftn_session *twice[2] = { s1, s4 };
    CHECK_OK(ftn_predict_ensemble(twice, 2, &odd, &cfg, &r));
    CHECK(r && tl_rel_max_diff(r, p, np) < 1e-6, "an ensemble of one model with itself: %g", r ? tl_rel_max_diff(r, p, np) : -1);
    ftn_session *same[2] = { s1, s1 };
    free(r);
    CHECK_OK(ftn_predict_ensemble(same, 2, &odd, &cfg, &r));
    CHECK(r && !memcmp(r, p, np * sizeof(float)), "an ensemble of one session twice is not the single prediction");
    free(r);
    /* two sizes: each network at its own input, averaged at the original resolution */
    float *pb = NULL;
    CHECK_OK(ftn_predict_image(sb, &odd, FTN_RESIZE_NEAREST, &pb));
    ftn_session *two[2] = { s1, sb };
    CHECK_OK(ftn_predict_ensemble(two, 2, &odd, &cfg, &r));
    int ok = r && pb;
    for (size_t i = 0; ok && i < np; i++) ok = r[i] == (p[i] + pb[i]) / 2;
    CHECK(ok, "a 32x32 and a 48x48 network: not the mean of their predictions");
    CHECK(p && pb && memcmp(p, pb, np * sizeof(float)), "the two networks predict alike: the check above is void");
    free(r);
    free(pb);
    free(p);
    free(q);

    /* flips through a real network against manual flips of the image (at the model's size, so
     * that resizing plays no part): unflip(predict(flip(image))) averaged over the four views */
    ftn_image im = random_image(32, 32, 12);
    np = 32 * 32;
    float *sum = calloc(np, sizeof(float)), *back = malloc(np * sizeof(float));
    for (int v = 0; v < 4; v++) {
        int fx = v & 1, fy = v >> 1;
        ftn_image f = { 32, 32, 1, malloc(np * sizeof(float)) };
        ftn_flip_planar(im.data, 1, 32, 32, fx, fy, f.data);
        float *pv = NULL;
        CHECK_OK(ftn_predict_image(s1, &f, FTN_RESIZE_NEAREST, &pv));
        if (pv) {
            ftn_flip_planar(pv, 1, 32, 32, fx, fy, back);
            for (size_t i = 0; i < np; i++) sum[i] += back[i];
        }
        free(pv);
        ftn_image_free(&f);
    }
    for (size_t i = 0; i < np; i++) sum[i] *= 0.25f;
    cfg.tta = FTN_TTA_FLIPS;
    CHECK_OK(ftn_predict_ensemble(&s1, 1, &im, &cfg, &p));
    CHECK_OK(ftn_predict_ensemble(&s4, 1, &im, &cfg, &q)); /* the four views in one forward */
    CHECK(p && tl_rel_max_diff(p, sum, np) < 1e-6, "TTA (batch 1) vs manual flips: %g", p ? tl_rel_max_diff(p, sum, np) : -1);
    CHECK(q && tl_rel_max_diff(q, sum, np) < 1e-6, "TTA (batch 4) vs manual flips: %g", q ? tl_rel_max_diff(q, sum, np) : -1);
    cfg.tta = FTN_TTA_NONE;
    CHECK_OK(ftn_predict_ensemble(&s1, 1, &im, &cfg, &r));
    CHECK(p && r && tl_rel_max_diff(p, r, np) > 1e-4, "the network is flip-invariant here: the TTA check is void");
    free(p);
    free(q);
    free(r);
    /* bilinear upsampling of the network's map, as ftn_upsample_prob does it */
    cfg.upsample = FTN_UPSAMPLE_BILINEAR;
    CHECK_OK(ftn_predict_ensemble(&s1, 1, &odd, &cfg, &p));
    float *x = malloc(sizeof(float) * np), *up = malloc(sizeof(float) * 40 * 30), *near = NULL;
    CHECK_OK(ftn_preprocess_image(&odd, 1, 32, 32, FTN_RESIZE_NEAREST, x));
    CHECK_OK(ftn_session_forward(s1, x, 0));
    CHECK_OK(ftn_upsample_prob(ftn_session_output(s1, ftn_model_output_count(a) - 1, NULL), 32, 32, up, 30, 40,
                               FTN_UPSAMPLE_BILINEAR));
    CHECK(p && !memcmp(p, up, sizeof(float) * 40 * 30), "--upsample bilinear is not the bilinear map of the network's output");
    CHECK_OK(ftn_predict_image(s1, &odd, FTN_RESIZE_NEAREST, &near));
    CHECK(p && near && memcmp(p, near, sizeof(float) * 40 * 30), "bilinear equals nearest: the check above is void");
    free(near);
    free(up);
    free(x);
    free(p);
    p = NULL;
    CHECK(ftn_predict_ensemble(NULL, 1, &im, &cfg, &p) == FTN_EINVAL && !p);
    CHECK(ftn_predict_ensemble(&s1, 0, &im, &cfg, &p) == FTN_EINVAL);
    free(sum);
    free(back);
    ftn_image_free(&im);
    ftn_image_free(&odd);
    ftn_session_free(s1);
    ftn_session_free(s4);
    ftn_session_free(sb);
    ftn_model_free(a);
    ftn_model_free(b);
}

/* ---- checkpoints of folders -------------------------------------------------------------------- */

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) fclose(f);
}

static void test_checkpoint_paths(void)
{
    const char *dir = tl_tmpdir("predict");
    char cv[512], p[1024];
    snprintf(cv, sizeof cv, "%s", tl_path(dir, "cv"));
    const char *folds[] = { "fold-10", "fold-2", "fold-1" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", cv, folds[i]);
        CHECK_OK(ftn_mkdirs(p));
        snprintf(p, sizeof p, "%s/%s/best.safetensors", cv, folds[i]);
        touch(p);
    }
    snprintf(p, sizeof p, "%s/summary.json", cv);
    touch(p);
    char **paths = NULL;
    int n = 0;
    CHECK_OK(ftn_checkpoint_paths(cv, &paths, &n));
    CHECK(n == 3, "%d checkpoints in the cv folder", n);
    const char *want[] = { "fold-1/", "fold-2/", "fold-10/" };
    for (int i = 0; i < n && i < 3; i++) CHECK(strstr(paths[i], want[i]) != NULL, "fold %d: %s", i, paths[i]);
    ftn_paths_free(paths, n);
    /* an unfinished fold is an error, not a smaller ensemble */
    snprintf(p, sizeof p, "%s/fold-3", cv);
    CHECK_OK(ftn_mkdirs(p));
    CHECK(ftn_checkpoint_paths(cv, &paths, &n) == FTN_EINVAL && n == 0 && strstr(ftn_last_error(), "fold-3"),
          "%s", ftn_last_error());
    /* a run folder; a file; a folder that is neither */
    snprintf(p, sizeof p, "%s/run", dir);
    CHECK_OK(ftn_mkdirs(p));
    snprintf(p, sizeof p, "%s/run/best.safetensors", dir);
    touch(p);
    CHECK_OK(ftn_checkpoint_paths(tl_path(dir, "run"), &paths, &n));
    CHECK(n == 1 && !strcmp(paths[0], p), "run folder");
    ftn_paths_free(paths, n);
    CHECK_OK(ftn_checkpoint_paths(p, &paths, &n));
    CHECK(n == 1 && !strcmp(paths[0], p), "a file");
    ftn_paths_free(paths, n);
    snprintf(p, sizeof p, "%s/other", dir);
    CHECK_OK(ftn_mkdirs(p));
    CHECK(ftn_checkpoint_paths(p, &paths, &n) == FTN_EINVAL && strstr(ftn_last_error(), "neither"), "%s", ftn_last_error());
    CHECK(ftn_checkpoint_paths(tl_path(dir, "missing"), &paths, &n) == FTN_EIO);
}

int main(void)
{
    test_flip();
    test_tta_functions();
    test_upsample();
    test_largest_component();
    test_networks();
    test_checkpoint_paths();
    return tl_finish();
}
