/* Data augmentation (ftunet_protocol.h, "augmentation"): hand-computed geometric cases (flips,
 * quarter turns), identities, image/mask alignment after every geometric transform, intensity
 * transforms, determinism across calls, orders and threads, the JSON form, option errors; and a
 * timing of preset strong printed for information (not asserted). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "data/augment.h"
#include "testlib.h"

#define AT(p, c, y, x, h, w) ((p)[((size_t)(c) * (h) + (y)) * (w) + (x)])

/* distinct values in [0, 1]: every pixel of every channel its own */
static void fill_ramp(float *img, int ch, int h, int w)
{
    int n = ch * h * w;
    for (int i = 0; i < n; i++) img[i] = (float)(i + 1) / (float)(n + 1);
}

/* a 0/1 mask with a few irregular pixels, so that any permutation shows */
static void fill_mask(float *m, int h, int w)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) m[y * w + x] = ((x * 7 + y * 3) % 5 < 2) ? 1.0f : 0.0f;
}

static ftn_augment_config only(void) { return ftn_augment_default(); }

static void test_none_untouched(void)
{
    ftn_augment_config c;
    CHECK_OK(ftn_augment_preset("none", &c));
    CHECK(ftn_augment_is_identity(&c));
    enum { CH = 3, H = 9, W = 11 };
    float img[CH * H * W], mask[H * W], img0[CH * H * W], mask0[H * W];
    /* values a transform would change (outside [0, 1], a NaN): nothing may read them into math */
    fill_ramp(img, CH, H, W);
    img[0] = 7.5f, img[1] = -3.0f, img[2] = NAN;
    fill_mask(mask, H, W);
    mask[5] = 0.25f;
    memcpy(img0, img, sizeof img), memcpy(mask0, mask, sizeof mask);
    CHECK_OK(ftn_augment_sample(&c, 1, 1, 0, img, CH, H, W, mask, NULL));
    CHECK(!memcmp(img, img0, sizeof img) && !memcmp(mask, mask0, sizeof mask), "preset none changed the data");
    CHECK_OK(ftn_augment_batch(&c, 1, 1, NULL, 1, img, CH, H, W, mask));
    CHECK(!memcmp(img, img0, sizeof img) && !memcmp(mask, mask0, sizeof mask), "batch with none changed the data");
}

/* probabilities 1 with every range at the identity, and the strong ranges with probability 0 */
static void test_identity_parameters(void)
{
    ftn_augment_config id = only();
    id.p_rotate = id.p_scale = id.p_aniso = id.p_translate = id.p_elastic = 1;
    id.p_brightness = id.p_contrast = id.p_gamma = id.p_noise = id.p_blur = 1;
    id.elastic_sigma = 8; /* alpha 0: off */
    CHECK(ftn_augment_is_identity(&id), "ranges at the identity are off");
    ftn_augment_config zero;
    CHECK_OK(ftn_augment_preset("strong", &zero));
    zero.p_flip_x = zero.p_flip_y = zero.p_rot90 = zero.p_rotate = zero.p_scale = zero.p_aniso = 0;
    zero.p_translate = zero.p_elastic = zero.p_brightness = zero.p_contrast = zero.p_gamma = 0;
    zero.p_noise = zero.p_blur = 0;
    CHECK(ftn_augment_is_identity(&zero), "probabilities 0 are off");
    /* one by one, each with probability 1 at its identity: gamma 1, noise 0, blur sigma 0, ... */
    const char *single[][2] = { { "p_gamma", "gamma_min=1,gamma_max=1" }, { "p_noise", "noise=0" },
                                { "p_blur", "blur_min=0,blur_max=0" }, { "p_rotate", "rotate=0" },
                                { "p_scale", "scale_min=1,scale_max=1" }, { "p_translate", "translate=0" },
                                { "p_brightness", "brightness=0" }, { "p_contrast", "contrast=0" },
                                { "p_elastic", "elastic_alpha=0" } };
    enum { CH = 2, H = 16, W = 12 };
    float img[CH * H * W], mask[H * W], img0[CH * H * W], mask0[H * W];
    fill_ramp(img, CH, H, W), fill_mask(mask, H, W);
    memcpy(img0, img, sizeof img), memcpy(mask0, mask, sizeof mask);
    for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) {
        ftn_augment_config c = only();
        CHECK_OK(ftn_augment_set(&c, single[i][0], "1"));
        CHECK_OK(ftn_augment_set_list(&c, single[i][1]));
        for (int s = 0; s < 4; s++) CHECK_OK(ftn_augment_sample(&c, 3, 1, s, img, CH, H, W, mask, NULL));
        CHECK(!memcmp(img, img0, sizeof img) && !memcmp(mask, mask0, sizeof mask), "%s with %s changed the data",
              single[i][0], single[i][1]);
    }
    for (int s = 0; s < 4; s++) {
        CHECK_OK(ftn_augment_sample(&id, 3, 2, s, img, CH, H, W, mask, NULL));
        CHECK_OK(ftn_augment_sample(&zero, 3, 2, s, img, CH, H, W, mask, NULL));
    }
    CHECK(!memcmp(img, img0, sizeof img) && !memcmp(mask, mask0, sizeof mask), "identity parameters changed the data");
}

/* flips on a 7 wide, 5 high, 2-channel image: pixel (x, y) goes to (W−1−x, y) / (x, H−1−y) */
static void test_flips(void)
{
    enum { CH = 2, H = 5, W = 7 };
    float img[CH * H * W], mask[H * W], in[CH * H * W], min[H * W];
    fill_ramp(in, CH, H, W), fill_mask(min, H, W);
    for (int axis = 0; axis < 2; axis++) {
        ftn_augment_config c = only();
        if (axis == 0) c.p_flip_x = 1;
        else c.p_flip_y = 1;
        memcpy(img, in, sizeof img), memcpy(mask, min, sizeof mask);
        CHECK_OK(ftn_augment_sample(&c, 5, 1, 0, img, CH, H, W, mask, NULL));
        /* by hand: the known pixel (x 1, y 2) of channel 1 */
        float known = AT(in, 1, 2, 1, H, W);
        if (axis == 0) CHECK(AT(img, 1, 2, 5, H, W) == known, "flip_x: (1,2) should be at (5,2)");
        else CHECK(AT(img, 1, 2, 1, H, W) == known, "flip_y: (1,2) should stay at (1,2) (middle row)");
        if (axis == 1) CHECK(AT(img, 1, 4, 1, H, W) == AT(in, 1, 0, 1, H, W), "flip_y: row 0 goes to row 4");
        int exact = 1;
        for (int ch = 0; ch < CH; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int sx = axis == 0 ? W - 1 - x : x, sy = axis == 1 ? H - 1 - y : y;
                    exact &= AT(img, ch, y, x, H, W) == AT(in, ch, sy, sx, H, W);
                    if (ch == 0) exact &= mask[y * W + x] == min[sy * W + sx];
                }
        CHECK(exact, "flip %s is not an exact mirror of image and mask", axis ? "y" : "x");
    }
}

/* quarter turns on a square: each output is one of the three exact rotations, the 90° one being
 * the transpose then a left–right flip: out(x, y) = in(row W−1−x, column y); all three occur */
static void test_rot90(void)
{
    enum { CH = 1, N = 6 };
    float in[N * N], min[N * N], img[N * N], mask[N * N];
    fill_ramp(in, CH, N, N), fill_mask(min, N, N);
    ftn_augment_config c = only();
    c.p_rot90 = 1;
    int seen[4] = { 0 };
    for (int s = 0; s < 24; s++) {
        memcpy(img, in, sizeof img), memcpy(mask, min, sizeof mask);
        CHECK_OK(ftn_augment_sample(&c, 9, 1, s, img, CH, N, N, mask, NULL));
        int which = 0;
        for (int k = 1; k <= 3 && !which; k++) {
            int same = 1;
            for (int y = 0; y < N; y++)
                for (int x = 0; x < N; x++) {
                    int r, col; /* the source of (x, y) after k clockwise quarter turns */
                    if (k == 1) r = N - 1 - x, col = y;          /* transpose, flip x */
                    else if (k == 2) r = N - 1 - y, col = N - 1 - x; /* both flips */
                    else r = x, col = N - 1 - y;                  /* transpose, flip y */
                    same &= img[y * N + x] == in[r * N + col] && mask[y * N + x] == min[r * N + col];
                }
            if (same) which = k;
        }
        CHECK(which, "sample %d: not an exact quarter turn", s);
        seen[which] = 1;
    }
    CHECK(seen[1] && seen[2] && seen[3], "turns seen: 90 %d, 180 %d, 270 %d", seen[1], seen[2], seen[3]);
    /* by hand: after a 90° turn the top-left pixel is at the top right */
    float t[N * N];
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) t[y * N + x] = in[(N - 1 - x) * N + y];
    CHECK(t[N - 1] == in[0], "the 90° reference turns clockwise");
}

/* a disc of radius r at (cx, cy), drawn identically in the image (1 channel, 0/1) and the mask */
static void draw_disc(float *img, float *mask, int h, int w, double cx, double cy, double r)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r ? 1.0f : 0.0f;
            img[y * w + x] = v;
            mask[y * w + x] = v;
        }
}

typedef struct blob { int area; double cx, cy; } blob;
static blob measure(const float *mask, int h, int w)
{
    blob b = { 0, 0, 0 };
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (mask[y * w + x] > 0.5f) b.area++, b.cx += x, b.cy += y;
    if (b.area) b.cx /= b.area, b.cy /= b.area;
    return b;
}

/* Every geometric transform alone (and all together) keeps the mask on the image's lesion: the
 * mask equals image > 0.5 up to two pixels; it stays binary; and the lesion moves as the
 * transform says. */
static void test_alignment(void)
{
    enum { H = 64, W = 64 };
    static float img[H * W], mask[H * W];
    const double cx = 40, cy = 24, r = 9, area0 = 3.14159265 * r * r;
    const char *sets[] = { "p_rotate=1,rotate=30",     "p_scale=1,scale_min=1.25,scale_max=1.25",
                           "p_aniso=1,aniso=0.3",      "p_translate=1,translate=0.2",
                           "p_elastic=1,elastic_alpha=2,elastic_sigma=8",
                           "p_rotate=1,rotate=180,p_scale=1,scale_min=0.7,scale_max=1.4,p_aniso=1,aniso=0.1,"
                           "p_translate=1,translate=0.1,p_elastic=1,elastic_alpha=2,elastic_sigma=8,p_flip_x=0.5,"
                           "p_flip_y=0.5,p_rot90=0.5",
                           "border=zero,p_rotate=1,rotate=90,p_scale=1,scale_min=0.8,scale_max=0.9" };
    for (size_t t = 0; t < sizeof sets / sizeof sets[0]; t++) {
        ftn_augment_config c = only();
        CHECK_OK(ftn_augment_set_list(&c, sets[t]));
        int changed = 0;
        for (int s = 0; s < 6; s++) {
            draw_disc(img, mask, H, W, cx, cy, r);
            blob b0 = measure(mask, H, W);
            CHECK_OK(ftn_augment_sample(&c, 11, 1, s, img, 1, H, W, mask, NULL));
            int off = 0, binary = 1;
            for (int i = 0; i < H * W; i++) {
                off += (img[i] > 0.5f) != (mask[i] > 0.5f);
                binary &= mask[i] == 0.0f || mask[i] == 1.0f;
            }
            CHECK(off <= 2 && binary, "%s, sample %d: %d pixels where mask and image disagree", sets[t], s, off);
            blob b = measure(mask, H, W);
            changed += b.area != b0.area || b.cx != b0.cx || b.cy != b0.cy;
            if (t == 0) { /* rotation about the centre keeps the area and the distance to the centre */
                double d0 = hypot(b0.cx - 31.5, b0.cy - 31.5), d = hypot(b.cx - 31.5, b.cy - 31.5);
                CHECK(abs(b.area - b0.area) <= 0.04 * b0.area && fabs(d - d0) < 0.5, "rotate: area %d vs %d, distance %g vs %g",
                      b.area, b0.area, d, d0);
            } else if (t == 1) { /* zoom 1.25: area × 1.5625, the centre's offset × 1.25 */
                CHECK(fabs(b.area - 1.5625 * area0) < 0.05 * 1.5625 * area0, "scale 1.25: area %d, expected %.0f", b.area,
                      1.5625 * area0);
                CHECK(fabs(b.cx - (31.5 + 1.25 * (b0.cx - 31.5))) < 0.5 && fabs(b.cy - (31.5 + 1.25 * (b0.cy - 31.5))) < 0.5,
                      "scale 1.25: centre (%g, %g)", b.cx, b.cy);
            } else if (t == 3) { /* a shift keeps the area, moves by at most 0.2 × 64 per axis */
                CHECK(abs(b.area - b0.area) <= 2 && fabs(b.cx - b0.cx) <= 12.8 + 0.5 && fabs(b.cy - b0.cy) <= 12.8 + 0.5,
                      "translate: area %d vs %d, moved (%g, %g)", b.area, b0.area, b.cx - b0.cx, b.cy - b0.cy);
            } else if (t == 4) { /* a smooth deformation of std 2 px: the disc stays about where it was */
                CHECK(abs(b.area - b0.area) < 0.6 * b0.area && hypot(b.cx - b0.cx, b.cy - b0.cy) < 8,
                      "elastic: area %d vs %d, moved %g", b.area, b0.area, hypot(b.cx - b0.cx, b.cy - b0.cy));
            }
        }
        CHECK(changed >= 5, "%s: the lesion moved in only %d of 6 samples", sets[t], changed);
    }
}

/* The elastic field's size: on ramps x / (W − 1) and y / (H − 1) (which bilinear sampling
 * reproduces exactly) the output minus the input, times W − 1, is the displacement; its standard
 * deviation over the image is about elastic_alpha pixels, its mean about 0. */
static void test_elastic_size(void)
{
    enum { H = 128, W = 128 };
    static float img[2 * H * W];
    ftn_augment_config c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_elastic=1,elastic_alpha=3,elastic_sigma=8"));
    double s2 = 0, s1 = 0;
    int n = 0;
    for (int s = 0; s < 6; s++) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) AT(img, 0, y, x, H, W) = x / (float)(W - 1), AT(img, 1, y, x, H, W) = y / (float)(H - 1);
        CHECK_OK(ftn_augment_sample(&c, 6, 1, s, img, 2, H, W, NULL, NULL));
        for (int y = 16; y < H - 16; y++) /* away from the clamped edges */
            for (int x = 16; x < W - 16; x++) {
                double dx = AT(img, 0, y, x, H, W) * (W - 1) - x, dy = AT(img, 1, y, x, H, W) * (H - 1) - y;
                s1 += dx + dy, s2 += dx * dx + dy * dy, n += 2;
            }
    }
    double mean = s1 / n, sd = sqrt(s2 / n - mean * mean);
    CHECK(sd > 0.85 * 3 && sd < 1.15 * 3 && fabs(mean) < 1, "elastic alpha 3: displacement std %g px, mean %g", sd, mean);
}

/* outside the image: the edge pixel (a constant image stays constant) or zero */
static void test_border(void)
{
    enum { H = 32, W = 32 };
    static float img[H * W];
    for (int b = 0; b < 2; b++) {
        ftn_augment_config c = only();
        CHECK_OK(ftn_augment_set_list(&c, b ? "border=zero,p_translate=1,translate=0.5" : "p_translate=1,translate=0.5"));
        int zeros = 0;
        float lo = 1;
        for (int s = 0; s < 4; s++) {
            for (int i = 0; i < H * W; i++) img[i] = 0.75f;
            CHECK_OK(ftn_augment_sample(&c, 2, 1, s, img, 1, H, W, NULL, NULL));
            for (int i = 0; i < H * W; i++) zeros += img[i] == 0, lo = fminf(lo, img[i]);
        }
        if (b) CHECK(zeros > 0, "border zero: no zero pixel after a shift");
        else CHECK(fabsf(lo - 0.75f) < 1e-6f, "border edge: %g in a constant image", lo);
    }
}

/* Intensity transforms: the mask untouched, the image in [0, 1]; hand-computable cases. */
static void test_intensity(void)
{
    enum { CH = 3, H = 24, W = 20 };
    static float img[CH * H * W], in[CH * H * W], mask[H * W], min[H * W];
    uint64_t st = 5;
    tl_fill_uniform(in, CH * H * W, &st, 0, 1);
    fill_mask(min, H, W);
    ftn_augment_config c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_brightness=1,brightness=0.5,p_contrast=1,contrast=0.5,p_gamma=1,gamma_min=0.5,"
                                      "gamma_max=2,p_noise=1,noise=0.2,p_blur=1,blur_min=0.5,blur_max=2"));
    for (int s = 0; s < 8; s++) {
        memcpy(img, in, sizeof img), memcpy(mask, min, sizeof mask);
        CHECK_OK(ftn_augment_sample(&c, 4, 1, s, img, CH, H, W, mask, NULL));
        float lo = 1, hi = 0;
        for (int i = 0; i < CH * H * W; i++) lo = fminf(lo, img[i]), hi = fmaxf(hi, img[i]);
        CHECK(lo >= 0 && hi <= 1, "sample %d: image in [%g, %g]", s, lo, hi);
        CHECK(!memcmp(mask, min, sizeof mask), "sample %d: an intensity transform touched the mask", s);
        CHECK(memcmp(img, in, sizeof img), "sample %d: nothing changed", s);
    }
    /* additive brightness: one offset b, |b| ≤ 0.1, for every pixel of every channel */
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_brightness=1,brightness=0.1"));
    for (int i = 0; i < CH * H * W; i++) in[i] = 0.2f + 0.6f * in[i]; /* no clamping */
    memcpy(img, in, sizeof img);
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    float b = img[0] - in[0];
    int same = fabsf(b) <= 0.1f + 1e-6f && b != 0;
    for (int i = 0; i < CH * H * W; i++) same &= fabsf(img[i] - in[i] - b) < 1e-6f;
    CHECK(same, "brightness: not one offset (first %g)", b);
    /* multiplicative: one factor */
    CHECK_OK(ftn_augment_set(&c, "brightness_mode", "mul"));
    memcpy(img, in, sizeof img);
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    float f = img[0] / in[0];
    same = fabsf(f - 1) <= 0.1f + 1e-6f;
    for (int i = 0; i < CH * H * W; i++) same &= fabsf(img[i] - f * in[i]) < 1e-6f;
    CHECK(same, "brightness mul: not one factor (first %g)", f);
    /* contrast keeps each channel's mean (no clamping at ±0.1) */
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_contrast=1,contrast=0.1"));
    memcpy(img, in, sizeof img);
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    for (int ch = 0; ch < CH; ch++) {
        double m0 = 0, m1 = 0;
        for (int i = 0; i < H * W; i++) m0 += in[ch * H * W + i], m1 += img[ch * H * W + i];
        CHECK(fabs(m0 - m1) / (H * W) < 1e-6, "contrast: channel %d mean %g -> %g", ch, m0 / (H * W), m1 / (H * W));
    }
    /* gamma 2 exactly: x² */
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_gamma=1,gamma_min=2,gamma_max=2"));
    memcpy(img, in, sizeof img);
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    same = 1;
    for (int i = 0; i < CH * H * W; i++) same &= fabsf(img[i] - in[i] * in[i]) < 1e-6f;
    CHECK(same, "gamma 2 is not x^2");
    /* blur: a constant image stays constant; the mean of a ramp is kept (edge-repeating borders
     * move it a little only near the edges, so a linear ramp in x keeps every interior pixel) */
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_blur=1,blur_min=1.5,blur_max=1.5"));
    for (int i = 0; i < CH * H * W; i++) img[i] = 0.4f;
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    same = 1;
    for (int i = 0; i < CH * H * W; i++) same &= fabsf(img[i] - 0.4f) < 1e-6f;
    CHECK(same, "blur changed a constant image");
    for (int ch = 0; ch < CH; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) AT(img, ch, y, x, H, W) = 0.02f * x;
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 0, img, CH, H, W, NULL, NULL));
    same = 1;
    for (int x = 5; x < W - 5; x++) same &= fabsf(AT(img, 1, 7, x, H, W) - 0.02f * x) < 1e-5f;
    CHECK(same, "blur moved the interior of a linear ramp");
    /* noise: zero-mean, std at most 0.05 */
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "p_noise=1,noise=0.05"));
    for (int i = 0; i < CH * H * W; i++) img[i] = 0.5f;
    CHECK_OK(ftn_augment_sample(&c, 4, 1, 1, img, CH, H, W, NULL, NULL));
    double s1 = 0, s2 = 0;
    for (int i = 0; i < CH * H * W; i++) s1 += img[i] - 0.5, s2 += (img[i] - 0.5) * (img[i] - 0.5);
    double mean = s1 / (CH * H * W), sd = sqrt(s2 / (CH * H * W) - mean * mean);
    CHECK(fabs(mean) < 0.01 && sd > 0 && sd < 0.055, "noise: mean %g, std %g", mean, sd);
}

/* every transform on, so every draw matters */
static ftn_augment_config everything(void)
{
    ftn_augment_config c;
    ftn_augment_preset("strong", &c);
    c.p_flip_x = c.p_flip_y = c.p_rot90 = 0.5;
    c.p_rotate = c.p_scale = c.p_aniso = c.p_translate = c.p_elastic = 1;
    c.p_brightness = c.p_contrast = c.p_gamma = c.p_noise = c.p_blur = 1;
    return c;
}

static void test_determinism(void)
{
    enum { N = 12, CH = 3, H = 32, W = 48 };
    const size_t per = (size_t)CH * H * W, plane = (size_t)H * W;
    float *in = malloc(sizeof(float) * per * N), *min = malloc(sizeof(float) * plane * N);
    float *a = malloc(sizeof(float) * per * N), *am = malloc(sizeof(float) * plane * N);
    float *b = malloc(sizeof(float) * per * N), *bm = malloc(sizeof(float) * plane * N);
    uint64_t st = 77;
    tl_fill_uniform(in, per * N, &st, 0, 1);
    for (int i = 0; i < N; i++) draw_disc(a, min + i * plane, H, W, 10 + i, 16, 7);
    ftn_augment_config c = everything();
    float *scratch = malloc(sizeof(float) * ftn_augment_scratch_floats(CH, H, W));
    CHECK(ftn_augment_scratch_floats(CH, H, W) == (size_t)(CH + 4) * H * W);
    /* forwards with the caller's scratch, then backwards with scratch allocated by the call */
    memcpy(a, in, sizeof(float) * per * N), memcpy(am, min, sizeof(float) * plane * N);
    for (int i = 0; i < N; i++) CHECK_OK(ftn_augment_sample(&c, 42, 3, i, a + i * per, CH, H, W, am + i * plane, scratch));
    memcpy(b, in, sizeof(float) * per * N), memcpy(bm, min, sizeof(float) * plane * N);
    for (int i = N - 1; i >= 0; i--) CHECK_OK(ftn_augment_sample(&c, 42, 3, i, b + i * per, CH, H, W, bm + i * plane, NULL));
    CHECK(!memcmp(a, b, sizeof(float) * per * N) && !memcmp(am, bm, sizeof(float) * plane * N), "order changed the bytes");
    /* in parallel, 1 to 4 threads */
    int threads = omp_get_max_threads();
    for (int t = 1; t <= 4; t++) {
        omp_set_num_threads(t);
        memcpy(b, in, sizeof(float) * per * N), memcpy(bm, min, sizeof(float) * plane * N);
        CHECK_OK(ftn_augment_batch(&c, 42, 3, NULL, N, b, CH, H, W, bm));
        CHECK(!memcmp(a, b, sizeof(float) * per * N) && !memcmp(am, bm, sizeof(float) * plane * N),
              "%d threads changed the bytes", t);
        /* and several threads each calling ftn_augment_sample */
        memcpy(b, in, sizeof(float) * per * N), memcpy(bm, min, sizeof(float) * plane * N);
        int fails = 0;
#pragma omp parallel for schedule(dynamic) reduction(+ : fails)
        for (int i = 0; i < N; i++)
            fails += ftn_augment_sample(&c, 42, 3, i, b + i * per, CH, H, W, bm + i * plane, NULL) != FTN_OK;
        CHECK(!fails && !memcmp(a, b, sizeof(float) * per * N) && !memcmp(am, bm, sizeof(float) * plane * N),
              "%d threads of ftn_augment_sample changed the bytes", t);
    }
    omp_set_num_threads(threads);
    /* the batch's index array: sample i augmented as data-set index idx[i] */
    int idx[N];
    for (int i = 0; i < N; i++) idx[i] = N - 1 - i;
    for (int i = 0; i < N; i++) {
        memcpy(b + i * per, in + idx[i] * per, sizeof(float) * per);
        memcpy(bm + i * plane, min + idx[i] * plane, sizeof(float) * plane);
    }
    CHECK_OK(ftn_augment_batch(&c, 42, 3, idx, N, b, CH, H, W, bm));
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= !memcmp(b + i * per, a + idx[i] * per, sizeof(float) * per) &&
                !memcmp(bm + i * plane, am + idx[i] * plane, sizeof(float) * plane);
    CHECK(same, "a batch in another order gave other bytes per sample index");
    /* another epoch, index or seed: other bytes */
    const struct { uint64_t seed; int epoch, index; } other[] = { { 42, 4, 0 }, { 42, 3, N }, { 43, 3, 0 } };
    for (int k = 0; k < 3; k++) {
        memcpy(b, in, sizeof(float) * per), memcpy(bm, min, sizeof(float) * plane);
        CHECK_OK(ftn_augment_sample(&c, other[k].seed, other[k].epoch, other[k].index, b, CH, H, W, bm, scratch));
        CHECK(memcmp(a, b, sizeof(float) * per), "seed %llu epoch %d index %d gave the bytes of (42, 3, 0)",
              (unsigned long long)other[k].seed, other[k].epoch, other[k].index);
    }
    CHECK(ftn_augment_sample_seed(1, 1, 2) != ftn_augment_sample_seed(1, 2, 1), "epoch and index are not interchangeable");
    CHECK(ftn_augment_sample_seed(1, 1, 1) == ftn_augment_sample_seed(1, 1, 1));
    /* a transform's draws do not depend on the others' settings: the same flips and turn with or
     * without the intensity transforms (which do not move pixels) */
    ftn_augment_config g = only(), gi = only();
    CHECK_OK(ftn_augment_set_list(&g, "p_flip_x=0.5,p_flip_y=0.5,p_rot90=0.5"));
    CHECK_OK(ftn_augment_set_list(&gi, "p_flip_x=0.5,p_flip_y=0.5,p_rot90=0.5,p_noise=1,noise=0.1,p_gamma=1,gamma_min=2,gamma_max=2"));
    for (int i = 0; i < 4; i++) {
        memcpy(a, min, sizeof(float) * plane), memcpy(b, min, sizeof(float) * plane);
        draw_disc(a, am, H, H, 10 + i, 9, 5);
        memcpy(bm, am, sizeof(float) * plane);
        CHECK_OK(ftn_augment_sample(&g, 8, 1, i, a, 1, H, H, am, NULL));
        CHECK_OK(ftn_augment_sample(&gi, 8, 1, i, b, 1, H, H, bm, NULL));
        CHECK(!memcmp(am, bm, sizeof(float) * H * H), "sample %d: intensity settings changed the geometric draws", i);
    }
    free(in), free(min), free(a), free(am), free(b), free(bm), free(scratch);
}

static void test_json(void)
{
    ftn_augment_config c;
    CHECK_OK(ftn_augment_preset("strong", &c));
    CHECK_OK(ftn_augment_set_list(&c, "border=zero,brightness_mode=add,rotate=33.333333333333336,noise=0.1,p_rot90=0.3"));
    char *j1 = NULL, *j2 = NULL;
    CHECK_OK(ftn_augment_to_json(&c, &j1));
    ftn_augment_config d;
    memset(&d, 0xff, sizeof d);
    CHECK_OK(ftn_augment_from_json(j1 ? j1 : "", &d));
    CHECK_OK(ftn_augment_to_json(&d, &j2));
    CHECK(j1 && j2 && !strcmp(j1, j2), "JSON round trip:\n%s\nvs\n%s", j1, j2);
    CHECK(d.rotate == c.rotate && d.noise == c.noise && d.scale_min == c.scale_min && d.elastic_sigma == c.elastic_sigma &&
          d.border == FTN_AUGMENT_BORDER_ZERO && d.brightness_mode == FTN_AUGMENT_BRIGHTNESS_ADD && d.p_rot90 == 0.3,
          "values after the round trip");
    CHECK(j1 && strstr(j1, "\"border\":\t\"zero\"") && strstr(j1, "\"p_flip_x\":\t0.5"), "JSON text: %s", j1);
    free(j1), free(j2);
    /* the cJSON form: the same keys */
    cJSON *o = ftn_augment_json(&c);
    CHECK(o && cJSON_GetArraySize(o) == 29, "%d keys", o ? cJSON_GetArraySize(o) : -1);
    CHECK_OK(ftn_augment_from_cjson(o, &d));
    CHECK(d.rotate == c.rotate && d.p_elastic == c.p_elastic && d.elastic_alpha == c.elastic_alpha);
    cJSON_Delete(o);
    /* absent keys: preset none's values; a missing object member is not an error */
    CHECK_OK(ftn_augment_from_json("{\"p_rotate\": 0.5, \"rotate\": 10}", &d));
    ftn_augment_config none = ftn_augment_default();
    CHECK(d.p_rotate == 0.5 && d.rotate == 10 && d.p_flip_x == 0 && d.scale_min == 1 && d.gamma_max == 1 &&
          d.border == none.border);
    /* errors name the key */
    const char *bad[][2] = { { "{\"rotat\": 1}", "rotat" },         { "{\"p_rotate\": 2}", "p_rotate" },
                             { "{\"rotate\": \"30\"}", "rotate" },  { "{\"border\": 1}", "border" },
                             { "{\"border\": \"wrap\"}", "border" }, { "{\"scale_min\": 2, \"scale_max\": 1.5}", "scale_min" },
                             { "[1, 2]", "object" },                { "{", "JSON" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = c;
        ftn_status s = ftn_augment_from_json(bad[i][0], &d);
        CHECK(s != FTN_OK && strstr(ftn_last_error(), bad[i][1]), "%s: %s", bad[i][0], ftn_last_error());
        CHECK(d.rotate == c.rotate, "a failed read changed the output");
    }
}

static void test_set_errors(void)
{
    ftn_augment_config c = only();
    const char *bad[][3] = { { "rotate", "300", "rotate=300" },       { "p_rotate", "1.5", "p_rotate=1.5" },
                             { "rotate", "abc", "rotate=abc" },       { "rotat", "5", "rotat" },
                             { "scale_min", "0", "scale_min=0" },     { "border", "wrap", "border=wrap" },
                             { "brightness_mode", "pow", "brightness_mode=pow" },
                             { "noise", "nan", "noise=nan" },         { "blur_max", "100", "blur_max=100" },
                             { "p_flip_x", "", "p_flip_x" },          { "gamma_max", "1e9", "gamma_max=1e9" } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ftn_augment_config before = c;
        CHECK(ftn_augment_set(&c, bad[i][0], bad[i][1]) == FTN_EINVAL && strstr(ftn_last_error(), bad[i][2]),
              "%s=%s: %s", bad[i][0], bad[i][1], ftn_last_error());
        CHECK(!memcmp(&before, &c, sizeof c), "a refused value was stored");
    }
    CHECK(ftn_augment_set(&c, "rotat", "5") != FTN_OK && strstr(ftn_last_error(), "p_flip_x") &&
              strstr(ftn_last_error(), "blur_max"),
          "unknown keys list the keys: %s", ftn_last_error());
    /* lists: each assignment, then the checks between keys */
    CHECK(ftn_augment_set_list(&c, "rotate") != FTN_OK && strstr(ftn_last_error(), "KEY=VALUE"), "%s", ftn_last_error());
    CHECK(ftn_augment_set_list(&c, "rotate=10,,p_rotate=1") != FTN_OK, "an empty assignment");
    CHECK(ftn_augment_set_list(&c, "scale_min=1.2,scale_max=1.1") != FTN_OK && strstr(ftn_last_error(), "scale_min"),
          "%s", ftn_last_error());
    c = only();
    CHECK(ftn_augment_set_list(&c, "p_elastic=0.5,elastic_alpha=3") != FTN_OK && strstr(ftn_last_error(), "elastic_sigma"),
          "%s", ftn_last_error());
    c = only();
    CHECK_OK(ftn_augment_set_list(&c, "rotate=12.5,p_rotate=0.25,border=zero"));
    CHECK(c.rotate == 12.5 && c.p_rotate == 0.25 && c.border == FTN_AUGMENT_BORDER_ZERO);
    /* presets */
    CHECK(ftn_augment_preset("medium", &c) == FTN_EINVAL && strstr(ftn_last_error(), "medium"), "%s", ftn_last_error());
    CHECK_OK(ftn_augment_preset("light", &c));
    CHECK(c.p_flip_x == 0.5 && c.rotate == 15 && c.scale_min == 0.9 && c.scale_max == 1.1 && c.brightness == 0.1 &&
          c.contrast == 0.1 && c.p_elastic == 0 && !ftn_augment_is_identity(&c));
    CHECK_OK(ftn_augment_check(&c));
    CHECK_OK(ftn_augment_preset("strong", &c));
    CHECK(c.rotate == 30 && c.p_rotate == 0.2 && c.scale_min == 0.7 && c.scale_max == 1.4 && c.gamma_min == 0.7 &&
          c.gamma_max == 1.5 && c.p_elastic > 0);
    CHECK_OK(ftn_augment_check(&c));
    /* a bad configuration or sample is refused by ftn_augment_sample */
    float px[16] = { 0 };
    c.p_rotate = 2;
    CHECK(ftn_augment_sample(&c, 1, 1, 0, px, 1, 4, 4, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "p_rotate"));
    CHECK_OK(ftn_augment_preset("strong", &c));
    CHECK(ftn_augment_sample(&c, 1, 1, 0, px, 0, 4, 4, NULL, NULL) == FTN_EINVAL);
    CHECK(ftn_augment_sample(&c, 1, 1, 0, NULL, 1, 4, 4, NULL, NULL) == FTN_EINVAL);
    CHECK(ftn_augment_batch(&c, 1, 1, NULL, -1, px, 1, 4, 4, NULL) == FTN_EINVAL);
}

/* For information: microseconds per 128×128×1 sample with preset strong on one thread. */
static void time_strong(void)
{
    enum { H = 128, W = 128, N = 400 };
    ftn_augment_config c;
    ftn_augment_preset("strong", &c);
    float *img = malloc(sizeof(float) * H * W * 2), *mask = img + H * W;
    float *scratch = malloc(sizeof(float) * ftn_augment_scratch_floats(1, H, W));
    uint64_t st = 3;
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0); /* this thread's CPU time: a busy machine does not count */
    for (int i = 0; i < N; i++) {
        tl_fill_uniform(img, H * W, &st, 0, 1);
        draw_disc(img, mask, H, W, 60, 70, 20);
        ftn_augment_sample(&c, 1, 1, i, img, 1, H, W, mask, scratch);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    double us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) * 1e-3) / N;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0); /* the refill alone, subtracted */
    for (int i = 0; i < N; i++) {
        tl_fill_uniform(img, H * W, &st, 0, 1);
        draw_disc(img, mask, H, W, 60, 70, 20);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    us -= ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) * 1e-3) / N;
    printf("timing (not a check): preset strong, 128x128x1, one thread: %.1f us of CPU per sample\n", us);
    free(img), free(scratch);
}

int main(void)
{
    test_none_untouched();
    test_identity_parameters();
    test_flips();
    test_rot90();
    test_alignment();
    test_elastic_size();
    test_border();
    test_intensity();
    test_determinism();
    test_json();
    test_set_errors();
    time_strong();
    return tl_finish();
}
