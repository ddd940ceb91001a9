/* ftunet forward: run a checkpoint on an N×C×H×W float32 .npy and write every output. */
#include "commands.h"

#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "output", 'o', "DIR", "folder for out1.npy … outK.npy (created if missing)", NULL },
    { "batch", 'b', "N", "images per forward pass (default 16)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 2) return cli_error("forward", "expected CHECKPOINT and INPUT.npy (see ftunet forward --help)");
    const char *ckpt = argv[0], *input = argv[1], *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("forward", "missing -o DIR");
    int batch = 16;
    ftn_engine engine;
    if (cli_int(cmd, "batch", 1, 4096, &batch) || cli_engine_threads(cmd, &engine)) return 1;

    ftn_model *m = NULL;
    float *x = NULL, *outs[4] = { 0 };
    ftn_session *s = NULL;
    int rc = 0, ndim = 0;
    int64_t dims[4];
    if (ftn_model_load(ckpt, &m)) { rc = cli_lib_error("forward"); goto done; }
    if (ftn_npy_read_f32(input, &ndim, dims, &x)) { rc = cli_lib_error("forward"); goto done; }
    ftn_shape in = ftn_model_input_shape(m);
    if (ndim != 4 || dims[1] != in.c || dims[2] != in.h || dims[3] != in.w || dims[0] < 1) {
        rc = cli_error("forward", "%s: expected an N×%d×%d×%d float32 array for %s", input, in.c, in.h, in.w, ckpt);
        goto done;
    }
    int n = (int)dims[0];
    for (size_t i = 0, total = (size_t)n * in.c * in.h * in.w; i < total; i++)
        if (!isfinite(x[i])) { /* a NaN input gives NaN outputs that look like a result */
            rc = cli_error("forward", "%s: image %zu holds a non-finite value (NaN or infinity)", input,
                           i / ((size_t)in.c * in.h * in.w));
            goto done;
        }
    if (batch > n) batch = n;
    if (mkdir(dir, 0777) && errno != EEXIST) { rc = cli_error("forward", "%s: %s", dir, strerror(errno)); goto done; }
    if (ftn_session_create(m, batch, engine, &s)) { rc = cli_lib_error("forward"); goto done; }
    int k_out = ftn_model_output_count(m);
    size_t in_img = (size_t)in.c * in.h * in.w;
    float *xb = malloc((size_t)batch * in_img * sizeof(float));
    size_t out_img[4];
    for (int k = 0; k < k_out; k++) {
        ftn_shape os;
        ftn_session_output(s, k, &os);
        out_img[k] = (size_t)os.c * os.h * os.w;
        outs[k] = malloc((size_t)n * out_img[k] * sizeof(float));
        if (!outs[k]) xb = (free(xb), NULL);
    }
    if (!xb) { rc = cli_error("forward", "out of memory"); goto done; }
    /* Batches of `batch`; the last one is padded by repeating its final image. */
    for (int i0 = 0; i0 < n; i0 += batch) {
        int cnt = n - i0 < batch ? n - i0 : batch;
        for (int j = 0; j < batch; j++)
            memcpy(xb + j * in_img, x + (size_t)(i0 + (j < cnt ? j : cnt - 1)) * in_img, in_img * sizeof(float));
        if (ftn_session_forward(s, xb, 0)) { rc = cli_lib_error("forward"); free(xb); goto done; }
        for (int k = 0; k < k_out; k++)
            memcpy(outs[k] + (size_t)i0 * out_img[k], ftn_session_output(s, k, NULL), (size_t)cnt * out_img[k] * sizeof(float));
    }
    free(xb);
    for (int k = 0; k < k_out; k++) {
        ftn_shape os;
        ftn_session_output(s, k, &os);
        int64_t od[4] = { n, os.c, os.h, os.w };
        char path[4096];
        snprintf(path, sizeof path, "%s/out%d.npy", dir, k + 1);
        if (ftn_npy_write_f32(path, 4, od, outs[k])) { rc = cli_lib_error("forward"); goto done; }
        printf("%s: %d×%d×%d×%d\n", path, n, os.c, os.h, os.w);
    }
done:
    for (int k = 0; k < 4; k++) free(outs[k]);
    free(x);
    ftn_session_free(s);
    ftn_model_free(m);
    return rc;
}

cli_command cmd_forward = {
    "forward", "CHECKPOINT INPUT.npy -o DIR",
    "Run a network on a float32 .npy array and write each of its outputs as .npy.",
    "Run a network on a float32 N×C×H×W .npy array (inference mode) and write every output\n"
    "as float32 .npy: out1.npy … outK.npy (the last is the prediction).",
    "ftunet forward init.safetensors images.npy -o out",
    options, run,
};
