/* Data augmentation (ftunet_protocol.h, section "augmentation"): the configuration's keys,
 * presets and JSON form, and one sample's transforms: the geometric ones composed into a single
 * sampling pass, then the intensity ones on the image. */
#include "data/augment.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/split.h" /* ftn_rng_below */

/* ---- keys ------------------------------------------------------------------------------------ */

typedef enum key_kind { KEY_PROB, KEY_NUM, KEY_BORDER, KEY_BRIGHTNESS } key_kind;

typedef struct key_def {
    const char *name;
    key_kind kind;
    size_t offset;   /* of the double (or enum) in ftn_augment_config */
    double lo, hi;   /* KEY_NUM: the legal range */
    int lo_open;     /* the range excludes lo */
} key_def;

#define PROB(f) { #f, KEY_PROB, offsetof(ftn_augment_config, f), 0, 1, 0 }
#define NUM(f, lo, hi) { #f, KEY_NUM, offsetof(ftn_augment_config, f), lo, hi, 0 }
#define NUM_OPEN(f, lo, hi) { #f, KEY_NUM, offsetof(ftn_augment_config, f), lo, hi, 1 }

/* In the order of ftn_augment_config: the order of the JSON form. */
static const key_def keys[] = {
    PROB(p_flip_x),
    PROB(p_flip_y),
    PROB(p_rot90),
    PROB(p_rotate), NUM(rotate, 0, 180),
    PROB(p_scale), NUM_OPEN(scale_min, 0, 10), NUM_OPEN(scale_max, 0, 10),
    PROB(p_aniso), NUM(aniso, 0, 0.9),
    PROB(p_translate), NUM(translate, 0, 1),
    PROB(p_elastic), NUM(elastic_alpha, 0, 100), NUM(elastic_sigma, 0, FTN_AUGMENT_MAX_SIGMA),
    { "border", KEY_BORDER, offsetof(ftn_augment_config, border), 0, 0, 0 },
    PROB(p_brightness), NUM(brightness, 0, 1),
    { "brightness_mode", KEY_BRIGHTNESS, offsetof(ftn_augment_config, brightness_mode), 0, 0, 0 },
    PROB(p_contrast), NUM(contrast, 0, 1),
    PROB(p_gamma), NUM_OPEN(gamma_min, 0, 10), NUM_OPEN(gamma_max, 0, 10),
    PROB(p_noise), NUM(noise, 0, 1),
    PROB(p_blur), NUM(blur_min, 0, FTN_AUGMENT_MAX_SIGMA), NUM(blur_max, 0, FTN_AUGMENT_MAX_SIGMA),
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static const char *const border_names[] = { "edge", "zero" };
static const char *const brightness_names[] = { "add", "mul" };

static double *num_field(ftn_augment_config *c, const key_def *k) { return (double *)((char *)c + k->offset); }
static double num_value(const ftn_augment_config *c, const key_def *k)
{
    return *(const double *)((const char *)c + k->offset);
}

static const key_def *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, name)) return &keys[i];
    return NULL;
}

static ftn_status unknown_key(const char *name)
{
    char list[1024];
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", keys[i].name);
    return ftn_fail(FTN_EINVAL, "%s: unknown augmentation key (keys: %s)", name, list);
}

static int in_range(const key_def *k, double v)
{
    double lo = k->kind == KEY_PROB ? 0 : k->lo, hi = k->kind == KEY_PROB ? 1 : k->hi;
    return k->lo_open ? v > lo && v <= hi : v >= lo && v <= hi;
}

/* "KEY=TEXT: expected …" (text NULL: the value printed with %g). */
static ftn_status out_of_range(const key_def *k, double v, const char *text)
{
    char shown[64];
    if (text) snprintf(shown, sizeof shown, "%s", text);
    else snprintf(shown, sizeof shown, "%g", v);
    if (k->kind == KEY_PROB) return ftn_fail(FTN_EINVAL, "%s=%s: expected a probability from 0 to 1", k->name, shown);
    if (k->lo_open)
        return ftn_fail(FTN_EINVAL, "%s=%s: expected a number above %g and at most %g", k->name, shown, k->lo, k->hi);
    return ftn_fail(FTN_EINVAL, "%s=%s: expected a number from %g to %g", k->name, shown, k->lo, k->hi);
}

static int parse_enum(const char *const *names, int n, const char *text)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], text)) return i;
    return -1;
}

/* Sets key k from a number (KEY_PROB, KEY_NUM) or a name (the enums); text names the value in
 * messages. */
static ftn_status set_number(ftn_augment_config *c, const key_def *k, double v, const char *text)
{
    if (!isfinite(v) || !in_range(k, v)) return out_of_range(k, v, text);
    *num_field(c, k) = v;
    return FTN_OK;
}

static ftn_status set_name(ftn_augment_config *c, const key_def *k, const char *text)
{
    if (k->kind == KEY_BORDER) {
        int v = parse_enum(border_names, 2, text);
        if (v < 0) return ftn_fail(FTN_EINVAL, "%s=%s: expected edge or zero", k->name, text);
        c->border = (ftn_augment_border)v;
    } else {
        int v = parse_enum(brightness_names, 2, text);
        if (v < 0) return ftn_fail(FTN_EINVAL, "%s=%s: expected add or mul", k->name, text);
        c->brightness_mode = (ftn_augment_brightness)v;
    }
    return FTN_OK;
}

ftn_status ftn_augment_set(ftn_augment_config *c, const char *key, const char *value)
{
    if (!c || !key) return ftn_fail(FTN_EINVAL, "augment set: missing argument");
    const key_def *k = find_key(key);
    if (!k) return unknown_key(key);
    if (!value || !*value) return ftn_fail(FTN_EINVAL, "%s: missing value (KEY=VALUE)", key);
    if (k->kind == KEY_BORDER || k->kind == KEY_BRIGHTNESS) return set_name(c, k, value);
    char *end;
    double v = strtod(value, &end);
    if (end == value || *end) return out_of_range(k, v, value);
    return set_number(c, k, v, value);
}

ftn_status ftn_augment_set_list(ftn_augment_config *c, const char *assignments)
{
    if (!c || !assignments) return ftn_fail(FTN_EINVAL, "augment set: missing argument");
    const char *p = assignments;
    do {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        char key[64], value[128];
        if (!eq || eq == p)
            return ftn_fail(FTN_EINVAL, "'%.*s': expected KEY=VALUE (e.g. rotate=30)", (int)len, p);
        size_t kl = (size_t)(eq - p), vl = len - kl - 1;
        if (kl >= sizeof key) return ftn_fail(FTN_EINVAL, "'%.*s': key too long", (int)len, p);
        if (vl >= sizeof value) return ftn_fail(FTN_EINVAL, "'%.*s': value too long", (int)len, p);
        memcpy(key, p, kl);
        key[kl] = 0;
        memcpy(value, eq + 1, vl);
        value[vl] = 0;
        FTN_TRY(ftn_augment_set(c, key, value));
        p += len;
    } while (*p++ == ',');
    return ftn_augment_check(c);
}

ftn_status ftn_augment_check(const ftn_augment_config *c)
{
    if (!c) return ftn_fail(FTN_EINVAL, "augment: no configuration");
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        if (k->kind == KEY_BORDER) {
            if (c->border != FTN_AUGMENT_BORDER_EDGE && c->border != FTN_AUGMENT_BORDER_ZERO)
                return ftn_fail(FTN_EINVAL, "border=%d: expected edge or zero", (int)c->border);
        } else if (k->kind == KEY_BRIGHTNESS) {
            if (c->brightness_mode != FTN_AUGMENT_BRIGHTNESS_ADD && c->brightness_mode != FTN_AUGMENT_BRIGHTNESS_MUL)
                return ftn_fail(FTN_EINVAL, "brightness_mode=%d: expected add or mul", (int)c->brightness_mode);
        } else {
            double v = num_value(c, k);
            if (!isfinite(v) || !in_range(k, v)) return out_of_range(k, v, NULL);
        }
    }
    if (c->scale_min > c->scale_max)
        return ftn_fail(FTN_EINVAL, "scale_min=%g is above scale_max=%g", c->scale_min, c->scale_max);
    if (c->gamma_min > c->gamma_max)
        return ftn_fail(FTN_EINVAL, "gamma_min=%g is above gamma_max=%g", c->gamma_min, c->gamma_max);
    if (c->blur_min > c->blur_max)
        return ftn_fail(FTN_EINVAL, "blur_min=%g is above blur_max=%g", c->blur_min, c->blur_max);
    if (c->p_elastic > 0 && c->elastic_alpha > 0 && !(c->elastic_sigma > 0))
        return ftn_fail(FTN_EINVAL, "elastic_sigma=%g: must be above 0 when p_elastic and elastic_alpha are",
                        c->elastic_sigma);
    return FTN_OK;
}

/* ---- presets ------------------------------------------------------------------------------- */

ftn_augment_config ftn_augment_default(void)
{
    ftn_augment_config c;
    memset(&c, 0, sizeof c);
    c.scale_min = c.scale_max = 1;
    c.gamma_min = c.gamma_max = 1;
    c.border = FTN_AUGMENT_BORDER_EDGE;
    c.brightness_mode = FTN_AUGMENT_BRIGHTNESS_ADD;
    return c;
}

ftn_status ftn_augment_preset(const char *name, ftn_augment_config *out)
{
    if (!name || !out) return ftn_fail(FTN_EINVAL, "augment preset: missing argument");
    ftn_augment_config c = ftn_augment_default();
    if (!strcmp(name, "none")) {
        /* the default */
    } else if (!strcmp(name, "light")) {
        c.p_flip_x = c.p_flip_y = 0.5;
        c.p_rotate = 0.5, c.rotate = 15;
        c.p_scale = 0.5, c.scale_min = 0.9, c.scale_max = 1.1;
        c.p_brightness = 0.5, c.brightness = 0.1, c.brightness_mode = FTN_AUGMENT_BRIGHTNESS_ADD;
        c.p_contrast = 0.5, c.contrast = 0.1;
    } else if (!strcmp(name, "strong")) {
        c.p_flip_x = c.p_flip_y = 0.5;
        c.p_rotate = 0.2, c.rotate = 30;
        c.p_scale = 0.2, c.scale_min = 0.7, c.scale_max = 1.4;
        c.p_aniso = 0.1, c.aniso = 0.1;
        c.p_translate = 0.2, c.translate = 0.1;
        c.p_elastic = 0.2, c.elastic_alpha = 2, c.elastic_sigma = 10;
        c.p_brightness = 0.15, c.brightness = 0.25, c.brightness_mode = FTN_AUGMENT_BRIGHTNESS_MUL;
        c.p_contrast = 0.15, c.contrast = 0.25;
        c.p_gamma = 0.3, c.gamma_min = 0.7, c.gamma_max = 1.5;
        c.p_noise = 0.1, c.noise = 0.05;
        c.p_blur = 0.2, c.blur_min = 0.5, c.blur_max = 1;
    } else {
        return ftn_fail(FTN_EINVAL, "augmentation preset '%s': expected none, light or strong", name);
    }
    *out = c;
    return FTN_OK;
}

/* Whether each transform can change anything. */
static int on_rotate(const ftn_augment_config *c) { return c->p_rotate > 0 && c->rotate > 0; }
static int on_scale(const ftn_augment_config *c) { return c->p_scale > 0 && !(c->scale_min == 1 && c->scale_max == 1); }
static int on_aniso(const ftn_augment_config *c) { return c->p_aniso > 0 && c->aniso > 0; }
static int on_translate(const ftn_augment_config *c) { return c->p_translate > 0 && c->translate > 0; }
static int on_elastic(const ftn_augment_config *c) { return c->p_elastic > 0 && c->elastic_alpha > 0; }
static int on_brightness(const ftn_augment_config *c) { return c->p_brightness > 0 && c->brightness > 0; }
static int on_contrast(const ftn_augment_config *c) { return c->p_contrast > 0 && c->contrast > 0; }
static int on_gamma(const ftn_augment_config *c) { return c->p_gamma > 0 && !(c->gamma_min == 1 && c->gamma_max == 1); }
static int on_noise(const ftn_augment_config *c) { return c->p_noise > 0 && c->noise > 0; }
static int on_blur(const ftn_augment_config *c) { return c->p_blur > 0 && c->blur_max > 0; }

int ftn_augment_is_identity(const ftn_augment_config *c)
{
    if (!c) return 1;
    return !(c->p_flip_x > 0 || c->p_flip_y > 0 || c->p_rot90 > 0 || on_rotate(c) || on_scale(c) || on_aniso(c) ||
             on_translate(c) || on_elastic(c) || on_brightness(c) || on_contrast(c) || on_gamma(c) || on_noise(c) ||
             on_blur(c));
}

/* ---- JSON ------------------------------------------------------------------------------------ */

cJSON *ftn_augment_json(const ftn_augment_config *c)
{
    if (!c) return NULL;
    cJSON *j = cJSON_CreateObject();
    for (size_t i = 0; j && i < N_KEYS; i++) {
        const key_def *k = &keys[i];
        cJSON *v;
        if (k->kind == KEY_BORDER) v = cJSON_AddStringToObject(j, k->name, border_names[c->border != 0]);
        else if (k->kind == KEY_BRIGHTNESS) v = cJSON_AddStringToObject(j, k->name, brightness_names[c->brightness_mode != 0]);
        else v = cJSON_AddNumberToObject(j, k->name, num_value(c, k)); /* cJSON prints doubles so they read back exactly */
        if (!v) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

ftn_status ftn_augment_from_cjson(const cJSON *j, ftn_augment_config *out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "augment: missing argument");
    if (!cJSON_IsObject(j)) return ftn_fail(FTN_EFORMAT, "augmentation: not a JSON object");
    ftn_augment_config c = ftn_augment_default();
    for (const cJSON *m = j->child; m; m = m->next) {
        const key_def *k = m->string ? find_key(m->string) : NULL;
        if (!k) return ftn_fail_context(unknown_key(m->string ? m->string : "(unnamed)"), "augmentation");
        ftn_status s;
        if (k->kind == KEY_BORDER || k->kind == KEY_BRIGHTNESS)
            s = cJSON_IsString(m) ? set_name(&c, k, m->valuestring)
                                  : ftn_fail(FTN_EFORMAT, "%s: expected a string", k->name);
        else
            s = cJSON_IsNumber(m) ? set_number(&c, k, m->valuedouble, NULL)
                                  : ftn_fail(FTN_EFORMAT, "%s: expected a number", k->name);
        if (s != FTN_OK) return ftn_fail_context(s, "augmentation");
    }
    if (ftn_augment_check(&c) != FTN_OK) return ftn_fail_context(FTN_EINVAL, "augmentation");
    *out = c;
    return FTN_OK;
}

ftn_status ftn_augment_to_json(const ftn_augment_config *c, char **json)
{
    if (!c || !json) return ftn_fail(FTN_EINVAL, "augment json: missing argument");
    *json = NULL;
    FTN_TRY(ftn_augment_check(c));
    cJSON *j = ftn_augment_json(c);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    char *copy = text ? malloc(strlen(text) + 1) : NULL; /* ours to free(), whatever cJSON's hooks */
    if (copy) strcpy(copy, text);
    cJSON_free(text);
    if (!copy) return ftn_fail(FTN_ENOMEM, "augment json: out of memory");
    *json = copy;
    return FTN_OK;
}

ftn_status ftn_augment_from_json(const char *json, ftn_augment_config *out)
{
    if (!json || !out) return ftn_fail(FTN_EINVAL, "augment json: missing argument");
    cJSON *j = cJSON_Parse(json);
    if (!j) return ftn_fail(FTN_EFORMAT, "augmentation: not valid JSON");
    ftn_status s = ftn_augment_from_cjson(j, out);
    cJSON_Delete(j);
    return s;
}

/* ---- randomness ---------------------------------------------------------------------------- */

/* One splitmix64 step of a ^ (b · odd constant): different b give unrelated outputs. */
static uint64_t mix(uint64_t a, uint64_t b)
{
    ftn_rng r;
    ftn_rng_seed(&r, a ^ (b * 0xD1342543DE82EF95ull));
    return ftn_rng_next(&r);
}

uint64_t ftn_augment_sample_seed(uint64_t seed, int epoch, int sample_index)
{
    uint64_t h = mix(seed, 0x6175676D656E74ull); /* "augment" */
    h = mix(h, (uint64_t)(int64_t)epoch);
    return mix(h, (uint64_t)(int64_t)sample_index);
}

/* Each transform reads its own stream, so its draws do not depend on the others' settings. */
enum { S_FLIP_X = 1, S_FLIP_Y, S_ROT90, S_ROTATE, S_SCALE, S_ANISO, S_TRANSLATE, S_ELASTIC, S_BLUR, S_BRIGHTNESS,
       S_CONTRAST, S_GAMMA, S_NOISE };

/* Seeds r with the transform's stream and draws whether it applies (probability p). */
static int fires(ftn_rng *r, uint64_t sample_seed, int stream, double p)
{
    ftn_rng_seed(r, mix(sample_seed, (uint64_t)stream));
    return ftn_rng_uniform(r) < p;
}

static double uniform_in(ftn_rng *r, double lo, double hi) { return lo + (hi - lo) * ftn_rng_uniform(r); }
static double symmetric(ftn_rng *r, double half) { return (2 * ftn_rng_uniform(r) - 1) * half; }

/* ---- Gaussian smoothing ------------------------------------------------------------------------ */

#define MAX_RADIUS ((int)(3 * FTN_AUGMENT_MAX_SIGMA) + 1)

/* k[0..2r] ∝ exp(−(i − r)² / 2σ²), normalised to sum 1; r = ⌈3σ⌉ ≥ 1. Returns r. */
static int gauss_kernel(double sigma, float *k)
{
    int r = (int)ceil(3 * sigma);
    if (r < 1) r = 1;
    if (r > MAX_RADIUS) r = MAX_RADIUS;
    double w[2 * MAX_RADIUS + 1], sum = 0;
    for (int i = 0; i <= 2 * r; i++) sum += w[i] = exp(-(double)(i - r) * (i - r) / (2 * sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] = (float)(w[i] / sum);
    return r;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
/* not fminf/fmaxf: those are library calls without -ffinite-math-only */
static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Separable convolution of the h×w plane p with k[0..2r], the edge pixel repeated outside;
 * tmp: h×w floats. Every output sums its taps in the same order (deterministic). */
static void smooth_plane(float *p, float *tmp, int h, int w, const float *k, int r)
{
    for (int y = 0; y < h; y++) {
        const float *restrict in = p + (size_t)y * w;
        float *restrict out = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++) out[x] = 0;
        for (int j = 0; j <= 2 * r; j++) {
            int off = j - r;
            float kj = k[j];
            int lo = clampi(-off, 0, w), hi = clampi(w - off, lo, w); /* x + off inside for x in [lo, hi) */
            for (int x = 0; x < lo; x++) out[x] += kj * in[0];
            for (int x = lo; x < hi; x++) out[x] += kj * in[x + off];
            for (int x = hi; x < w; x++) out[x] += kj * in[w - 1];
        }
    }
    for (int y = 0; y < h; y++) {
        float *restrict out = p + (size_t)y * w;
        for (int x = 0; x < w; x++) out[x] = 0;
        for (int j = 0; j <= 2 * r; j++) {
            const float *restrict in = tmp + (size_t)clampi(y + j - r, 0, h - 1) * w;
            float kj = k[j];
            for (int x = 0; x < w; x++) out[x] += kj * in[x];
        }
    }
}

/* ---- geometric transforms ------------------------------------------------------------------ */

typedef struct geometry {
    int active;
    double m[2][2];  /* output offset from the centre → input offset */
    double tx, ty;   /* the shift, pixels */
    int elastic;
    uint64_t field_seed;
} geometry;

static void mat_mul(double a[2][2], const double b[2][2])
{
    double r[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
    memcpy(a, r, sizeof r);
}

/* The draws of the geometric transforms and the inverse map they compose to,
 *   input − c = F · S⁻¹ · R90⁻ᵏ · R(θ)⁻¹ · (output + d − c − t).
 * Matrices whose transforms did not fire are exactly the identity, so flips and quarter turns
 * alone give entries 0 and ±1: the sampling positions are then exact pixel centres. */
static void draw_geometry(const ftn_augment_config *c, uint64_t ss, int h, int w, geometry *g)
{
    ftn_rng r;
    memset(g, 0, sizeof *g);
    double m[2][2] = { { 1, 0 }, { 0, 1 } };
    if (c->p_rotate > 0 && fires(&r, ss, S_ROTATE, c->p_rotate) && c->rotate > 0) {
        double th = symmetric(&r, c->rotate) * (3.14159265358979323846 / 180);
        const double inv[2][2] = { { cos(th), sin(th) }, { -sin(th), cos(th) } }; /* R(θ)⁻¹ */
        mat_mul(m, inv);
        g->active = 1;
    }
    if (c->p_rot90 > 0 && fires(&r, ss, S_ROT90, c->p_rot90)) {
        int k = 1 + (int)ftn_rng_below(&r, 3);
        static const double quarter_inv[2][2] = { { 0, 1 }, { -1, 0 } }; /* a quarter turn back */
        double q[2][2] = { { 1, 0 }, { 0, 1 } };
        for (int i = 0; i < k; i++) mat_mul(q, quarter_inv);
        mat_mul(q, m); /* R90⁻ᵏ · R(θ)⁻¹ */
        memcpy(m, q, sizeof q);
        g->active = 1;
    }
    double sx = 1, sy = 1;
    if (c->p_scale > 0 && fires(&r, ss, S_SCALE, c->p_scale)) {
        double s = uniform_in(&r, c->scale_min, c->scale_max);
        sx *= s, sy *= s;
    }
    if (c->p_aniso > 0 && fires(&r, ss, S_ANISO, c->p_aniso)) {
        sx *= 1 + symmetric(&r, c->aniso);
        sy *= 1 + symmetric(&r, c->aniso);
    }
    if (sx != 1 || sy != 1) g->active = 1;
    double fx = c->p_flip_x > 0 && fires(&r, ss, S_FLIP_X, c->p_flip_x) ? -1 : 1;
    double fy = c->p_flip_y > 0 && fires(&r, ss, S_FLIP_Y, c->p_flip_y) ? -1 : 1;
    if (fx < 0 || fy < 0) g->active = 1;
    for (int j = 0; j < 2; j++) {
        m[0][j] *= fx / sx;
        m[1][j] *= fy / sy;
    }
    if (c->p_translate > 0 && fires(&r, ss, S_TRANSLATE, c->p_translate)) {
        g->tx = symmetric(&r, c->translate) * w;
        g->ty = symmetric(&r, c->translate) * h;
        if (g->tx != 0 || g->ty != 0) g->active = 1;
    }
    if (on_elastic(c) && fires(&r, ss, S_ELASTIC, c->p_elastic)) {
        g->elastic = 1;
        g->field_seed = ftn_rng_next(&r);
        g->active = 1;
    }
    memcpy(g->m, m, sizeof m);
}

/* Uniform noise in [−1, 1] on a gh×gw grid, smoothed by the Gaussian k[0..2r] and scaled by
 * `scale` (tmp: gh×gw floats). */
static void smooth_noise(ftn_rng *g, float *d, float *tmp, int gh, int gw, const float *k, int r, float scale)
{
    size_t n = (size_t)gh * gw;
    for (size_t i = 0; i < n; i++) d[i] = (float)(2 * ftn_rng_uniform(g) - 1);
    smooth_plane(d, tmp, gh, gw, k, r);
    for (size_t i = 0; i < n; i++) d[i] *= scale;
}

/* The elastic displacement, dx and dy (h×w each): uniform noise in [−1, 1] per node and axis,
 * smoothed by a Gaussian of sigma pixels, scaled so that its standard deviation is alpha pixels
 * (smoothing white noise of variance 1/3 with the separable kernel k leaves a standard deviation
 * of √(1/3) · Σk², away from the edges). The field is that smooth, so it is drawn on a grid of
 * nodes g = ⌊sigma / 2⌋ pixels apart (two nodes per sigma; g = 1 below sigma 4 or when the grid
 * does not fit in tmp) and interpolated bilinearly: 1/g² of the noise and of the smoothing. */
static void elastic_field(const ftn_augment_config *c, uint64_t field_seed, int h, int w, float *dx, float *dy,
                          float *tmp)
{
    int g = (int)(c->elastic_sigma / 2);
    if (g < 1) g = 1;
    int gh = (h - 1) / g + 2, gw = (w - 1) / g + 2; /* nodes at 0, g, 2g, …, past the last pixel */
    if (g > 1 && 3 * (size_t)gh * gw > (size_t)h * w) g = 1;
    float k[2 * MAX_RADIUS + 1];
    int r = gauss_kernel(c->elastic_sigma / g, k);
    double k2 = 0;
    for (int i = 0; i <= 2 * r; i++) k2 += (double)k[i] * k[i];
    float scale = (float)(c->elastic_alpha / (sqrt(1.0 / 3) * k2));
    ftn_rng rng;
    ftn_rng_seed(&rng, field_seed);
    if (g == 1) {
        smooth_noise(&rng, dx, tmp, h, w, k, r, scale);
        smooth_noise(&rng, dy, tmp, h, w, k, r, scale);
        return;
    }
    float *cx = tmp, *cy = cx + (size_t)gh * gw, *ct = cy + (size_t)gh * gw;
    smooth_noise(&rng, cx, ct, gh, gw, k, r, scale);
    smooth_noise(&rng, cy, ct, gh, gw, k, r, scale);
    const float inv = 1.0f / (float)g;
    for (int y = 0; y < h; y++) {
        int j = y / g;
        float ty = (float)(y - j * g) * inv;
        const float *x0 = cx + (size_t)j * gw, *x1 = x0 + gw, *y0 = cy + (size_t)j * gw, *y1 = y0 + gw;
        for (int x = 0; x < w; x++) {
            int i = x / g;
            float tx = (float)(x - i * g) * inv;
            float a = x0[i] + tx * (x0[i + 1] - x0[i]), b = x1[i] + tx * (x1[i + 1] - x1[i]);
            float p = y0[i] + tx * (y0[i + 1] - y0[i]), q = y1[i] + tx * (y1[i + 1] - y1[i]);
            dx[(size_t)y * w + x] = a + ty * (b - a);
            dy[(size_t)y * w + x] = p + ty * (q - p);
        }
    }
}

/* One sampling pass of image (C planes) and mask through the composed map, into out_img and
 * out_mask. The image is bilinear. The mask is interpolated bilinearly from its 0/1 values at the
 * same position and weights, then thresholded at 0.5: its boundary stays where linear
 * interpolation of the image puts the lesion's edge (it moves with the image to sub-pixel
 * precision, without the staircase nearest-neighbour sampling makes of rotated or scaled edges),
 * and the mask stays binary, as the losses and metrics want it. */
static void resample(const geometry *g, ftn_augment_border border, const float *img, int ch, int h, int w,
                     const float *mask, const float *dx, const float *dy, float *out_img, float *out_mask)
{
    const float m00 = (float)g->m[0][0], m01 = (float)g->m[0][1], m10 = (float)g->m[1][0], m11 = (float)g->m[1][1];
    const float cx = 0.5f * (float)(w - 1), cy = 0.5f * (float)(h - 1);
    const float tx = (float)g->tx, ty = (float)g->ty;
    const size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t o = (size_t)y * w + x;
            float qx = (float)x, qy = (float)y;
            if (dx) qx += dx[o], qy += dy[o];
            float ux = qx - cx - tx, uy = qy - cy - ty;
            float sx = m00 * ux + m01 * uy + cx, sy = m10 * ux + m11 * uy + cy;
            /* the four neighbours and their weights; outside the image: the edge pixel (EDGE, by
             * clamping the position, which is exact) or weight 0 (ZERO) */
            float wx0, wx1, wy0, wy1;
            int x0, x1, y0, y1;
            if (border == FTN_AUGMENT_BORDER_EDGE) {
                sx = clampf(sx, 0.0f, (float)(w - 1));
                sy = clampf(sy, 0.0f, (float)(h - 1));
                x0 = (int)sx, y0 = (int)sy;
                x1 = x0 + (x0 < w - 1), y1 = y0 + (y0 < h - 1);
                wx1 = sx - (float)x0, wy1 = sy - (float)y0;
                wx0 = 1 - wx1, wy0 = 1 - wy1;
            } else {
                sx = clampf(sx, -2.0f, (float)w + 1); /* beyond: every weight is 0 anyway */
                sy = clampf(sy, -2.0f, (float)h + 1);
                float fx0 = floorf(sx), fy0 = floorf(sy);
                x0 = (int)fx0, y0 = (int)fy0, x1 = x0 + 1, y1 = y0 + 1;
                wx1 = sx - fx0, wy1 = sy - fy0;
                wx0 = 1 - wx1, wy0 = 1 - wy1;
                if (x0 < 0 || x0 >= w) wx0 = 0, x0 = 0;
                if (x1 < 0 || x1 >= w) wx1 = 0, x1 = 0;
                if (y0 < 0 || y0 >= h) wy0 = 0, y0 = 0;
                if (y1 < 0 || y1 >= h) wy1 = 0, y1 = 0;
            }
            const size_t i00 = (size_t)y0 * w + x0, i01 = (size_t)y0 * w + x1;
            const size_t i10 = (size_t)y1 * w + x0, i11 = (size_t)y1 * w + x1;
            const float w00 = wx0 * wy0, w01 = wx1 * wy0, w10 = wx0 * wy1, w11 = wx1 * wy1;
            for (int c = 0; c < ch; c++) {
                const float *p = img + (size_t)c * plane;
                float v = w00 * p[i00] + w01 * p[i01] + w10 * p[i10] + w11 * p[i11];
                out_img[(size_t)c * plane + o] = clampf(v, 0.0f, 1.0f); /* rounding only */
            }
            if (mask) {
                float v = w00 * mask[i00] + w01 * mask[i01] + w10 * mask[i10] + w11 * mask[i11];
                out_mask[o] = v > 0.5f ? 1.0f : 0.0f;
            }
        }
}

/* ---- intensity transforms ------------------------------------------------------------------ */

static float clamp01(float v) { return clampf(v, 0.0f, 1.0f); }

static void intensity(const ftn_augment_config *c, uint64_t ss, float *img, int ch, int h, int w, float *tmp)
{
    ftn_rng r;
    const size_t plane = (size_t)h * w, n = plane * (size_t)ch;
    if (on_blur(c) && fires(&r, ss, S_BLUR, c->p_blur)) {
        double sigma = uniform_in(&r, c->blur_min, c->blur_max);
        if (sigma > 0) {
            float k[2 * MAX_RADIUS + 1];
            int rad = gauss_kernel(sigma, k);
            for (int i = 0; i < ch; i++) smooth_plane(img + (size_t)i * plane, tmp, h, w, k, rad);
        }
    }
    if (on_brightness(c) && fires(&r, ss, S_BRIGHTNESS, c->p_brightness)) {
        float b = (float)symmetric(&r, c->brightness);
        if (b != 0 && c->brightness_mode == FTN_AUGMENT_BRIGHTNESS_ADD)
            for (size_t i = 0; i < n; i++) img[i] = clamp01(img[i] + b);
        else if (b != 0)
            for (size_t i = 0; i < n; i++) img[i] = clamp01(img[i] * (1 + b));
    }
    if (on_contrast(c) && fires(&r, ss, S_CONTRAST, c->p_contrast)) {
        float f = (float)(1 + symmetric(&r, c->contrast));
        for (int i = 0; f != 1 && i < ch; i++) {
            float *p = img + (size_t)i * plane;
            double sum = 0;
            for (size_t j = 0; j < plane; j++) sum += p[j];
            float mean = (float)(sum / (double)plane);
            for (size_t j = 0; j < plane; j++) p[j] = clamp01((p[j] - mean) * f + mean);
        }
    }
    if (on_gamma(c) && fires(&r, ss, S_GAMMA, c->p_gamma)) {
        double g;
        if (c->gamma_min < 1 && c->gamma_max > 1)
            g = ftn_rng_uniform(&r) < 0.5 ? uniform_in(&r, c->gamma_min, 1) : uniform_in(&r, 1, c->gamma_max);
        else
            g = uniform_in(&r, c->gamma_min, c->gamma_max);
        float gf = (float)g;
        if (gf != 1)
            for (size_t i = 0; i < n; i++) img[i] = powf(clamp01(img[i]), gf);
    }
    if (on_noise(c) && fires(&r, ss, S_NOISE, c->p_noise)) {
        double sd = c->noise * ftn_rng_uniform(&r);
        for (size_t i = 0; sd > 0 && i < n; i += 2) { /* Marsaglia's polar method: two normals a draw */
            double u, v, q;
            do {
                u = 2 * ftn_rng_uniform(&r) - 1;
                v = 2 * ftn_rng_uniform(&r) - 1;
                q = u * u + v * v;
            } while (q >= 1 || q == 0);
            double f = sd * sqrt(-2 * log(q) / q);
            img[i] = clamp01(img[i] + (float)(u * f));
            if (i + 1 < n) img[i + 1] = clamp01(img[i + 1] + (float)(v * f));
        }
    }
}

/* ---- one sample, a batch --------------------------------------------------------------------- */

/* Sizes whose scratch (C + 4)·H·W floats fits a size_t many times over. */
static int sizes_ok(int channels, int h, int w)
{
    return channels >= 1 && channels <= 64 && h >= 1 && w >= 1 && h <= (1 << 20) && w <= (1 << 20) &&
           (size_t)h * (size_t)w <= ((size_t)1 << 36) / 64;
}

size_t ftn_augment_scratch_floats(int channels, int h, int w)
{
    if (!sizes_ok(channels, h, w)) return 0;
    return ((size_t)channels + 4) * (size_t)h * (size_t)w;
}

static ftn_status check_sample_args(const ftn_augment_config *c, const float *image, int channels, int h, int w)
{
    if (!c || !image) return ftn_fail(FTN_EINVAL, "augment: missing configuration or image");
    if (!sizes_ok(channels, h, w))
        return ftn_fail(FTN_EINVAL, "augment: cannot augment a %dx%dx%d sample (channels 1 to 64, sides from 1)", channels,
                        h, w);
    return ftn_augment_check(c);
}

/* The work of ftn_augment_sample once its arguments are checked; scratch is not NULL. */
static void augment_one(const ftn_augment_config *c, uint64_t seed, int epoch, int sample_index, float *image,
                        int channels, int h, int w, float *mask, float *scratch)
{
    const size_t plane = (size_t)h * w;
    uint64_t ss = ftn_augment_sample_seed(seed, epoch, sample_index);
    float *out_img = scratch, *out_mask = out_img + plane * (size_t)channels;
    float *dx = out_mask + plane, *dy = dx + plane, *tmp = dy + plane;
    geometry g;
    draw_geometry(c, ss, h, w, &g);
    if (g.active) {
        if (g.elastic) elastic_field(c, g.field_seed, h, w, dx, dy, tmp);
        resample(&g, c->border, image, channels, h, w, mask, g.elastic ? dx : NULL, g.elastic ? dy : NULL, out_img,
                 out_mask);
        memcpy(image, out_img, sizeof(float) * plane * (size_t)channels);
        if (mask) memcpy(mask, out_mask, sizeof(float) * plane);
    }
    intensity(c, ss, image, channels, h, w, tmp);
}

ftn_status ftn_augment_sample(const ftn_augment_config *c, uint64_t seed, int epoch, int sample_index, float *image,
                              int channels, int h, int w, float *mask, float *scratch)
{
    FTN_TRY(check_sample_args(c, image, channels, h, w));
    if (ftn_augment_is_identity(c)) return FTN_OK;
    float *own = NULL;
    if (!scratch) {
        own = scratch = malloc(sizeof(float) * ftn_augment_scratch_floats(channels, h, w));
        if (!own) return ftn_fail(FTN_ENOMEM, "augment: cannot allocate scratch for a %dx%dx%d sample", channels, h, w);
    }
    augment_one(c, seed, epoch, sample_index, image, channels, h, w, mask, scratch);
    free(own);
    return FTN_OK;
}

ftn_status ftn_augment_batch(const ftn_augment_config *c, uint64_t seed, int epoch, const int *index, int n,
                             float *images, int channels, int h, int w, float *masks)
{
    if (n < 0) return ftn_fail(FTN_EINVAL, "augment: %d samples", n);
    if (n == 0) return FTN_OK;
    FTN_TRY(check_sample_args(c, images, channels, h, w));
    if (ftn_augment_is_identity(c)) return FTN_OK;
    const size_t plane = (size_t)h * w, floats = ftn_augment_scratch_floats(channels, h, w);
    int failed = 0;
#pragma omp parallel
    {
        float *scratch = malloc(sizeof(float) * floats);
        if (!scratch) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic)
        for (int i = 0; i < n; i++)
            if (scratch)
                augment_one(c, seed, epoch, index ? index[i] : i, images + (size_t)i * plane * (size_t)channels, channels,
                            h, w, masks ? masks + (size_t)i * plane : NULL, scratch);
        free(scratch);
    }
    if (failed) return ftn_fail(FTN_ENOMEM, "augment: cannot allocate scratch for %dx%dx%d samples", channels, h, w);
    return FTN_OK;
}
