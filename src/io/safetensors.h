/* float32 safetensors: the checkpoint format (https://github.com/huggingface/safetensors).
 *
 * Layout: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the raw little-endian data; offsets are relative to the start of the data section. */
#ifndef FTN_IO_SAFETENSORS_H
#define FTN_IO_SAFETENSORS_H
#include <stdint.h>

#include "ftunet.h"

#define FTN_ST_MAX_DIMS 4
/* Headers above this many bytes are refused (the reference implementation's limit). */
#define FTN_ST_MAX_HEADER 100000000ull

/* One tensor: for writing, filled in by the caller; for reading, owned by the ftn_st_file.
 * ndim 0 is a scalar (one element); dims[i] ≥ 0; data has prod(dims) floats (may be NULL when
 * that is 0). */
typedef struct ftn_st_tensor {
    const char *name;
    int ndim;
    int64_t dims[FTN_ST_MAX_DIMS];
    const float *data;
} ftn_st_tensor;

/* Writes tensors (laid out contiguously in the given order) and string metadata atomically.
 * Names must be non-empty, unique and not "__metadata__"; metadata keys must be unique. The
 * header is padded with spaces to a multiple of 8 bytes. n_meta may be 0 (keys/values NULL). */
ftn_status ftn_safetensors_write(const char *path, const ftn_st_tensor *tensors, int count,
                                 const char *const *meta_keys, const char *const *meta_values,
                                 int n_meta);

/* A parsed file; owns its names, metadata and (4-byte aligned) data. */
typedef struct ftn_st_file ftn_st_file;

/* Reads and validates a whole file. Anything but a well-formed float32 file is refused with
 * FTN_EFORMAT (or FTN_EIO if it cannot be read) and a message saying where and why; PyTorch's
 * BN counters (int64 scalars named "P.num_batches_tracked") are read past and not returned. */
ftn_status ftn_safetensors_read(const char *path, ftn_st_file **out);
void ftn_st_file_free(ftn_st_file *f);

const char *ftn_st_meta(const ftn_st_file *f, const char *key); /* NULL if absent */
int ftn_st_count(const ftn_st_file *f);
/* Tensors in header order; NULL if i is out of range. */
const ftn_st_tensor *ftn_st_get(const ftn_st_file *f, int i);
const ftn_st_tensor *ftn_st_find(const ftn_st_file *f, const char *name); /* NULL if absent */
/* Number of floats in a tensor (1 for a scalar). */
int64_t ftn_st_numel(const ftn_st_tensor *t);

#endif
