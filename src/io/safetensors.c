#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ftunet's safetensors reader and writer assume a little-endian host"
#endif
_Static_assert(sizeof(float) == 4, "float must be 32-bit IEEE 754");

#define META_KEY "__metadata__"
/* The largest file the reader will load. */
#define MAX_FILE_SIZE ((size_t)1 << 40)

struct ftn_st_file {
    cJSON *root;           /* owns names, metadata strings */
    uint8_t *data;         /* the data section, at offset 0 of a malloc'ed block */
    int count;
    ftn_st_tensor *tensors;
    int n_meta;
    const char **meta_keys, **meta_values;
};

int64_t ftn_st_numel(const ftn_st_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

/* ---- writing ---------------------------------------------------------------------------------- */

ftn_status ftn_safetensors_write(const char *path, const ftn_st_tensor *tensors, int count,
                                 const char *const *meta_keys, const char *const *meta_values,
                                 int n_meta)
{
    if (!path) return ftn_fail(FTN_EINVAL, "safetensors_write: NULL path");
    if (count < 0 || (count > 0 && !tensors))
        return ftn_fail(FTN_EINVAL, "%s: invalid tensor list (count %d)", path, count);
    if (n_meta < 0 || (n_meta > 0 && (!meta_keys || !meta_values)))
        return ftn_fail(FTN_EINVAL, "%s: invalid metadata list (count %d)", path, n_meta);

    /* Validate and compute offsets. */
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        const ftn_st_tensor *t = &tensors[i];
        if (!t->name || !*t->name) return ftn_fail(FTN_EINVAL, "%s: tensor %d has no name", path, i);
        if (strcmp(t->name, META_KEY) == 0)
            return ftn_fail(FTN_EINVAL, "%s: tensor %d may not be called %s", path, i, META_KEY);
        for (int j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return ftn_fail(FTN_EINVAL, "%s: tensor name '%s' is used twice", path, t->name);
        if (t->ndim < 0 || t->ndim > FTN_ST_MAX_DIMS)
            return ftn_fail(FTN_EINVAL, "%s: tensor '%s' has %d dimensions (0..%d allowed)", path,
                            t->name, t->ndim, FTN_ST_MAX_DIMS);
        uint64_t n = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] < 0 || t->dims[d] > ((int64_t)1 << 40))
                return ftn_fail(FTN_EINVAL, "%s: tensor '%s' has dimension %d of size %lld", path,
                                t->name, d, (long long)t->dims[d]);
            n *= (uint64_t)t->dims[d];
            if (n > ((uint64_t)1 << 40))
                return ftn_fail(FTN_EINVAL, "%s: tensor '%s' is too large", path, t->name);
        }
        if (n && !t->data) return ftn_fail(FTN_EINVAL, "%s: tensor '%s' has no data", path, t->name);
        offset += 4 * n;
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return ftn_fail(FTN_EINVAL, "%s: metadata entry %d is NULL", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(meta_keys[j], meta_keys[i]) == 0)
                return ftn_fail(FTN_EINVAL, "%s: metadata key '%s' is used twice", path, meta_keys[i]);
    }

    /* Header JSON. */
    ftn_status st = FTN_OK;
    cJSON *root = cJSON_CreateObject();
    if (!root) return ftn_fail(FTN_ENOMEM, "%s: out of memory building the header", path);
    if (n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, META_KEY);
        if (!meta) goto oom;
        for (int i = 0; i < n_meta; i++)
            if (!cJSON_AddStringToObject(meta, meta_keys[i], meta_values[i])) goto oom;
    }
    offset = 0;
    for (int i = 0; i < count; i++) {
        const ftn_st_tensor *t = &tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", "F32")) goto oom;
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        if (!shape) goto oom;
        for (int d = 0; d < t->ndim; d++) {
            cJSON *num = cJSON_CreateNumber((double)t->dims[d]);
            if (!num || !cJSON_AddItemToArray(shape, num)) { cJSON_Delete(num); goto oom; }
        }
        uint64_t bytes = 4 * (uint64_t)ftn_st_numel(t);
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        if (!offs) goto oom;
        cJSON *b = cJSON_CreateNumber((double)offset), *en = cJSON_CreateNumber((double)(offset + bytes));
        if (!b || !cJSON_AddItemToArray(offs, b)) { cJSON_Delete(b); cJSON_Delete(en); goto oom; }
        if (!en || !cJSON_AddItemToArray(offs, en)) { cJSON_Delete(en); goto oom; }
        offset += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    root = NULL;
    if (!json) return ftn_fail(FTN_ENOMEM, "%s: out of memory printing the header", path);

    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) & ~(size_t)7;
    char *header = malloc(8 + hlen);
    const void **chunks = malloc(sizeof *chunks * (size_t)(count + 1));
    size_t *sizes = malloc(sizeof *sizes * (size_t)(count + 1));
    if (!header || !chunks || !sizes) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    } else {
        for (int i = 0; i < 8; i++) header[i] = (char)(uint8_t)((uint64_t)hlen >> (8 * i));
        memcpy(header + 8, json, jlen);
        memset(header + 8 + jlen, ' ', hlen - jlen);
        chunks[0] = header;
        sizes[0] = 8 + hlen;
        for (int i = 0; i < count; i++) {
            chunks[i + 1] = tensors[i].data;
            sizes[i + 1] = 4 * (size_t)ftn_st_numel(&tensors[i]);
        }
        st = ftn_write_file_atomic(path, (const void *const *)chunks, sizes, count + 1);
    }
    free(sizes);
    free(chunks);
    free(header);
    cJSON_free(json);
    return st;
oom:
    cJSON_Delete(root);
    return ftn_fail(FTN_ENOMEM, "%s: out of memory building the header", path);
}

/* ---- reading ---------------------------------------------------------------------------------- */

void ftn_st_file_free(ftn_st_file *f)
{
    if (!f) return;
    cJSON_Delete(f->root);
    free(f->data);
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_values);
    free(f);
}

/* A JSON number that is a non-negative integer exactly representable as a double. */
static int json_uint(const cJSON *n, uint64_t *out)
{
    if (!cJSON_IsNumber(n)) return 0;
    double v = n->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || floor(v) != v) return 0;
    *out = (uint64_t)v;
    return 1;
}

typedef struct span { uint64_t begin, end; int index; const char *name; } span; /* index −1: a skipped entry */

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    const ftn_st_tensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* PyTorch's BN update counter, "P.num_batches_tracked", an int64 scalar: read past (it tiles the
 * data section like any tensor) but not returned, as no model of ftunet has it. */
static int is_bn_counter(const char *name, const char *dtype)
{
    static const char sfx[] = ".num_batches_tracked";
    size_t n = strlen(name), k = sizeof sfx - 1;
    return !strcmp(dtype, "I64") && n > k && !strcmp(name + n - k, sfx);
}

static ftn_status parse_entry(const char *path, const cJSON *e, ftn_st_tensor *t, span *sp, int *skip)
{
    const char *name = e->string;
    *skip = 0;
    if (!cJSON_IsObject(e))
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': header entry is not an object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dtype) return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': no \"dtype\"", path, name);
    if (!shape) return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': no \"shape\"", path, name);
    if (!offs) return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': no \"data_offsets\"", path, name);
    if (!cJSON_IsString(dtype))
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': \"dtype\" is not a string", path, name);
    if (is_bn_counter(name, dtype->valuestring)) *skip = 1;
    else if (strcmp(dtype->valuestring, "F32") != 0)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' has dtype %.32s; ftunet reads F32 (float32) only",
                        path, name, dtype->valuestring);
    if (!cJSON_IsArray(shape))
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': \"shape\" is not an array", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > FTN_ST_MAX_DIMS)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s' has %d dimensions; at most %d are supported", path,
                        name, ndim, FTN_ST_MAX_DIMS);
    t->name = name;
    t->ndim = ndim;
    uint64_t numel = 1;
    int overflow = 0, zero = 0;
    for (int d = 0; d < ndim; d++) {
        const cJSON *dim = cJSON_GetArrayItem(shape, d);
        uint64_t v;
        if (!json_uint(dim, &v)) {
            if (cJSON_IsNumber(dim) && dim->valuedouble < 0)
                return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': dimension %d is negative (%g)", path, name,
                                d, dim->valuedouble);
            return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': dimension %d is not a non-negative integer",
                            path, name, d);
        }
        t->dims[d] = (int64_t)v;
        if (v == 0) zero = 1;
        else if (numel > UINT64_MAX / 4 / v) overflow = 1;
        else numel *= v;
    }
    for (int d = ndim; d < FTN_ST_MAX_DIMS; d++) t->dims[d] = 0;
    if (zero) numel = 0, overflow = 0;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': \"data_offsets\" is not an array of two numbers",
                        path, name);
    if (!json_uint(cJSON_GetArrayItem(offs, 0), &sp->begin) || !json_uint(cJSON_GetArrayItem(offs, 1), &sp->end))
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': \"data_offsets\" are not non-negative integers",
                        path, name);
    if (sp->end < sp->begin)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                        path, name, (unsigned long long)sp->begin, (unsigned long long)sp->end);
    if (overflow)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': shape is absurdly large (over 2^64 bytes)", path, name);
    uint64_t elem = *skip ? 8 : 4;
    if (*skip && numel != 1)
        return ftn_fail(FTN_EFORMAT, "%s: tensor '%s': a BN counter must be one int64, not %llu", path, name,
                        (unsigned long long)numel);
    if (sp->end - sp->begin != elem * numel)
        return ftn_fail(FTN_EFORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but the shape needs %llu",
                        path, name, (unsigned long long)sp->begin, (unsigned long long)sp->end,
                        (unsigned long long)(sp->end - sp->begin), (unsigned long long)(elem * numel));
    return FTN_OK;
}

static ftn_status parse(const char *path, uint8_t *buf, size_t size, ftn_st_file *f)
{
    if (size < 8)
        return ftn_fail(FTN_EFORMAT, "%s: file is %zu bytes, too short for a safetensors header", path, size);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)buf[i] << (8 * i);
    if (n > FTN_ST_MAX_HEADER)
        return ftn_fail(FTN_EFORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path,
                        (unsigned long long)n, (unsigned long long)FTN_ST_MAX_HEADER);
    if (n > size - 8)
        return ftn_fail(FTN_EFORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)",
                        path, (unsigned long long)n, size);
    if (n < 2) return ftn_fail(FTN_EFORMAT, "%s: header of %llu bytes is too short", path, (unsigned long long)n);
    const char *hdr = (const char *)buf + 8, *end = NULL;
    f->root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!f->root) {
        const char *at = cJSON_GetErrorPtr();
        long pos = (at && at >= hdr && at <= hdr + n) ? (long)(at - hdr) : -1;
        return ftn_fail(FTN_EFORMAT, "%s: header is not valid JSON (error near byte %ld of %llu)", path, pos,
                        (unsigned long long)n);
    }
    if (end && end >= hdr && end <= hdr + n)
        for (const char *p = end; p < hdr + n; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                return ftn_fail(FTN_EFORMAT, "%s: header has trailing bytes after the JSON (at byte %ld)",
                                path, (long)(p - hdr));
    if (!cJSON_IsObject(f->root)) return ftn_fail(FTN_EFORMAT, "%s: header is not a JSON object", path);

    int total = cJSON_GetArraySize(f->root);
    const cJSON *meta = NULL;
    int count = 0;
    for (const cJSON *e = f->root->child; e; e = e->next) {
        if (!e->string) return ftn_fail(FTN_EFORMAT, "%s: header entry without a name", path);
        if (strcmp(e->string, META_KEY) == 0) {
            if (meta) return ftn_fail(FTN_EFORMAT, "%s: header has two %s entries", path, META_KEY);
            meta = e;
        } else count++;
    }
    (void)total;

    /* Metadata. */
    if (meta) {
        if (!cJSON_IsObject(meta)) return ftn_fail(FTN_EFORMAT, "%s: %s is not an object", path, META_KEY);
        int nm = cJSON_GetArraySize(meta);
        f->meta_keys = calloc((size_t)nm + 1, sizeof *f->meta_keys);
        f->meta_values = calloc((size_t)nm + 1, sizeof *f->meta_values);
        if (!f->meta_keys || !f->meta_values) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        for (const cJSON *e = meta->child; e; e = e->next) {
            if (!cJSON_IsString(e))
                return ftn_fail(FTN_EFORMAT, "%s: %s value of '%s' is not a string", path, META_KEY,
                                e->string ? e->string : "?");
            f->meta_keys[f->n_meta] = e->string;
            f->meta_values[f->n_meta] = e->valuestring;
            f->n_meta++;
        }
        /* Duplicate keys, found by sorting a copy (the header may hold millions of entries). */
        if (f->n_meta > 1) {
            const char **keys = malloc(sizeof *keys * (size_t)f->n_meta);
            if (!keys) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            memcpy(keys, f->meta_keys, sizeof *keys * (size_t)f->n_meta);
            qsort(keys, (size_t)f->n_meta, sizeof *keys, str_cmp);
            for (int i = 1; i < f->n_meta; i++)
                if (strcmp(keys[i - 1], keys[i]) == 0) {
                    ftn_status st = ftn_fail(FTN_EFORMAT, "%s: %s key '%s' appears twice", path, META_KEY, keys[i]);
                    free(keys);
                    return st;
                }
            free(keys);
        }
    }

    /* Tensors. */
    f->tensors = calloc((size_t)count + 1, sizeof *f->tensors);
    span *spans = calloc((size_t)count + 1, sizeof *spans);
    ftn_st_tensor *sorted = calloc((size_t)count + 1, sizeof *sorted);
    ftn_status st = FTN_OK;
    if (!f->tensors || !spans || !sorted) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int k = 0, n_spans = 0;
    for (const cJSON *e = f->root->child; e; e = e->next) {
        if (e == meta) continue;
        int skip;
        st = parse_entry(path, e, &f->tensors[k], &spans[n_spans], &skip);
        if (st) goto done;
        spans[n_spans].index = skip ? -1 : k;
        spans[n_spans].name = e->string;
        n_spans++;
        if (!skip) k++;
    }
    f->count = count = k;

    /* Unique names. */
    if (count > 1) {
        memcpy(sorted, f->tensors, sizeof *sorted * (size_t)count);
        qsort(sorted, (size_t)count, sizeof *sorted, name_cmp);
        for (int i = 1; i < count; i++)
            if (strcmp(sorted[i - 1].name, sorted[i].name) == 0) {
                st = ftn_fail(FTN_EFORMAT, "%s: tensor name '%s' appears twice", path, sorted[i].name);
                goto done;
            }
    }

    /* Offsets tile the data section exactly: no gaps, no overlaps. */
    uint64_t data_size = (uint64_t)(size - 8 - n);
    qsort(spans, (size_t)n_spans, sizeof *spans, span_cmp);
    uint64_t pos = 0;
    for (int i = 0; i < n_spans; i++) {
        const span *s = &spans[i];
        const char *name = s->name;
        if (s->end > data_size) {
            st = ftn_fail(FTN_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the data section (%llu bytes)",
                          path, name, (unsigned long long)s->begin, (unsigned long long)s->end,
                          (unsigned long long)data_size);
            goto done;
        }
        if (s->begin != pos) {
            st = ftn_fail(FTN_EFORMAT, "%s: tensor '%s': data begins at byte %llu but the previous tensor ends at %llu (%s)",
                          path, name, (unsigned long long)s->begin, (unsigned long long)pos,
                          s->begin > pos ? "gap" : "overlap");
            goto done;
        }
        pos = s->end;
    }
    if (pos != data_size) {
        st = ftn_fail(FTN_EFORMAT, "%s: tensors cover %llu bytes of a %llu-byte data section", path,
                      (unsigned long long)pos, (unsigned long long)data_size);
        goto done;
    }

    /* Move the data section to the front of its own block so floats are aligned. */
    f->data = malloc(data_size ? (size_t)data_size : 1);
    if (!f->data) {
        st = ftn_fail(FTN_ENOMEM, "%s: cannot allocate %llu bytes of tensor data", path, (unsigned long long)data_size);
        goto done;
    }
    if (data_size) memcpy(f->data, buf + 8 + n, (size_t)data_size);
    for (int i = 0; i < n_spans; i++)
        if (spans[i].index >= 0) f->tensors[spans[i].index].data = (const float *)(const void *)(f->data + spans[i].begin);

done:
    free(sorted);
    free(spans);
    return st;
}

ftn_status ftn_safetensors_read(const char *path, ftn_st_file **out)
{
    if (!path || !out) return ftn_fail(FTN_EINVAL, "safetensors_read: NULL argument");
    *out = NULL;
    uint8_t *buf;
    size_t size;
    FTN_TRY(ftn_read_file(path, MAX_FILE_SIZE, &buf, &size));
    ftn_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(buf);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    ftn_status st = parse(path, buf, size, f);
    free(buf);
    if (st) {
        ftn_st_file_free(f);
        return st;
    }
    *out = f;
    return FTN_OK;
}

const char *ftn_st_meta(const ftn_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

int ftn_st_count(const ftn_st_file *f) { return f ? f->count : 0; }

const ftn_st_tensor *ftn_st_get(const ftn_st_file *f, int i)
{
    if (!f || i < 0 || i >= f->count) return NULL;
    return &f->tensors[i];
}

const ftn_st_tensor *ftn_st_find(const ftn_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}
