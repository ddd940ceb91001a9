/* safetensors: bit-exact round trips, and every kind of malformed file refused with a message. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftunet.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "testlib.h"

static const char *dir;

static void write_raw(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) { CHECK(0, "cannot create %s", path); return; }
    if (len) fwrite(bytes, 1, len, f);
    fclose(f);
}

/* A file with the given header text (not padded) and `data_len` bytes of data. */
static void write_st(const char *path, const char *json, size_t data_len)
{
    size_t n = strlen(json);
    uint8_t *buf = calloc(1, 8 + n + data_len + 1);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    for (size_t i = 0; i < data_len; i++) buf[8 + n + i] = (uint8_t)i;
    write_raw(path, buf, 8 + n + data_len);
    free(buf);
}

/* Expects the file to be refused with FTN_EFORMAT, a message, and (if given) a word in it. */
static void expect_refused_(const char *path, const char *word, int line)
{
    ftn_st_file *f = (ftn_st_file *)(uintptr_t)1;
    ftn_status st = ftn_safetensors_read(path, &f);
    const char *msg = ftn_last_error();
    CHECK(st == FTN_EFORMAT, "line %d: %s: status %s, message '%s'", line, path, ftn_status_name(st), msg);
    CHECK(f == NULL, "line %d: output not cleared", line);
    CHECK(msg && *msg, "line %d: empty message", line);
    CHECK(strstr(msg, path) != NULL, "line %d: message '%s' does not name the file", line, msg);
    if (word) CHECK(strstr(msg, word) != NULL, "line %d: message '%s' lacks '%s'", line, msg, word);
    if (st == FTN_OK) ftn_st_file_free(f);
}
#define expect_refused(path, word) expect_refused_(path, word, __LINE__)

static int tmp_files_left(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void test_round_trip(void)
{
    uint64_t rng = 7;
    float w4[2 * 3 * 3 * 3], b1[5], s0[1] = {-0.0f}, m2[3 * 4];
    tl_fill_uniform(w4, 54, &rng, -1, 1);
    tl_fill_uniform(b1, 5, &rng, -100, 100);
    tl_fill_uniform(m2, 12, &rng, 0, 1);
    w4[3] = NAN;
    w4[4] = INFINITY;
    w4[5] = 1e-45f; /* denormal */
    ftn_st_tensor t[] = {
        {"enc1.conv1.weight", 4, {2, 3, 3, 3}, w4},
        {"enc1.conv1.bias", 1, {5}, b1},
        {"scalar", 0, {0}, s0},
        {"empty", 2, {0, 3}, NULL},
        {"head.weight", 2, {3, 4}, m2},
    };
    const char *keys[] = {"model", "epoch", "note"};
    const char *vals[] = {"attn-unet-mi-ds", "12", "quotes \" and \\ and unicode \xc3\xa9"};
    const char *path = tl_path(dir, "rt.safetensors");
    CHECK_OK(ftn_safetensors_write(path, t, 5, keys, vals, 3));
    CHECK(tmp_files_left() == 0, "temporary file left behind");

    /* Header is padded to a multiple of 8 and the file is exactly header + data. */
    uint8_t *raw;
    size_t size;
    CHECK_OK(ftn_read_file(path, 1 << 20, &raw, &size));
    if (raw) {
        uint64_t n = 0;
        for (int i = 0; i < 8; i++) n |= (uint64_t)raw[i] << (8 * i);
        CHECK(n % 8 == 0, "header length %llu", (unsigned long long)n);
        CHECK(size == 8 + n + 4 * (54 + 5 + 1 + 0 + 12), "size %zu", size);
        CHECK(raw[8] == '{', "header starts with %c", raw[8]);
        free(raw);
    }

    ftn_st_file *f = NULL;
    CHECK_OK(ftn_safetensors_read(path, &f));
    if (!f) return;
    CHECK(ftn_st_count(f) == 5, "count %d", ftn_st_count(f));
    for (int i = 0; i < 5 && i < ftn_st_count(f); i++) {
        const ftn_st_tensor *r = ftn_st_get(f, i);
        CHECK(strcmp(r->name, t[i].name) == 0, "tensor %d is %s", i, r->name);
        CHECK(r->ndim == t[i].ndim, "%s ndim %d", r->name, r->ndim);
        for (int d = 0; d < t[i].ndim; d++) CHECK(r->dims[d] == t[i].dims[d], "%s dim %d", r->name, d);
        int64_t n = ftn_st_numel(r);
        CHECK(n == ftn_st_numel(&t[i]), "%s numel", r->name);
        CHECK(n == 0 || r->data != NULL, "%s data", r->name);
        CHECK(((uintptr_t)r->data & 3) == 0, "%s data not aligned", r->name);
        int same = 1;
        for (int64_t k = 0; k < n; k++) same &= bits(r->data[k]) == bits(t[i].data[k]);
        CHECK(same, "%s data differs", r->name);
        CHECK(ftn_st_find(f, t[i].name) == r, "find %s", t[i].name);
    }
    CHECK(ftn_st_get(f, 5) == NULL && ftn_st_get(f, -1) == NULL, "%s", "ftn_st_get(f, 5) == NULL && ftn_st_get(f, -1) == NULL");
    CHECK(ftn_st_find(f, "nope") == NULL, "%s", "ftn_st_find(f, \"nope\") == NULL");
    CHECK(ftn_st_find(f, "__metadata__") == NULL, "%s", "ftn_st_find(f, \"__metadata__\") == NULL");
    for (int i = 0; i < 3; i++) {
        const char *v = ftn_st_meta(f, keys[i]);
        CHECK(v && strcmp(v, vals[i]) == 0, "meta %s = %s", keys[i], v ? v : "(null)");
    }
    CHECK(ftn_st_meta(f, "absent") == NULL, "%s", "ftn_st_meta(f, \"absent\") == NULL");
    ftn_st_file_free(f);

    /* Overwriting an existing file, and a file with nothing in it. */
    CHECK_OK(ftn_safetensors_write(path, t + 1, 1, NULL, NULL, 0));
    CHECK_OK(ftn_safetensors_read(path, &f));
    if (f) {
        CHECK(ftn_st_count(f) == 1 && ftn_st_meta(f, "model") == NULL, "%s", "ftn_st_count(f) == 1 && ftn_st_meta(f, \"model\") == NULL");
        ftn_st_file_free(f);
    }
    const char *empty = tl_path(dir, "empty.safetensors");
    CHECK_OK(ftn_safetensors_write(empty, NULL, 0, NULL, NULL, 0));
    CHECK_OK(ftn_safetensors_read(empty, &f));
    if (f) {
        CHECK(ftn_st_count(f) == 0, "%s", "ftn_st_count(f) == 0");
        ftn_st_file_free(f);
    }

    /* A file another writer might make: unpadded header, data at an odd file offset. */
    const char *odd = tl_path(dir, "odd.safetensors");
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t n = strlen(json);
    uint8_t buf[256] = {0};
    buf[0] = (uint8_t)n;
    memcpy(buf + 8, json, n);
    float two[2] = {1.5f, -2.25f};
    memcpy(buf + 8 + n, two, 8);
    write_raw(odd, buf, 8 + n + 8);
    CHECK_OK(ftn_safetensors_read(odd, &f));
    if (f) {
        const ftn_st_tensor *a = ftn_st_find(f, "a");
        CHECK(a && a->ndim == 1 && a->dims[0] == 2 && a->data[0] == 1.5f && a->data[1] == -2.25f, "%s", "a && a->ndim == 1 && a->dims[0] == 2 && a->data[0] == 1.5f && a->data[1] == -2.25f");
        ftn_st_file_free(f);
    }
}

static void test_writer_refusals(void)
{
    float x[4] = {0};
    const char *path = tl_path(dir, "w.safetensors");
    ftn_st_tensor dup[] = {{"a", 1, {4}, x}, {"a", 1, {4}, x}};
    CHECK(ftn_safetensors_write(path, dup, 2, NULL, NULL, 0) == FTN_EINVAL, "%s", "ftn_safetensors_write(path, dup, 2, NULL, NULL, 0) == FTN_EINVAL");
    ftn_st_tensor bad_ndim[] = {{"a", 5, {1, 1, 1, 1}, x}};
    CHECK(ftn_safetensors_write(path, bad_ndim, 1, NULL, NULL, 0) == FTN_EINVAL, "%s", "ftn_safetensors_write(path, bad_ndim, 1, NULL, NULL, 0) == FTN_EINVAL");
    ftn_st_tensor neg[] = {{"a", 1, {-1}, x}};
    CHECK(ftn_safetensors_write(path, neg, 1, NULL, NULL, 0) == FTN_EINVAL, "%s", "ftn_safetensors_write(path, neg, 1, NULL, NULL, 0) == FTN_EINVAL");
    ftn_st_tensor meta_name[] = {{"__metadata__", 1, {4}, x}};
    CHECK(ftn_safetensors_write(path, meta_name, 1, NULL, NULL, 0) == FTN_EINVAL, "%s", "ftn_safetensors_write(path, meta_name, 1, NULL, NULL, 0) == FTN_EINVAL");
    /* A folder that does not exist: FTN_EIO naming the path, nothing left behind. */
    const char *nodir = tl_path(dir, "no/such/dir/x.safetensors");
    ftn_st_tensor ok[] = {{"a", 1, {4}, x}};
    CHECK(ftn_safetensors_write(nodir, ok, 1, NULL, NULL, 0) == FTN_EIO, "%s", "ftn_safetensors_write(nodir, ok, 1, NULL, NULL, 0) == FTN_EIO");
    CHECK(strstr(ftn_last_error(), nodir) != NULL, "%s", ftn_last_error());
    CHECK(tmp_files_left() == 0, "%s", "tmp_files_left() == 0");
    /* Reading: missing file, and the size limit. */
    ftn_st_file *f = NULL;
    CHECK(ftn_safetensors_read(tl_path(dir, "missing.safetensors"), &f) == FTN_EIO && f == NULL, "%s", "ftn_safetensors_read(tl_path(dir, \"missing.safetensors\"), &f) == FTN_EIO && f == NULL");
    CHECK(strstr(ftn_last_error(), "missing.safetensors") != NULL, "%s", ftn_last_error());
    CHECK_OK(ftn_safetensors_write(path, ok, 1, NULL, NULL, 0));
    uint8_t *data = NULL;
    size_t size = 0;
    CHECK(ftn_read_file(path, 10, &data, &size) == FTN_EFORMAT && data == NULL, "%s", "ftn_read_file(path, 10, &data, &size) == FTN_EFORMAT && data == NULL");
    CHECK(strstr(ftn_last_error(), path) != NULL, "%s", ftn_last_error());
}

static void test_truncated(void)
{
    const char *path = tl_path(dir, "full.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {7, 8, 9};
    ftn_st_tensor t[] = {{"a", 2, {2, 3}, a}, {"b", 1, {3}, b}};
    const char *k[] = {"k"}, *v[] = {"v"};
    CHECK_OK(ftn_safetensors_write(path, t, 2, k, v, 1));
    uint8_t *raw = NULL;
    size_t size = 0;
    CHECK_OK(ftn_read_file(path, 1 << 20, &raw, &size));
    if (!raw) return;
    size_t hdr_end = 8 + (size_t)raw[0];
    size_t cuts[] = {0, 1, 4, 7, 8, 9, 20, hdr_end - 20, hdr_end - 1, hdr_end, hdr_end + 1, hdr_end + 24,
                     size - 4, size - 1};
    const char *cut = tl_path(dir, "cut.safetensors");
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        write_raw(cut, raw, cuts[i]);
        expect_refused(cut, NULL);
    }
    /* One byte too many is refused too (data section not covered exactly). */
    uint8_t *longer = malloc(size + 4);
    memcpy(longer, raw, size);
    memset(longer + size, 0, 4);
    write_raw(cut, longer, size + 4);
    expect_refused(cut, "cover");
    free(longer);
    free(raw);
}

static void test_bad_headers(void)
{
    const char *p = tl_path(dir, "bad.safetensors");
    uint8_t buf[64] = {0};

    /* Header length 2^40. */
    buf[5] = 1;
    memcpy(buf + 8, "{}", 2);
    write_raw(p, buf, 16);
    expect_refused(p, "header length 1099511627776");
    /* Header length just past the end of the file. */
    memset(buf, 0, sizeof buf);
    buf[0] = 100;
    memcpy(buf + 8, "{}      ", 8);
    write_raw(p, buf, 16);
    expect_refused(p, "past the end");

    write_st(p, "this is not json", 0);
    expect_refused(p, "JSON");
    write_st(p, "{\"a\": {\"dtype\": \"F32\", ", 0);
    expect_refused(p, "JSON");
    write_st(p, "[1, 2, 3]", 0);
    expect_refused(p, "object");
    write_st(p, "{} xx", 0);
    expect_refused(p, "trailing");

    /* Entries with missing or mistyped fields. */
    write_st(p, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "dtype");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "shape");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
    expect_refused(p, "data_offsets");
    write_st(p, "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "dtype");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "shape");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "dimension");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4);
    expect_refused(p, "data_offsets");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4);
    expect_refused(p, "data_offsets");
    write_st(p, "{\"a\":[1,2]}", 4);
    expect_refused(p, "'a'");

    /* Types, ranks and dimensions. */
    write_st(p, "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8);
    expect_refused(p, "F64");
    write_st(p, "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "BF16");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "5 dimensions");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "negative");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "absurdly large");

    /* Offsets. */
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16);
    expect_refused(p, "shape needs 12");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24);
    expect_refused(p, "overlap");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36);
    expect_refused(p, "gap");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[4,20]}}", 20);
    expect_refused(p, "gap");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12);
    expect_refused(p, "past the data");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8);
    expect_refused(p, "'a'");
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8);
    expect_refused(p, "cover");
    /* Duplicate names (cJSON keeps both entries; the second pair is contiguous). */
    write_st(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    expect_refused(p, "twice");

    /* Metadata. */
    write_st(p, "{\"__metadata__\":{\"epoch\":12}}", 0);
    expect_refused(p, "epoch");
    write_st(p, "{\"__metadata__\":{\"k\":\"v\",\"j\":\"w\",\"k\":\"x\"}}", 0);
    expect_refused(p, "'k' appears twice");
    write_st(p, "{\"__metadata__\":[\"x\"]}", 0);
    expect_refused(p, "__metadata__");
    write_st(p, "{\"__metadata__\":{\"k\":\"v\"}}", 0);
    ftn_st_file *f = NULL;
    CHECK_OK(ftn_safetensors_read(p, &f));
    if (f) {
        CHECK(ftn_st_count(f) == 0 && ftn_st_meta(f, "k") && strcmp(ftn_st_meta(f, "k"), "v") == 0, "%s", "ftn_st_count(f) == 0 && ftn_st_meta(f, \"k\") && strcmp(ftn_st_meta(f, \"k\"), \"v\") == 0");
        ftn_st_file_free(f);
    }
}

/* A checkpoint whose metadata names an unknown loss: the message names the file and the
 * metadata key, not a --loss option the user never gave. */
static void test_checkpoint_bad_loss(void)
{
    char good[1024], bad[1024];
    snprintf(good, sizeof good, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad-loss.safetensors", dir);
    ftn_model *m = NULL;
    CHECK_OK(ftn_model_create("attn-unet", 1, 16, 16, &m));
    if (!m) return;
    CHECK_OK(ftn_model_save(m, good));
    ftn_model_free(m);
    ftn_st_file *f = NULL;
    CHECK_OK(ftn_safetensors_read(good, &f));
    if (!f) return;
    int n = ftn_st_count(f);
    ftn_st_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
    for (int i = 0; i < n; i++) ts[i] = *ftn_st_get(f, i);
    /* every metadata key a checkpoint may hold, copied where present, loss replaced */
    static const char *known[] = {"format", "format_version", "model", "channels", "height", "width", "loss", "alpha",
                                  "beta", "gamma", "smooth", "reduction", "iteration", "precision", "bn_debias"};
    const char *keys[32], *values[32];
    int nm = 0;
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
        if (ftn_st_meta(f, known[k])) {
            keys[nm] = known[k];
            values[nm++] = strcmp(known[k], "loss") ? ftn_st_meta(f, known[k]) : "xyz";
        }
    CHECK(ftn_st_meta(f, "loss") != NULL, "a checkpoint records its loss");
    CHECK_OK(ftn_safetensors_write(bad, ts, n, keys, values, nm));
    free(ts);
    ftn_st_file_free(f);
    CHECK(ftn_model_load(bad, &m) == FTN_EFORMAT && m == NULL);
    const char *e = ftn_last_error();
    CHECK(strstr(e, "bad-loss.safetensors") && strstr(e, "metadata 'loss'") && strstr(e, "xyz") && !strstr(e, "--loss"),
          "%s", e);
}

/* PyTorch's BN counters (int64 "P.num_batches_tracked") are read past; other int64s are not. */
static void test_bn_counter(void)
{
    const char *p = tl_path(dir, "counter.safetensors");
    write_st(p, "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                "\"bn.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16);
    ftn_st_file *f = NULL;
    CHECK_OK(ftn_safetensors_read(p, &f));
    if (f) {
        CHECK(ftn_st_count(f) == 1 && ftn_st_find(f, "bn.weight") && !ftn_st_find(f, "bn.num_batches_tracked"),
              "%d tensors", ftn_st_count(f));
        const ftn_st_tensor *w = ftn_st_find(f, "bn.weight");
        uint8_t want[8] = {8, 9, 10, 11, 12, 13, 14, 15}; /* write_st's data bytes 8..15 */
        CHECK(w && !memcmp(w->data, want, 8), "the F32 tensor after the counter keeps its bytes");
        ftn_st_file_free(f);
    }
    write_st(p, "{\"bn.running_mean\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8);
    expect_refused(p, "I64");
    write_st(p, "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16);
    expect_refused(p, "one int64");
    write_st(p, "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4);
    expect_refused(p, "bytes");
    /* a gap left by a counter's span is still a gap */
    write_st(p, "{\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}}", 16);
    expect_refused(p, "gap");
}

int main(void)
{
    dir = tl_tmpdir("safetensors");
    test_bn_counter();
    test_checkpoint_bad_loss();
    test_round_trip();
    test_writer_refusals();
    test_truncated();
    test_bad_headers();
    return tl_finish();
}
