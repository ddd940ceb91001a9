#include "data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fs.h"
#include "data/split.h"
#include "io/image.h"

#define PI 3.14159265358979323846

const char *ftn_synth_kind_name(ftn_synth_kind kind)
{
    return kind == FTN_SYNTH_ULTRASOUND ? "ultrasound" : kind == FTN_SYNTH_DERMOSCOPY ? "dermoscopy" : "unknown";
}

ftn_status ftn_synth_kind_parse(const char *name, ftn_synth_kind *kind)
{
    if (name && (!strcmp(name, "ultrasound") || !strcmp(name, "bus"))) *kind = FTN_SYNTH_ULTRASOUND;
    else if (name && (!strcmp(name, "dermoscopy") || !strcmp(name, "isic"))) *kind = FTN_SYNTH_DERMOSCOPY;
    else return ftn_fail(FTN_EINVAL, "synthetic kind '%s': unknown (use ultrasound or dermoscopy)", name ? name : "(null)");
    return FTN_OK;
}

/* A blob with an irregular border: inside when the rotated, normalised radius is below
 * 1 + Σ a_k sin(k θ + φ_k). */
typedef struct blob {
    double cx, cy, rx, ry, cos_t, sin_t;
    double amp[4], phase[4];
    int freq[4];
} blob;

static void blob_init(blob *b, ftn_rng *r, double cx, double cy, double rx, double ry, double irregular)
{
    b->cx = cx;
    b->cy = cy;
    b->rx = rx;
    b->ry = ry;
    double t = ftn_rng_uniform(r) * PI;
    b->cos_t = cos(t);
    b->sin_t = sin(t);
    for (int k = 0; k < 4; k++) {
        b->freq[k] = 2 + k + (int)ftn_rng_below(r, 3);
        b->amp[k] = irregular * (0.4 + 0.6 * ftn_rng_uniform(r)) / (1 + k);
        b->phase[k] = ftn_rng_uniform(r) * 2 * PI;
    }
}

/* Normalised radius / border radius: < 1 inside. */
static double blob_rho(const blob *b, double x, double y)
{
    double dx = x - b->cx, dy = y - b->cy;
    double u = (dx * b->cos_t + dy * b->sin_t) / b->rx, v = (-dx * b->sin_t + dy * b->cos_t) / b->ry;
    double d = sqrt(u * u + v * v), th = atan2(v, u), edge = 1;
    for (int k = 0; k < 4; k++) edge += b->amp[k] * sin(b->freq[k] * th + b->phase[k]);
    return d / edge;
}

static uint8_t to_byte(double v)
{
    v = v * 255.0 + 0.5;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Spatially correlated noise: white noise box-blurred once (3×3). */
static void smooth3(float *x, float *tmp, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int i = 0; i < w; i++) {
            double s = 0;
            int c = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy, xx = i + dx;
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    s += x[(size_t)yy * w + xx];
                    c++;
                }
            tmp[(size_t)y * w + i] = (float)(s / c);
        }
    memcpy(x, tmp, sizeof(float) * (size_t)w * h);
}

static void render_ultrasound(ftn_rng *r, int w, int h, uint8_t *img, uint8_t *mask, float *f1, float *f2)
{
    int nl = 1 + (int)ftn_rng_below(r, 2);
    double total = (0.03 + 0.04 * ftn_rng_uniform(r)) * w * h; /* mean 5 % */
    blob b[2];
    for (int k = 0; k < nl; k++) {
        double area = total / nl, asp = 1.0 + 0.8 * ftn_rng_uniform(r);
        double rx = sqrt(area * asp / PI), ry = sqrt(area / (PI * asp));
        double m = 1.25 * (rx > ry ? rx : ry);
        double cx = m + ftn_rng_uniform(r) * (w - 2 * m), cy = m + ftn_rng_uniform(r) * (h - 2 * m);
        if (w < 2 * m) cx = w / 2.0;
        if (h < 2 * m) cy = h / 2.0;
        blob_init(&b[k], r, cx, cy, rx, ry, 0.08);
    }
    /* Rayleigh speckle with unit mean: σ = sqrt(2/π) */
    const double sigma = sqrt(2.0 / PI);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        double u = 1.0 - ftn_rng_uniform(r);
        f1[i] = (float)(sigma * sqrt(-2.0 * log(u)));
    }
    smooth3(f1, f2, w, h);
    double g0 = 0.35 + 0.15 * ftn_rng_uniform(r), g1 = 0.15 * ftn_rng_uniform(r), ph = ftn_rng_uniform(r) * 2 * PI;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double yy = (double)y / h, xx = (double)x / w;
            double base = g0 + 0.2 * yy * (1 - yy) * 2 + g1 * sin(2 * PI * xx + ph) * 0.5;
            double mult = 1.0;
            int in = 0;
            for (int k = 0; k < nl; k++) {
                double rho = blob_rho(&b[k], x + 0.5, y + 0.5);
                if (rho < 1) in = 1;
                /* dark inside, soft transition just at the border, acoustic enhancement below */
                double t = rho < 0.9 ? 0.25 : rho < 1.0 ? 0.25 + 0.75 * (rho - 0.9) / 0.1 : 1.0;
                if (t < mult) mult = t;
                if (!in && y > b[k].cy && fabs(x - b[k].cx) < b[k].rx * 0.8 && rho >= 1) mult *= 1.08;
            }
            size_t i = (size_t)y * w + x;
            img[i] = to_byte(base * mult * f1[i]);
            mask[i] = in ? 255 : 0;
        }
}

static void render_dermoscopy(ftn_rng *r, int w, int h, uint8_t *img, uint8_t *mask, float *f1, float *f2)
{
    double frac = 0.12 + 0.16 * ftn_rng_uniform(r); /* mean 20 % */
    double area = frac * w * h, asp = 1.0 + 0.6 * ftn_rng_uniform(r);
    double rx = sqrt(area * asp / PI), ry = sqrt(area / (PI * asp));
    double cx = w * (0.4 + 0.2 * ftn_rng_uniform(r)), cy = h * (0.4 + 0.2 * ftn_rng_uniform(r));
    blob b;
    blob_init(&b, r, cx, cy, rx, ry, 0.18);
    double skin[3] = {0.86 + 0.08 * ftn_rng_uniform(r), 0.62 + 0.1 * ftn_rng_uniform(r), 0.52 + 0.1 * ftn_rng_uniform(r)};
    double lesion[3] = {0.42 + 0.12 * ftn_rng_uniform(r), 0.25 + 0.08 * ftn_rng_uniform(r), 0.15 + 0.06 * ftn_rng_uniform(r)};
    for (size_t i = 0; i < (size_t)w * h; i++) f1[i] = (float)ftn_rng_normal(r);
    smooth3(f1, f2, w, h);
    smooth3(f1, f2, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            double rho = blob_rho(&b, x + 0.5, y + 0.5);
            double dx = (x - w / 2.0) / (w / 2.0), dy = (y - h / 2.0) / (h / 2.0);
            double vign = 1.0 - 0.35 * fmax(0.0, dx * dx + dy * dy - 0.6);
            double n = 0.06 * f1[i];
            double c[3];
            if (rho < 1) {
                double depth = 1 - rho; /* darker towards the centre */
                for (int k = 0; k < 3; k++) c[k] = lesion[k] * (1.0 - 0.45 * depth) + n;
            } else {
                double t = rho < 1.08 ? (rho - 1) / 0.08 : 1; /* a thin blurred rim outside */
                for (int k = 0; k < 3; k++) c[k] = (lesion[k] * (1 - t) + skin[k] * t) + n * 0.5;
            }
            for (int k = 0; k < 3; k++) img[i * 3 + k] = to_byte(c[k] * vign);
            mask[i] = rho < 1 ? 255 : 0;
        }
}

void ftn_synth_render(ftn_synth_kind kind, uint64_t seed, int index, int width, int height, uint8_t *image,
                      uint8_t *mask)
{
    ftn_rng g, r;
    ftn_rng_seed(&g, seed * 0x9E3779B97F4A7C15ull + (uint64_t)index * 0xD1B54A32D192ED03ull + (uint64_t)kind);
    ftn_rng_seed(&r, ftn_rng_next(&g));
    float *f1 = malloc(sizeof(float) * (size_t)width * height), *f2 = malloc(sizeof(float) * (size_t)width * height);
    if (!f1 || !f2) {
        free(f1);
        free(f2);
        memset(image, 0, (size_t)width * height * (kind == FTN_SYNTH_DERMOSCOPY ? 3 : 1));
        memset(mask, 0, (size_t)width * height);
        return;
    }
    if (kind == FTN_SYNTH_DERMOSCOPY) render_dermoscopy(&r, width, height, image, mask, f1, f2);
    else render_ultrasound(&r, width, height, image, mask, f1, f2);
    free(f1);
    free(f2);
}

ftn_status ftn_synth_write(const char *dir, ftn_synth_kind kind, int n, uint64_t seed, int width, int height)
{
    if (!dir) return ftn_fail(FTN_EINVAL, "synth: no folder given");
    if (kind != FTN_SYNTH_ULTRASOUND && kind != FTN_SYNTH_DERMOSCOPY)
        return ftn_fail(FTN_EINVAL, "%s: unknown synthetic kind %d", dir, (int)kind);
    if (!width) width = FTN_SYNTH_DEFAULT_WIDTH;
    if (!height) height = FTN_SYNTH_DEFAULT_HEIGHT;
    if (n < 1 || n > 1000000 || width < 8 || height < 8 || width > 8192 || height > 8192)
        return ftn_fail(FTN_EINVAL, "%s: cannot synthesise %d images of %dx%d (HxW; need n ≥ 1, sizes 8..8192)", dir, n,
                        height, width);
    size_t plen = strlen(dir) + 32;
    char *p = malloc(plen);
    int c = kind == FTN_SYNTH_DERMOSCOPY ? 3 : 1;
    uint8_t *img = malloc((size_t)width * height * c), *mask = malloc((size_t)width * height);
    ftn_status st = FTN_OK;
    if (!p || !img || !mask) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", dir);
        goto done;
    }
    snprintf(p, plen, "%s/images", dir);
    if ((st = ftn_mkdirs(p)) != FTN_OK) goto done;
    snprintf(p, plen, "%s/masks", dir);
    if ((st = ftn_mkdirs(p)) != FTN_OK) goto done;
    for (int i = 0; i < n && st == FTN_OK; i++) {
        ftn_synth_render(kind, seed, i, width, height, img, mask);
        snprintf(p, plen, "%s/images/%04d.png", dir, i);
        st = ftn_image_write_png(p, width, height, c, img);
        if (st != FTN_OK) break;
        snprintf(p, plen, "%s/masks/%04d.png", dir, i);
        st = ftn_image_write_png(p, width, height, 1, mask);
    }
done:
    free(p);
    free(img);
    free(mask);
    return st;
}
