/* Checkpoints: bit-exact round trip with metadata; files with a tensor missing, of the wrong
 * shape, foreign, or with wrong metadata are refused with a message; optimiser state too.
 * PyTorch's BN counters (num_batches_tracked) are ignored, the conventions in the metadata
 * checked; ftn_model_load_weights (fine-tuning: any size, same model and channels) and a
 * training run started from a checkpoint (train --init), recorded in config.json for --resume. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "ftunet_protocol.h"
#include "io/safetensors.h"
#include "testlib.h"

/* Rewrites a checkpoint through a filter: drop tensor `drop`, reshape `reshape`, add an extra
 * tensor (1: "stray.weight"; 2, 3, 4: a scalar BN counter of a BN layer, of a convolution, bare),
 * or replace one metadata value. */
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
    static const char *const extras[] = { NULL, "stray.weight", "enc1.bn1.num_batches_tracked",
                                          "enc1.conv1.num_batches_tracked", "num_batches_tracked" };
    if (extra) ts[k++] = (ftn_st_tensor){ extras[extra], extra == 1 ? 1 : 0, { extra == 1 ? 4 : 0 }, extra_data };
    const char *all[] = { "format", "format_version", "model", "channels", "height", "width", "loss",
                          "alpha", "beta", "gamma", "smooth", "reduction", "layout", "bn_eps" };
    enum { NK = sizeof all / sizeof *all };
    const char *keys[NK], *vals[NK];
    int nk = 0;
    for (int i = 0; i < NK; i++) { /* the keys the source has, one of them replaced */
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

/* The conventions a PyTorch user needs, in every checkpoint's metadata. */
static void check_metadata(const char *path)
{
    ftn_st_file *f;
    CHECK_OK(ftn_safetensors_read(path, &f));
    if (!f) return;
    const char *want[][2] = { { "layout", "NCHW" }, { "conv_weight", "out,in,kh,kw" }, { "deconv_weight", "in,out,kh,kw" },
                              { "bn_eps", "0.001" }, { "bn_momentum_pytorch", "0.01" }, { "activation", "relu" } };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const char *v = ftn_st_meta(f, want[i][0]);
        CHECK(v && !strcmp(v, want[i][1]), "metadata %s = %s, expected %s", want[i][0], v ? v : "(absent)", want[i][1]);
    }
    const char *run = ftn_st_meta(f, "bn_running_update"), *out = ftn_st_meta(f, "output");
    CHECK(run && strstr(run, "0.99*r + 0.01*batch"), "bn_running_update = %s", run ? run : "(absent)");
    CHECK(out && strstr(out, "sigmoid"), "output = %s", out ? out : "(absent)");
    ftn_st_file_free(f);
}

static int same_tensors(ftn_model *a, ftn_model *b, int trainable_only, double tol)
{
    double worst = 0;
    for (int i = 0; i < ftn_model_tensor_count(a); i++) {
        const char *name = ftn_model_tensor_name(a, i);
        if (trainable_only && strstr(name, ".running_")) continue;
        int d[4], nd, j = ftn_model_tensor_find(b, name);
        if (j < 0) return 0;
        float *x = ftn_model_tensor(a, i, d, &nd), *y = ftn_model_tensor(b, j, NULL, NULL);
        size_t n = 1;
        for (int k = 0; k < nd; k++) n *= (size_t)d[k];
        for (size_t k = 0; k < n; k++) worst = fmax(worst, fabs((double)x[k] - y[k]));
    }
    return worst <= tol;
}

/* Fine-tuning's loader: weights into a model of another size; other models and channels refused,
 * the target unchanged. */
static void test_load_weights(const char *dir, ftn_model *m, const char *path)
{
    ftn_model *big, *other;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 3, 64, 64, &big));
    CHECK_OK(ftn_model_init(big, 1));
    CHECK(!same_tensors(big, m, 0, 0), "the seeds give the same weights: the check below is void");
    CHECK_OK(ftn_model_load_weights(big, path));
    CHECK(same_tensors(big, m, 0, 0), "weights loaded at 64x64 differ from the 32x48 checkpoint's");
    CHECK(ftn_model_iteration(big) == 0 && ftn_model_loss(big).kind == FTN_LOSS_FOCAL_TVERSKY,
          "load_weights changed the iteration or the loss");
    ftn_shape in = ftn_model_input_shape(big);
    CHECK(in.h == 64 && in.w == 64);
    ftn_model_free(big);
    struct { const char *model; int channels; const char *needle; } bad[] = {
        { "attn-unet-ds", 3, "a checkpoint of attn-unet-mi-ds with 3 channels; this model is attn-unet-ds with 3" },
        { "attn-unet-mi-ds", 1, "with 3 channels; this model is attn-unet-mi-ds with 1 channel" },
    };
    for (int k = 0; k < 2; k++) {
        CHECK_OK(ftn_model_create(bad[k].model, bad[k].channels, 32, 32, &other));
        CHECK_OK(ftn_model_init(other, 5));
        int i0 = ftn_model_tensor_find(other, "enc1.conv1.bias");
        float before = ftn_model_tensor(other, i0, NULL, NULL)[0];
        CHECK(ftn_model_load_weights(other, path) == FTN_EINVAL && strstr(ftn_last_error(), bad[k].needle), "%s",
              ftn_last_error());
        CHECK(ftn_model_tensor(other, i0, NULL, NULL)[0] == before);
        ftn_model_free(other);
    }
    /* a missing tensor leaves the target as it was */
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 3, 32, 48, &other));
    CHECK_OK(ftn_model_init(other, 5));
    ftn_model *copy;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 3, 32, 48, &copy));
    CHECK_OK(ftn_model_init(copy, 5));
    CHECK(ftn_model_load_weights(other, tl_path(dir, "missing.safetensors")) == FTN_EFORMAT);
    CHECK(same_tensors(other, copy, 0, 0), "a failed load changed the model");
    ftn_model_free(other);
    ftn_model_free(copy);
    uint32_t crc = 0;
    CHECK_OK(ftn_checkpoint_crc32(path, &crc));
    /* CRC-32 of "123456789" is cbf43926 (the check value of zlib's crc32) */
    FILE *f = fopen(tl_path(dir, "check.txt"), "w");
    if (f) { fputs("123456789", f); fclose(f); }
    CHECK_OK(ftn_checkpoint_crc32(tl_path(dir, "check.txt"), &crc));
    CHECK(crc == 0xcbf43926u, "crc32 %08x", (unsigned)crc);
}

/* train --init: the run starts from the checkpoint's weights (at lr 1e-12 one epoch leaves them
 * within 1e-6), at another input size too; without it, from the seed's; config.json records the
 * checkpoint and a resume must name the same, unchanged file. */
static ftn_train_config init_run(const char *data, const char *run, int size, const char *init)
{
    ftn_train_config c = ftn_train_default();
    c.data = data;
    c.run_dir = run;
    c.model = "attn-unet";
    c.height = c.width = size;
    c.epochs = 1;
    c.batch = 4;
    c.opt.lr = 1e-12f;
    c.test_split = 0;
    c.val_split = 0;
    c.engine = FTN_ENGINE_REF;
    c.seed = 1;
    c.init = init;
    return c;
}

static void test_train_init(void)
{
    const char *dir = tl_tmpdir("checkpoint-init");
    char data[1024], init[1024], other[1024], run[1024];
    snprintf(data, sizeof data, "%s", tl_path(dir, "data"));
    snprintf(init, sizeof init, "%s", tl_path(dir, "init.safetensors"));
    snprintf(other, sizeof other, "%s", tl_path(dir, "unet.safetensors"));
    CHECK_OK(ftn_synth_write(data, FTN_SYNTH_ULTRASOUND, 6, 3, 32, 32));
    ftn_model *ck, *u;
    CHECK_OK(ftn_model_create("attn-unet", 1, 32, 32, &ck));
    CHECK_OK(ftn_model_init(ck, 77));
    CHECK_OK(ftn_model_save(ck, init));
    CHECK_OK(ftn_model_create("unet", 1, 32, 32, &u));
    CHECK_OK(ftn_model_init(u, 1));
    CHECK_OK(ftn_model_save(u, other));
    ftn_model_free(u);
    ftn_model *got;
    struct { const char *name; int size; const char *init; int same; } runs[] = {
        { "with-init", 32, init, 1 }, { "with-init-48", 48, init, 1 }, { "without", 32, NULL, 0 } };
    for (int k = 0; k < 3; k++) {
        snprintf(run, sizeof run, "%s", tl_path(dir, runs[k].name));
        ftn_train_config c = init_run(data, run, runs[k].size, runs[k].init);
        ftn_train_summary sum;
        CHECK_OK(ftn_train_run(&c, NULL, NULL, &sum));
        got = NULL;
        CHECK_OK(ftn_model_load(tl_path(run, "last.safetensors"), &got));
        if (!got) continue;
        CHECK(same_tensors(got, ck, 1, 1e-6) == runs[k].same, "%s: the run's weights %s the checkpoint's", runs[k].name,
              runs[k].same ? "differ from" : "equal");
        CHECK(ftn_model_iteration(got) > 0 && ftn_model_input_shape(got).h == runs[k].size);
        ftn_model_free(got);
    }
    /* config.json: the absolute path and the CRC-32 */
    snprintf(run, sizeof run, "%s", tl_path(dir, "with-init"));
    uint32_t crc;
    CHECK_OK(ftn_checkpoint_crc32(init, &crc));
    uint8_t *text = NULL;
    size_t n;
    CHECK_OK(ftn_read_file(tl_path(run, "config.json"), 1 << 24, &text, &n));
    char want[64];
    snprintf(want, sizeof want, "\"crc32\":\t\"%08x\"", (unsigned)crc);
    CHECK(text && strstr((char *)text, want) && strstr((char *)text, "\"path\":\t\"/"), "config.json: %s", text ? (char *)text : "");
    free(text);
    CHECK_OK(ftn_read_file(tl_path(tl_path(dir, "without"), "config.json"), 1 << 24, &text, &n));
    CHECK(text && strstr((char *)text, "\"init\":\t\"\""), "config.json without --init");
    free(text);
    /* resume: the same checkpoint continues; none, another, or the file changed is refused */
    ftn_train_config c = init_run(data, run, 32, init);
    c.epochs = 2;
    c.resume = 1;
    c.init = NULL;
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "init differs"), "%s", ftn_last_error());
    c.init = other;
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "init differs"), "%s", ftn_last_error());
    c.init = init;
    CHECK_OK(ftn_train_run(&c, NULL, NULL, NULL));
    float *t = ftn_model_tensor(ck, ftn_model_tensor_find(ck, "enc1.conv1.bias"), NULL, NULL);
    t[0] += 1;
    CHECK_OK(ftn_model_save(ck, init));
    c.epochs = 3;
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "init differs"), "%s", ftn_last_error());
    /* another model or channels: a clear error before training */
    snprintf(run, sizeof run, "%s", tl_path(dir, "mismatch"));
    c = init_run(data, run, 32, other);
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "a checkpoint of unet") &&
          strstr(ftn_last_error(), "this model is attn-unet"), "%s", ftn_last_error());
    c = init_run(data, run, 32, init);
    c.channels = 3;
    c.overwrite = 1;
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EINVAL && strstr(ftn_last_error(), "channel"), "%s", ftn_last_error());
    c = init_run(data, run, 32, tl_path(dir, "none.safetensors"));
    c.overwrite = 1;
    CHECK(ftn_train_run(&c, NULL, NULL, NULL) == FTN_EIO && strstr(ftn_last_error(), "none.safetensors"), "%s", ftn_last_error());
    ftn_model_free(ck);
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
    /* PyTorch's BN counter of a BN layer is ignored (the file loads, bit-exact); a counter of a
     * layer that is no BN, or a bare one, is as foreign as any other name */
    rewrite(p, tl_path(dir, "counter.safetensors"), NULL, NULL, 2, NULL, NULL);
    r = NULL;
    CHECK_OK(ftn_model_load(tl_path(dir, "counter.safetensors"), &r));
    if (r) {
        int i0 = ftn_model_tensor_find(r, "enc1.bn1.running_var");
        CHECK(!memcmp(ftn_model_tensor(r, i0, NULL, NULL), ftn_model_tensor(m, i0, NULL, NULL), 32 * 4));
        ftn_model_free(r);
    }
    rewrite(p, tl_path(dir, "counter-conv.safetensors"), NULL, NULL, 3, NULL, NULL);
    refused(tl_path(dir, "counter-conv.safetensors"), "enc1.conv1.num_batches_tracked");
    rewrite(p, tl_path(dir, "counter-bare.safetensors"), NULL, NULL, 4, NULL, NULL);
    refused(tl_path(dir, "counter-bare.safetensors"), "'num_batches_tracked' does not belong");
    /* the conventions the metadata states: another eps or layout would predict wrongly here */
    rewrite(p, tl_path(dir, "eps.safetensors"), NULL, NULL, 0, "bn_eps", "1e-05");
    refused(tl_path(dir, "eps.safetensors"), "'bn_eps' = '1e-05'");
    rewrite(p, tl_path(dir, "layout.safetensors"), NULL, NULL, 0, "layout", "NHWC");
    refused(tl_path(dir, "layout.safetensors"), "NCHW");
    rewrite(p, tl_path(dir, "eps-same.safetensors"), NULL, NULL, 0, "bn_eps", "1e-3");
    r = NULL;
    CHECK_OK(ftn_model_load(tl_path(dir, "eps-same.safetensors"), &r));
    ftn_model_free(r);
    check_metadata(p);
    test_load_weights(dir, m, p);
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
    test_train_init();
    return tl_finish();
}
