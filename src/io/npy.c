#include "io/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ftunet's .npy reader and writer assume a little-endian host"
#endif
_Static_assert(sizeof(float) == 4, "float must be 32-bit IEEE 754");

#define MAX_FILE_SIZE ((size_t)1 << 40)
static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- the header dict: a tiny subset of Python literals ----------------------------------------- */

typedef struct cursor { const char *p, *end; } cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
    return 0;
}

/* A quoted string without escapes, copied (truncated) into out. */
static int parse_str(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n') return 0;
        if (n + 1 < cap) out[n++] = *c->p;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

static int parse_word(cursor *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    const char *after = c->p + n;
    if (after < c->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9') || *after == '_'))
        return 0;
    c->p = after;
    return 1;
}

/* A non-negative decimal integer (Python may write a trailing L in old files). */
static int parse_uint(cursor *c, uint64_t *v)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (x > (UINT64_MAX - 9) / 10) return 0;
        x = x * 10 + (uint64_t)(*c->p - '0');
        c->p++;
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    *v = x;
    return 1;
}

/* "<f8" → "float64", ">f4" → "big-endian float32", for messages. */
static void describe_descr(const char *d, char *out, size_t cap)
{
    char order = d[0];
    const char *rest = (order == '<' || order == '>' || order == '|' || order == '=') ? d + 1 : d;
    const char *kind = NULL;
    switch (rest[0]) {
    case 'f': kind = "float"; break;
    case 'i': kind = "int"; break;
    case 'u': kind = "uint"; break;
    case 'b': kind = "bool"; break;
    case 'c': kind = "complex"; break;
    case 'U': kind = "unicode string"; break;
    case 'S': case 'a': kind = "byte string"; break;
    case 'O': kind = "Python object"; break;
    case 'M': kind = "datetime"; break;
    case 'm': kind = "timedelta"; break;
    case 'V': kind = "raw void"; break;
    default: break;
    }
    int bytes = 0;
    if (kind && rest[1]) {
        char *endp;
        long b = strtol(rest + 1, &endp, 10);
        if (*endp == 0 && b > 0 && b < 1000) bytes = (int)b;
    }
    const char *prefix = order == '>' ? "big-endian " : "";
    int sized = rest[0] == 'f' || rest[0] == 'i' || rest[0] == 'u' || rest[0] == 'c';
    if (!kind || (sized && !bytes)) snprintf(out, cap, "an unsupported dtype");
    else if (!sized) snprintf(out, cap, "%s%s", prefix, kind);
    else snprintf(out, cap, "%s%s%d", prefix, kind, bytes * 8);
}

static ftn_status parse_header(const char *path, const char *h, size_t len, int *ndim, int64_t dims[4],
                               uint64_t *numel)
{
    cursor c = {h, h + len};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(&c, '{'))
        return ftn_fail(FTN_EFORMAT, "%s: .npy header does not start with a dict ('{')", path);
    for (;;) {
        if (accept(&c, '}')) break;
        char key[32];
        if (!parse_str(&c, key, sizeof key))
            return ftn_fail(FTN_EFORMAT, "%s: .npy header: expected a quoted key at byte %ld", path, (long)(c.p - h));
        if (!accept(&c, ':'))
            return ftn_fail(FTN_EFORMAT, "%s: .npy header: expected ':' after '%s'", path, key);
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) return ftn_fail(FTN_EFORMAT, "%s: .npy header has 'descr' twice", path);
            char d[32];
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return ftn_fail(FTN_EFORMAT, "%s: holds a structured array; ftunet reads little-endian float32 ('<f4') only", path);
            if (!parse_str(&c, d, sizeof d))
                return ftn_fail(FTN_EFORMAT, "%s: .npy header: 'descr' is not a string", path);
            if (strcmp(d, "<f4") != 0) {
                char what[64];
                describe_descr(d, what, sizeof what);
                return ftn_fail(FTN_EFORMAT,
                                "%s is %s ('%s'); ftunet reads little-endian float32 ('<f4') only: "
                                "convert with x.astype('<f4')", path, what, d);
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_order++) return ftn_fail(FTN_EFORMAT, "%s: .npy header has 'fortran_order' twice", path);
            if (parse_word(&c, "True"))
                return ftn_fail(FTN_EFORMAT,
                                "%s is in Fortran (column-major) order; ftunet reads C order only: "
                                "save np.ascontiguousarray(x)", path);
            if (!parse_word(&c, "False"))
                return ftn_fail(FTN_EFORMAT, "%s: .npy header: 'fortran_order' is not True or False", path);
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) return ftn_fail(FTN_EFORMAT, "%s: .npy header has 'shape' twice", path);
            char close;
            if (accept(&c, '(')) close = ')';
            else if (accept(&c, '[')) close = ']';
            else return ftn_fail(FTN_EFORMAT, "%s: .npy header: 'shape' is not a tuple", path);
            int n = 0;
            uint64_t total = 1;
            int zero = 0, overflow = 0;
            for (;;) {
                if (accept(&c, close)) break;
                uint64_t v;
                if (!parse_uint(&c, &v))
                    return ftn_fail(FTN_EFORMAT, "%s: .npy header: 'shape' entry %d is not a non-negative integer",
                                    path, n);
                if (n >= FTN_NPY_MAX_DIMS)
                    return ftn_fail(FTN_EFORMAT, "%s: array has more than %d dimensions; ftunet reads at most %d",
                                    path, FTN_NPY_MAX_DIMS, FTN_NPY_MAX_DIMS);
                if (v > (uint64_t)INT64_MAX)
                    return ftn_fail(FTN_EFORMAT, "%s: .npy header: dimension %d is absurdly large", path, n);
                dims[n++] = (int64_t)v;
                if (v == 0) zero = 1;
                else if (total > UINT64_MAX / 4 / v) overflow = 1;
                else total *= v;
                if (accept(&c, ',')) continue;
                if (accept(&c, close)) break;
                return ftn_fail(FTN_EFORMAT, "%s: .npy header: malformed 'shape'", path);
            }
            if (zero) total = 0;
            else if (overflow)
                return ftn_fail(FTN_EFORMAT, "%s: .npy header: shape is absurdly large (over 2^64 bytes)", path);
            *ndim = n;
            *numel = total;
        } else {
            return ftn_fail(FTN_EFORMAT, "%s: .npy header has an unexpected key '%s'", path, key);
        }
        if (accept(&c, ',')) continue;
        if (accept(&c, '}')) break;
        return ftn_fail(FTN_EFORMAT, "%s: .npy header: expected ',' or '}' at byte %ld", path, (long)(c.p - h));
    }
    skip_ws(&c);
    if (c.p != c.end)
        return ftn_fail(FTN_EFORMAT, "%s: .npy header has trailing bytes after the dict (byte %ld)", path,
                        (long)(c.p - h));
    if (!have_descr || !have_order || !have_shape)
        return ftn_fail(FTN_EFORMAT, "%s: .npy header lacks '%s'", path,
                        !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return FTN_OK;
}

ftn_status ftn_npy_read_f32(const char *path, int *ndim, int64_t dims[FTN_NPY_MAX_DIMS], float **data)
{
    if (!path || !ndim || !dims || !data) return ftn_fail(FTN_EINVAL, "npy_read_f32: NULL argument");
    *data = NULL;
    *ndim = 0;
    for (int i = 0; i < FTN_NPY_MAX_DIMS; i++) dims[i] = 0;
    uint8_t *buf;
    size_t size;
    FTN_TRY(ftn_read_file(path, MAX_FILE_SIZE, &buf, &size));
    ftn_status st = FTN_OK;
    if (size < 10 || memcmp(buf, MAGIC, 6) != 0) {
        st = ftn_fail(FTN_EFORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
        goto fail;
    }
    int major = buf[6], minor = buf[7];
    size_t prefix, hlen;
    if (major == 1) {
        prefix = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if (major == 2 || major == 3) {
        prefix = 12;
        if (size < prefix) {
            st = ftn_fail(FTN_EFORMAT, "%s: .npy file is truncated inside its preamble", path);
            goto fail;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    } else {
        st = ftn_fail(FTN_EFORMAT, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)", path,
                      major, minor);
        goto fail;
    }
    if (minor != 0) {
        st = ftn_fail(FTN_EFORMAT, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)", path,
                      major, minor);
        goto fail;
    }
    if (hlen > size - prefix) {
        st = ftn_fail(FTN_EFORMAT, "%s: .npy header length %zu runs past the end of the file (%zu bytes)", path,
                      hlen, size);
        goto fail;
    }
    uint64_t numel = 0;
    int nd = 0;
    int64_t d[FTN_NPY_MAX_DIMS] = {0, 0, 0, 0};
    st = parse_header(path, (const char *)buf + prefix, hlen, &nd, d, &numel);
    if (st) goto fail;
    size_t avail = size - prefix - hlen;
    uint64_t need = 4 * numel;
    if (avail < need) {
        st = ftn_fail(FTN_EFORMAT, "%s: data is truncated: the shape needs %llu bytes, the file has %zu", path,
                      (unsigned long long)need, avail);
        goto fail;
    }
    if (avail > need) {
        st = ftn_fail(FTN_EFORMAT, "%s: %zu unexpected bytes after the data (the shape needs %llu)", path,
                      avail - (size_t)need, (unsigned long long)need);
        goto fail;
    }
    /* Move the data to the front of the block: malloc alignment suits floats. */
    memmove(buf, buf + prefix + hlen, (size_t)need);
    float *out = realloc(buf, need ? (size_t)need : 1);
    if (!out) out = (float *)(void *)buf;
    *data = out;
    *ndim = nd;
    for (int i = 0; i < FTN_NPY_MAX_DIMS; i++) dims[i] = d[i];
    return FTN_OK;
fail:
    free(buf);
    return st;
}

ftn_status ftn_npy_write_f32(const char *path, int ndim, const int64_t *dims, const float *data)
{
    if (!path) return ftn_fail(FTN_EINVAL, "npy_write_f32: NULL path");
    if (ndim < 0 || ndim > FTN_NPY_MAX_DIMS || (ndim > 0 && !dims))
        return ftn_fail(FTN_EINVAL, "%s: %d dimensions (0..%d allowed)", path, ndim, FTN_NPY_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > ((int64_t)1 << 40))
            return ftn_fail(FTN_EINVAL, "%s: dimension %d has size %lld", path, i, (long long)dims[i]);
        numel *= (uint64_t)dims[i];
        if (numel > ((uint64_t)1 << 40)) return ftn_fail(FTN_EINVAL, "%s: array is too large", path);
    }
    if (numel && !data) return ftn_fail(FTN_EINVAL, "%s: NULL data", path);

    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %lld" : "%lld", (long long)dims[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    /* preamble (10) + dict + padding + '\n' is a multiple of 64. */
    size_t total = ((size_t)10 + (size_t)n + 1 + 63) & ~(size_t)63;
    char header[320];
    memcpy(header, MAGIC, 6);
    header[6] = 1;
    header[7] = 0;
    size_t hlen = total - 10;
    header[8] = (char)(hlen & 0xff);
    header[9] = (char)(hlen >> 8);
    memcpy(header + 10, dict, (size_t)n);
    memset(header + 10 + n, ' ', total - 10 - (size_t)n - 1);
    header[total - 1] = '\n';
    const void *chunks[2] = {header, data};
    size_t sizes[2] = {total, 4 * (size_t)numel};
    return ftn_write_file_atomic(path, chunks, sizes, 2);
}
