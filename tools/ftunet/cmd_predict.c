/* ftunet predict: segment images with a checkpoint; masks at each image's original size. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "output", 'o', "DIR", "folder for STEM_mask.png (0/255) and the optional files (created if missing)", NULL },
    { "overlay", 0, NULL, "also write STEM_overlay.png: the image with the predicted lesion tinted and outlined", NULL },
    { "probabilities", 0, NULL, "also write STEM_prob.npy: float32 H×W probabilities at the original size", NULL },
    { "threshold", 0, "T", "probability threshold (default 0.5)", NULL },
    { "resize", 0, "nearest|area|bilinear", "how images are resized to the network's input (default nearest)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16", "inference precision (default fp32; bf16 needs AVX512-BF16)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { "max-pixels", 0, "N", "largest width x height accepted per image (default 100000000)", NULL },
    { 0 },
};

/* "a/b/x.png" → "x" */
static void stem(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot > b ? (size_t)(dot - b) : strlen(b);
    snprintf(out, cap, "%.*s", (int)n, b);
}

static int predict_one(ftn_session *s, const char *path, const char *dir, float threshold, ftn_resize_mode mode,
                       size_t maxp, int overlay, int probs)
{
    ftn_image img;
    float *prob = NULL;
    uint8_t *buf = NULL;
    int rc = 0;
    if (ftn_image_read_limit(path, maxp, &img)) return cli_lib_error("predict");
    if (ftn_predict_image(s, &img, mode, &prob)) { rc = cli_lib_error("predict"); goto done; }
    size_t np = (size_t)img.width * img.height;
    buf = malloc(np * 3);
    if (!buf) { rc = cli_error("predict", "%s: out of memory", path); goto done; }
    char name[1024], out[4096];
    stem(path, name, sizeof name);
    size_t area = 0;
    for (size_t p = 0; p < np; p++) area += (buf[p] = prob[p] > threshold ? 255 : 0) != 0;
    snprintf(out, sizeof out, "%s/%s_mask.png", dir, name);
    if (ftn_image_write_png(out, img.width, img.height, 1, buf)) { rc = cli_lib_error("predict"); goto done; }
    printf("%s: %dx%d, lesion %.2f%% -> %s", path, img.width, img.height, 100.0 * (double)area / (double)np, out);
    if (overlay) {
        ftn_overlay_rgb(&img, prob, threshold, NULL, buf);
        snprintf(out, sizeof out, "%s/%s_overlay.png", dir, name);
        if (ftn_image_write_png(out, img.width, img.height, 3, buf)) { putchar('\n'); rc = cli_lib_error("predict"); goto done; }
        printf(", %s", out);
    }
    if (probs) {
        int64_t dims[2] = { img.height, img.width };
        snprintf(out, sizeof out, "%s/%s_prob.npy", dir, name);
        if (ftn_npy_write_f32(out, 2, dims, prob)) { putchar('\n'); rc = cli_lib_error("predict"); goto done; }
        printf(", %s", out);
    }
    putchar('\n');
done:
    free(buf);
    free(prob);
    ftn_image_free(&img);
    return rc;
}

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc < 2) return cli_error("predict", "expected CHECKPOINT and at least one IMAGE (see ftunet predict --help)");
    const char *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("predict", "missing -o DIR");
    float threshold = FTN_METRIC_THRESHOLD;
    int maxp = 0;
    ftn_engine engine;
    ftn_resize_mode mode = FTN_RESIZE_NEAREST;
    if (cli_float(cmd, "threshold", 0, 1, &threshold) || cli_int(cmd, "max-pixels", 1, 2000000000, &maxp) ||
        cli_engine_threads(cmd, &engine))
        return 1;
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &mode))
        return cli_error("predict", "--resize %s: expected nearest, area or bilinear", cli_get(cmd, "resize"));
    ftn_precision precision;
    if (cli_precision(cmd, engine, NULL, &precision)) return 1;
    /* stems must not collide: two inputs would overwrite each other's outputs */
    for (int i = 1; i < argc; i++)
        for (int j = 1; j < i; j++) {
            char a[1024], b[1024];
            stem(argv[i], a, sizeof a);
            stem(argv[j], b, sizeof b);
            if (!strcmp(a, b)) return cli_error("predict", "%s and %s have the same name stem '%s'", argv[j], argv[i], a);
        }
    ftn_model *m = NULL;
    ftn_session *s = NULL;
    int rc = 0;
    if (ftn_model_load(argv[0], &m) || ftn_session_create_ex(m, 1, engine, precision, &s) || ftn_mkdirs(dir)) {
        rc = cli_lib_error("predict");
        goto done;
    }
    for (int i = 1; i < argc && !rc; i++)
        rc = predict_one(s, argv[i], dir, threshold, mode, (size_t)maxp, cli_get(cmd, "overlay") != NULL,
                         cli_get(cmd, "probabilities") != NULL);
done:
    ftn_session_free(s);
    ftn_model_free(m);
    return rc;
}

cli_command cmd_predict = {
    "predict", "CHECKPOINT IMAGE... -o DIR [--overlay] [--probabilities] [--threshold T]",
    "Segment images with a checkpoint, at each image's original size.\n"
    "Writes DIR/STEM_mask.png (0/255), optionally STEM_overlay.png and STEM_prob.npy.",
    options, run,
};
