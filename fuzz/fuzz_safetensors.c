/* libFuzzer target: safetensors files through the public API, as a checkpoint
 * (ftn_model_load) and as optimiser state (ftn_optimizer_load into an attn-unet), and through
 * the reader they share (ftn_safetensors_read).
 *
 * Input: a file's bytes followed by a 4-byte little-endian word: its low 30 bits count zero
 * bytes the harness appends before writing the file out (at most 16 MiB), its top 2 bits pick
 * the reader (0 ftn_model_load, 1 ftn_optimizer_load, 2-3 ftn_safetensors_read). A checkpoint's
 * data section is megabytes of floats while everything interesting is in its small JSON header;
 * with the padding the seeds (fuzz/make_seeds.c) stay small and the fuzzer mutates the header,
 * not the zeros. Inputs shorter than 4 bytes are written as they are and read raw. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "fuzz_common.h"
#include "io/safetensors.h"

#define FUZZ_MAX_PAD ((size_t)16 << 20)

static ftn_model *opt_model;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (ftn_model_create("attn-unet", 1, 16, 16, &opt_model) != FTN_OK) abort();
    fuzz_tmpdir();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size, pad = 0;
    int which = 2;
    if (size >= 4) {
        n = size - 4;
        uint32_t word = (uint32_t)data[n] | (uint32_t)data[n + 1] << 8 | (uint32_t)data[n + 2] << 16 |
                        (uint32_t)data[n + 3] << 24;
        pad = (word & 0x3fffffffu) % (FUZZ_MAX_PAD + 1);
        which = (int)(word >> 30);
    }
    const char *path = fuzz_path("input.safetensors");
    fuzz_write(path, data, n, pad);

    if (which == 0) {
        ftn_model *m = NULL;
        if (ftn_model_load(path, &m) == FTN_OK) {
            if (!m || !ftn_model_name(m)) abort();
            ftn_model_free(m);
        } else if (m) {
            abort();
        }
        return 0;
    }
    if (which == 1) {
        (void)ftn_optimizer_load(opt_model, path);
        return 0;
    }
    ftn_st_file *f = NULL;
    if (ftn_safetensors_read(path, &f) == FTN_OK) {
        /* every tensor's data lies inside the file, and names are findable */
        volatile float sink = 0;
        for (int i = 0; i < ftn_st_count(f); i++) {
            const ftn_st_tensor *t = ftn_st_get(f, i);
            if (!t || !t->name || ftn_st_find(f, t->name) != t) abort();
            int64_t k = ftn_st_numel(t);
            if (k < 0 || (uint64_t)k * 4 > n + pad) abort();
            if (k) sink += t->data[0] + t->data[k - 1];
        }
        (void)ftn_st_meta(f, "format");
        (void)sink;
        ftn_st_file_free(f);
    } else if (f) {
        abort();
    }
    return 0;
}
