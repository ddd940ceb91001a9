/* ftunet grads: one training forward + loss + backward, gradients written for verification
 * against another implementation (tools/reference_pytorch.py grads … then … diff). */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "output", 'o', "FILE", "gradients to write (.safetensors)", NULL },
    { "loss", 0, "dl|tl|ftl", "loss (default: the checkpoint's)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16", "session precision (default fp32; bf16 needs AVX512-BF16)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 3) return cli_error("grads", "expected CHECKPOINT IMAGES.npy MASKS.npy (see ftunet grads --help)");
    const char *out = cli_get(cmd, "output");
    if (!out) return cli_error("grads", "missing -o FILE.safetensors");
    ftn_engine engine;
    if (cli_engine_threads(cmd, &engine)) return 1;
    ftn_precision precision;
    if (cli_precision(cmd, engine, NULL, &precision)) return 1;
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    float *x = NULL, *y = NULL, loss = 0;
    int nx, ny, rc = 0;
    int64_t dx[4], dy[4];
    if (ftn_model_load(argv[0], &m) || ftn_npy_read_f32(argv[1], &nx, dx, &x) || ftn_npy_read_f32(argv[2], &ny, dy, &y)) {
        rc = cli_lib_error("grads");
        goto done;
    }
    ftn_shape in = ftn_model_input_shape(m);
    if (nx != 4 || ny != 4 || dx[0] != dy[0] || dx[1] != in.c || dy[1] != 1 || dx[2] != in.h || dy[2] != in.h ||
        dx[3] != in.w || dy[3] != in.w || dx[0] < 1 || dx[0] > 4096) {
        rc = cli_error("grads", "expected N×%d×%d×%d images and N×1×%d×%d masks", in.c, in.h, in.w, in.h, in.w);
        goto done;
    }
    ftn_loss_config lc = ftn_model_loss(m);
    if (cli_get(cmd, "loss") && ftn_loss_parse(cli_get(cmd, "loss"), &lc.kind)) {
        rc = cli_error("grads", "--loss %s: expected dl, tl or ftl", cli_get(cmd, "loss"));
        goto done;
    }
    if (ftn_session_create_ex(m, (int)dx[0], engine, precision, &s) || ftn_session_forward(s, x, 1) ||
        ftn_session_loss(s, y, &lc, &loss) || ftn_session_backward(s) || ftn_model_save_gradients(m, out)) {
        rc = cli_lib_error("grads");
        goto done;
    }
    printf("%s: loss %.9g (%s)\n", out, loss, ftn_loss_name(lc.kind));
done:
    free(x);
    free(y);
    ftn_session_free(s);
    ftn_model_free(m);
    return rc;
}

cli_command cmd_grads = {
    "grads", "CHECKPOINT IMAGES.npy MASKS.npy -o FILE.safetensors",
    "Write one training step's gradients, to check against another implementation.",
    "One training step's gradients (forward in training mode, the loss with deep supervision,\n"
    "backward) written under the parameters' names, to check against another implementation.",
    "ftunet grads init.safetensors images.npy masks.npy -o grads.safetensors --loss ftl",
    options, run,
};
