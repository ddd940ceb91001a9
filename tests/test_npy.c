/* .npy: round trips, the exact bytes NumPy writes, and refusals of everything but '<f4' C order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "io/npy.h"
#include "testlib.h"

static const char *dir;

static void write_raw(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) { CHECK(0, "cannot create %s", path); return; }
    if (len) fwrite(bytes, 1, len, f);
    fclose(f);
}

/* A version-1.0 file with `dict` padded as NumPy pads it (to 64 bytes, ending in '\n'), then
 * data_len bytes of zeros. Returns the size written. */
static size_t write_npy(const char *path, int major, const char *dict, size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12, n = strlen(dict);
    size_t total = (pre + n + 1 + 63) / 64 * 64;
    uint8_t *buf = calloc(1, total + data_len + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)major;
    buf[7] = 0;
    size_t hlen = total - pre;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + pre, dict, n);
    memset(buf + pre + n, ' ', total - pre - n - 1);
    buf[total - 1] = '\n';
    write_raw(path, buf, total + data_len);
    free(buf);
    return total + data_len;
}

static void expect_refused_(const char *path, const char *word, int line)
{
    int ndim = -1;
    int64_t dims[4];
    float *data = (float *)(uintptr_t)1;
    ftn_status st = ftn_npy_read_f32(path, &ndim, dims, &data);
    const char *msg = ftn_last_error();
    CHECK(st == FTN_EFORMAT, "line %d: %s: status %s, message '%s'", line, path, ftn_status_name(st), msg);
    CHECK(data == NULL, "line %d: data not cleared", line);
    CHECK(msg && *msg, "line %d: empty message", line);
    CHECK(strstr(msg, path) != NULL, "line %d: message '%s' does not name the file", line, msg);
    if (word) CHECK(strstr(msg, word) != NULL, "line %d: message '%s' lacks '%s'", line, msg, word);
    if (st == FTN_OK) free(data);
}
#define expect_refused(path, word) expect_refused_(path, word, __LINE__)

static void round_trip(int ndim, const int64_t *dims, uint64_t seed)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    float *x = malloc(sizeof *x * (size_t)(n ? n : 1));
    tl_fill_uniform(x, (size_t)n, &seed, -3, 3);
    if (n > 2) { x[0] = NAN; x[1] = -0.0f; x[2] = 1e-45f; }
    char name[64];
    snprintf(name, sizeof name, "rt%d.npy", ndim);
    const char *path = tl_path(dir, name);
    CHECK_OK(ftn_npy_write_f32(path, ndim, dims, x));

    /* Header: 64-byte aligned, ends in '\n', version 1.0. */
    FILE *f = fopen(path, "rb");
    uint8_t pre[10] = {0};
    if (f) {
        CHECK(fread(pre, 1, 10, f) == 10, "%s", "short file");
        size_t hlen = pre[8] | (size_t)pre[9] << 8;
        CHECK((10 + hlen) % 64 == 0, "header length %zu", hlen);
        CHECK(pre[6] == 1 && pre[7] == 0, "version %d.%d", pre[6], pre[7]);
        fseek(f, (long)(10 + hlen - 1), SEEK_SET);
        CHECK(fgetc(f) == '\n', "%s", "header does not end in a newline");
        fclose(f);
    }

    int rnd = -1;
    int64_t rdims[4];
    float *y = NULL;
    CHECK_OK(ftn_npy_read_f32(path, &rnd, rdims, &y));
    CHECK(rnd == ndim, "ndim %d vs %d", rnd, ndim);
    for (int i = 0; i < ndim; i++) CHECK(rdims[i] == dims[i], "dim %d", i);
    CHECK(y != NULL, "%s", "data is NULL");
    if (y) CHECK(n == 0 || memcmp(x, y, sizeof *x * (size_t)n) == 0, "ndim %d: data differs", ndim);
    free(x);
    free(y);
}

static void test_round_trips(void)
{
    int64_t d4[4] = {2, 3, 4, 5}, d3[3] = {1, 7, 9}, d2[2] = {16, 16}, d1[1] = {11}, dz[2] = {0, 4};
    round_trip(4, d4, 1);
    round_trip(3, d3, 2);
    round_trip(2, d2, 3);
    round_trip(1, d1, 4);
    round_trip(0, NULL, 5);
    round_trip(2, dz, 6);
    int64_t d5[5] = {1, 1, 1, 1, 1};
    float one = 1;
    CHECK(ftn_npy_write_f32(tl_path(dir, "x.npy"), 5, d5, &one) == FTN_EINVAL, "%s", "5-d write accepted");
}

/* The bytes numpy >= 1.24 writes for np.save(f, np.zeros((2, 3), '<f4')) — the dict, 20 spaces of
 * room for the shape to grow (21 digits minus len("2")), padding to 64 and '\n' — and the same
 * without the growth room, as older NumPy writes it. */
static void test_numpy_bytes(void)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    char grown[128];
    snprintf(grown, sizeof grown, "%s%20s", dict, "");
    const char *variants[] = {grown, dict};
    for (int v = 0; v < 2; v++) {
        const char *path = tl_path(dir, "numpy.npy");
        size_t size = write_npy(path, 1, variants[v], 24);
        CHECK(size == 128 + 24, "file is %zu bytes", size);
        int ndim = 0;
        int64_t dims[4];
        float *data = NULL;
        CHECK_OK(ftn_npy_read_f32(path, &ndim, dims, &data));
        CHECK(ndim == 2 && dims[0] == 2 && dims[1] == 3, "shape %d (%lld, %lld)", ndim, (long long)dims[0],
              (long long)dims[1]);
        int zeros = 1;
        for (int i = 0; data && i < 6; i++) zeros &= data[i] == 0;
        CHECK(data && zeros, "%s", "data is not zeros");
        free(data);
    }
    /* Check the growth layout against NumPy's header length field: 118 = 128 - 10. */
    FILE *f = fopen(tl_path(dir, "numpy.npy"), "rb");
    if (f) {
        uint8_t pre[10];
        CHECK(fread(pre, 1, 10, f) == 10 && pre[8] == 118 && pre[9] == 0, "%s", "header length field");
        fclose(f);
    }
    /* Other spellings NumPy has used: version 2.0 and 3.0, 1-d tuples, double quotes, a list shape. */
    int ndim;
    int64_t dims[4];
    float *data = NULL;
    const char *p = tl_path(dir, "v2.npy");
    write_npy(p, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 20);
    CHECK_OK(ftn_npy_read_f32(p, &ndim, dims, &data));
    CHECK(ndim == 1 && dims[0] == 5, "ndim %d", ndim);
    free(data);
    data = NULL;
    write_npy(p, 3, "{\"shape\": [1, 2, 3, 4], \"fortran_order\": False, \"descr\": \"<f4\"}", 96);
    CHECK_OK(ftn_npy_read_f32(p, &ndim, dims, &data));
    CHECK(ndim == 4 && dims[3] == 4, "ndim %d", ndim);
    free(data);
    data = NULL;
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4);
    CHECK_OK(ftn_npy_read_f32(p, &ndim, dims, &data));
    CHECK(ndim == 0 && data != NULL, "ndim %d", ndim);
    free(data);
}

static void test_refusals(void)
{
    const char *p = tl_path(dir, "bad.npy");
    write_npy(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48);
    expect_refused(p, "float64 ('<f8')");
    expect_refused(p, "astype('<f4')");
    write_npy(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    expect_refused(p, "big-endian float32");
    write_npy(p, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 6);
    expect_refused(p, "uint8");
    write_npy(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    expect_refused(p, "int32");
    write_npy(p, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", 12);
    expect_refused(p, "float16");
    write_npy(p, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 3), }", 6);
    expect_refused(p, "is bool");
    write_npy(p, 1, "{'descr': '<fx', 'fortran_order': False, 'shape': (2, 3), }", 24);
    expect_refused(p, "unsupported dtype ('<fx')");
    write_npy(p, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8);
    expect_refused(p, "structured");
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24);
    expect_refused(p, "Fortran");

    /* Truncated or overlong data. */
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
    expect_refused(p, "truncated");
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0);
    expect_refused(p, "truncated");
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28);
    expect_refused(p, "unexpected bytes");
    /* Truncated inside the preamble and the header. */
    write_raw(p, "\x93NUMPY\x01\x00", 8);
    expect_refused(p, NULL);
    write_raw(p, "\x93NUMPY\x01\x00\x76\x00{'descr'", 17);
    expect_refused(p, "past the end");
    write_raw(p, "\x93NUMPY\x02\x00\x01\x00", 10);
    expect_refused(p, NULL);
    write_raw(p, "", 0);
    expect_refused(p, "magic");

    /* Magic and version. */
    write_raw(p, "\x93NUMPZ\x01\x00\x02\x00{}", 12);
    expect_refused(p, "magic");
    write_raw(p, "PK\x03\x04 this is a zip      ", 24);
    expect_refused(p, "magic");
    write_npy(p, 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    expect_refused(p, "version 4.0");

    /* Garbage or incomplete header dicts. */
    const char *garbage[] = {
        "this is not a dict",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'shape': (2, 3)}",
        "{'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': 6}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} trailing",
        "{'descr': '<f4 , 'fortran_order': False, 'shape': (2, 3)}",
        "{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3)}",
    };
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        write_npy(p, 1, garbage[i], 24);
        expect_refused(p, NULL);
    }

    /* Absurd shapes: too many dimensions, products beyond 2^64, sizes beyond the file. */
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 4);
    expect_refused(p, "dimensions");
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 4);
    expect_refused(p, "absurd");
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }", 4);
    expect_refused(p, NULL);
    write_npy(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }", 4);
    expect_refused(p, "truncated");

    /* Missing file: an I/O error naming it. */
    int ndim;
    int64_t dims[4];
    float *data = NULL;
    CHECK(ftn_npy_read_f32(tl_path(dir, "missing.npy"), &ndim, dims, &data) == FTN_EIO, "%s", "missing file");
    CHECK(strstr(ftn_last_error(), "missing.npy") != NULL, "%s", ftn_last_error());
}

int main(void)
{
    dir = tl_tmpdir("npy");
    test_round_trips();
    test_numpy_bytes();
    test_refusals();
    return tl_finish();
}
