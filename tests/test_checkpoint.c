/* Checkpoints: bit-exact round trip with metadata; files with a tensor missing, of the wrong
 * shape, foreign, or with wrong metadata are refused with a message; optimiser state too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "io/safetensors.h"
#include "testlib.h"

/* Rewrites a checkpoint through a filter: drop tensor `drop`, reshape `reshape`, add an extra
 * tensor, or replace one metadata value. */
static void rewrite(const char *src, const char *dst, const char *drop, const char *reshape, int extra,
                    const char *meta_key, const char *meta_value)
{
    ftn_st_file *f;
    CHECK_OK(ftn_safetensors_read(src, &f));
    int n = ftn_st_count(f);
    ftn_st_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    int k = 0;
    static float extra_data[4] = { 1, 2, 3, 4 };
    for (int i = 0; i < n; i++) {
        const ftn_st_tensor *t = ftn_st_get(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        ts[k] = *t;
        if (reshape && !strcmp(t->name, reshape) && t->ndim == 4) { /* same count, other shape */
            ts[k].dims[0] = t->dims[1];
            ts[k].dims[1] = t->dims[0];
        }
        k++;
    }
    if (extra) ts[k++] = (ftn_st_tensor){ "stray.weight", 1, { 4 }, extra_data };
    const char *all[] = { "format", "format_version", "model", "channels", "height", "width", "loss",
                          "alpha", "beta", "gamma", "smooth", "reduction" };
    const char *keys[12], *vals[12];
    int nk = 0;
    for (int i = 0; i < 12; i++) { /* the keys the source has, one of them replaced */
        keys[nk] = all[i];
        vals[nk] = meta_key && !strcmp(all[i], meta_key) ? meta_value : ftn_st_meta(f, all[i]);
        if (vals[nk]) nk++;
    }
    CHECK_OK(ftn_safetensors_write(dst, ts, k, keys, vals, nk));
    free(ts);
    ftn_st_file_free(f);
}

static void refused(const char *path, const char *needle)
{
    ftn_model *m = NULL;
    ftn_status s = ftn_model_load(path, &m);
    CHECK(s != FTN_OK && m == NULL, "%s loaded", path);
    CHECK(strstr(ftn_last_error(), needle) != NULL, "message '%s' lacks '%s'", ftn_last_error(), needle);
}

int main(void)
{
    const char *dir = tl_tmpdir("checkpoint");
    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 3, 32, 48, &m));
    ftn_model_init(m, 9);
    ftn_loss_config l = ftn_loss_default(FTN_LOSS_DICE);
    l.alpha = 0.6f;
    ftn_model_set_loss(m, &l);
    char p[1024], op[1024];
    snprintf(p, sizeof p, "%s", tl_path(dir, "m.safetensors"));
    snprintf(op, sizeof op, "%s", tl_path(dir, "m.optim.safetensors"));
    CHECK_OK(ftn_model_save(m, p));

    ftn_model *r;
    CHECK_OK(ftn_model_load(p, &r));
    CHECK(!strcmp(ftn_model_name(r), "attn-unet-mi-ds"));
    ftn_shape in = ftn_model_input_shape(r);
    CHECK(in.c == 3 && in.h == 32 && in.w == 48);
    CHECK(ftn_model_loss(r).kind == FTN_LOSS_DICE && ftn_model_loss(r).alpha == 0.6f);
    CHECK(ftn_model_tensor_count(r) == ftn_model_tensor_count(m));
    int same = 1;
    for (int i = 0; i < ftn_model_tensor_count(m); i++) {
        int d[4], nd;
        float *a = ftn_model_tensor(m, i, d, &nd), *b = ftn_model_tensor(r, i, NULL, NULL);
        size_t c = 1;
        for (int k = 0; k < nd; k++) c *= d[k];
        same &= !memcmp(a, b, c * 4) && !strcmp(ftn_model_tensor_name(m, i), ftn_model_tensor_name(r, i));
    }
    CHECK(same, "round trip is not bit-exact");
    ftn_model_free(r);

    rewrite(p, tl_path(dir, "missing.safetensors"), "attn2.psi.weight", NULL, 0, NULL, NULL);
    refused(tl_path(dir, "missing.safetensors"), "attn2.psi.weight");
    rewrite(p, tl_path(dir, "shape.safetensors"), NULL, "dec2.conv1.weight", 0, NULL, NULL);
    refused(tl_path(dir, "shape.safetensors"), "dec2.conv1.weight");
    rewrite(p, tl_path(dir, "extra.safetensors"), NULL, NULL, 1, NULL, NULL);
    refused(tl_path(dir, "extra.safetensors"), "stray.weight");
    rewrite(p, tl_path(dir, "model.safetensors"), NULL, NULL, 0, "model", "unet");
    refused(tl_path(dir, "model.safetensors"), "the model needs");
    rewrite(p, tl_path(dir, "version.safetensors"), NULL, NULL, 0, "format_version", "99");
    refused(tl_path(dir, "version.safetensors"), "version");
    rewrite(p, tl_path(dir, "size.safetensors"), NULL, NULL, 0, "height", "30");
    refused(tl_path(dir, "size.safetensors"), "16");
    rewrite(p, tl_path(dir, "channels.safetensors"), NULL, NULL, 0, "channels", "x");
    refused(tl_path(dir, "channels.safetensors"), "channels");
    refused(tl_path(dir, "does-not-exist.safetensors"), "does-not-exist");
    /* non-finite or out-of-range values are refused with the tensor's or the key's name (a NaN
     * weight, an infinite running variance and alpha = nan all loaded and predicted before) */
    rewrite(p, tl_path(dir, "alpha.safetensors"), NULL, NULL, 0, "alpha", "nan");
    refused(tl_path(dir, "alpha.safetensors"), "'alpha' = 'nan'");
    rewrite(p, tl_path(dir, "gamma.safetensors"), NULL, NULL, 0, "gamma", "0");
    refused(tl_path(dir, "gamma.safetensors"), "'gamma' = '0'");
    struct { const char *tensor; float value; } poison[] = { { "dec2.conv1.weight", NAN },
                                                            { "enc1.bn1.running_var", INFINITY } };
    for (int k = 0; k < 2; k++) {
        int ti = ftn_model_tensor_find(m, poison[k].tensor);
        CHECK(ti >= 0, "no tensor %s", poison[k].tensor);
        if (ti < 0) continue;
        float *t = ftn_model_tensor(m, ti, NULL, NULL), kept = t[5];
        t[5] = poison[k].value;
        CHECK_OK(ftn_model_save(m, tl_path(dir, "poisoned.safetensors")));
        t[5] = kept;
        char want[128];
        snprintf(want, sizeof want, "'%s' holds a non-finite value", poison[k].tensor);
        refused(tl_path(dir, "poisoned.safetensors"), want);
    }

    /* optimiser state: SGD velocity and the iteration survive a round trip */
    ftn_session *s;
    CHECK_OK(ftn_session_create(m, 2, FTN_ENGINE_REF, &s));
    float x[2 * 3 * 32 * 48], y[2 * 32 * 48], loss;
    uint64_t st = 1;
    tl_fill_uniform(x, sizeof x / 4, &st, 0, 1);
    for (size_t i = 0; i < sizeof y / 4; i++) y[i] = (i % 48) > 20;
    ftn_optimizer_config o = ftn_optimizer_default(FTN_OPT_SGD);
    CHECK_OK(ftn_train_step(s, x, y, &l, &o, &loss));
    CHECK_OK(ftn_optimizer_save(m, op));
    CHECK_OK(ftn_model_save(m, p));
    CHECK_OK(ftn_model_load(p, &r));
    CHECK_OK(ftn_optimizer_load(r, op));
    CHECK(ftn_model_iteration(r) == 1);
    /* the next step from the restored state equals the next step of the original */
    ftn_session *s2;
    CHECK_OK(ftn_session_create(r, 2, FTN_ENGINE_REF, &s2));
    float l1, l2;
    CHECK_OK(ftn_train_step(s, x, y, &l, &o, &l1));
    CHECK_OK(ftn_train_step(s2, x, y, &l, &o, &l2));
    CHECK(l1 == l2, "%g vs %g", l1, l2);
    int i0 = ftn_model_tensor_find(m, "enc1.conv1.weight");
    CHECK(!memcmp(ftn_model_tensor(m, i0, NULL, NULL), ftn_model_tensor(r, i0, NULL, NULL), 32 * 3 * 9 * 4));
    CHECK(ftn_optimizer_load(r, p) != FTN_OK, "a checkpoint is not an optimiser state");
    ftn_session_free(s);
    ftn_session_free(s2);
    ftn_model_free(r);
    ftn_model_free(m);
    return tl_finish();
}
