/* ftunet recalibrate: a checkpoint's BN running statistics re-estimated on training images. */
#define _DEFAULT_SOURCE /* realpath */
#include "commands.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "output", 'o', "FILE", "the recalibrated checkpoint (written to a temporary name, then renamed)", NULL },
    { "run", 0, "RUN", "a training run folder: use its training split, data set and resize mode", NULL },
    { "batch", 'b', "N", "images per batch (default 16, or the run's)", NULL },
    { "resize", 0, "nearest|area|bilinear", "how images are resized (default nearest, or the run's)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16", "precision of the forwards (default fp32)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};

/* Whether a and b name one existing file. */
static int same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

static int run(cli_command *cmd, int argc, char **argv)
{
    const char *run_dir = cli_get(cmd, "run"), *out = cli_get(cmd, "output");
    if (argc < 1 || argc > 2 || (argc == 1 && !run_dir))
        return cli_error("recalibrate", "expected CHECKPOINT and DATA, or CHECKPOINT --run RUN (see ftunet recalibrate --help)");
    if (!out) return cli_error("recalibrate", "missing -o FILE");
    const char *ckpt = argv[0];
    if (same_file(ckpt, out)) return cli_error("recalibrate", "-o %s is the input checkpoint: write the result beside it", out);
    int batch = 16;
    ftn_engine engine;
    ftn_precision precision;
    if (cli_engine_threads(cmd, &engine)) return 1;
    if (cli_precision(cmd, engine, NULL, &precision)) return 1;

    ftn_run_config *config = NULL;
    ftn_model *m = NULL;
    ftn_dataset ds;
    int have_ds = 0, *idx = NULL, n = 0, rc = 0;
    float *x = NULL, *y = NULL;
    ftn_resize_mode mode = FTN_RESIZE_NEAREST;
    if (run_dir) {
        if (ftn_run_config_load(run_dir, &config)) { rc = cli_lib_error("recalibrate"); goto done; }
        const char *rs = ftn_run_config_string(config, "resize", NULL);
        if (rs && ftn_resize_parse(rs, &mode)) {
            rc = cli_error("recalibrate", "%s/config.json: unknown resize '%s'", run_dir, rs);
            goto done;
        }
        batch = (int)ftn_run_config_number(config, "batch", batch);
    }
    if (cli_int(cmd, "batch", 1, 4096, &batch)) { rc = 1; goto done; }
    if (batch < 1) { rc = cli_error("recalibrate", "%s/config.json: batch %d", run_dir, batch); goto done; }
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &mode)) {
        rc = cli_error("recalibrate", "--resize %s: expected nearest, area or bilinear", cli_get(cmd, "resize"));
        goto done;
    }
    if (ftn_model_load(ckpt, &m)) { rc = cli_lib_error("recalibrate"); goto done; }
    ftn_dataset_options o = { 0 };
    if (config) o.mask_suffix = ftn_run_config_string(config, "mask_suffix", NULL);
    if (o.mask_suffix && !*o.mask_suffix) o.mask_suffix = NULL;
    if (argc == 2 ? ftn_dataset_open(argv[1], &o, &ds) : ftn_run_config_dataset(run_dir, config, &ds)) {
        rc = cli_lib_error("recalibrate");
        goto done;
    }
    have_ds = 1;
    if (config && ftn_run_config_split(config, "train", &ds, &idx, &n)) { rc = cli_lib_error("recalibrate"); goto done; }
    if (!config) n = ds.count;
    if (n < 1) { rc = cli_error("recalibrate", "no images to recalibrate on"); goto done; }
    ftn_shape in = ftn_model_input_shape(m);
    if (ftn_dataset_load_subset(&ds, idx, n, in.c, in.h, in.w, mode, &x, &y, NULL) ||
        ftn_bn_recalibrate(m, x, n, batch, engine, precision) || ftn_model_save(m, out)) {
        rc = cli_lib_error("recalibrate");
        goto done;
    }
    printf("%s: BN running statistics re-estimated on %d images%s (batches of %d, resize %s) -> %s\n", ckpt, n,
           config ? " of the run's training split" : "", batch < n ? batch : n, ftn_resize_name(mode), out);
done:
    free(x);
    free(y);
    free(idx);
    if (have_ds) ftn_dataset_free(&ds);
    ftn_model_free(m);
    ftn_run_config_free(config);
    return rc;
}

cli_command cmd_recalibrate = {
    "recalibrate", "CHECKPOINT (DATA | --run RUN) -o FILE [--batch N] [--resize MODE]",
    "Re-estimate a checkpoint's BN running statistics on training images.",
    "Re-estimate every BN layer's running statistics on training images: training-mode forwards\n"
    "in batches, running mean and variance set to the average of the batches' statistics\n"
    "(\"precise BN\"). The spec's statistics (momentum 0.99 from a variance of 1) lag the weights by\n"
    "hundreds of steps; this is a deviation from the paper's protocol, to report beside it.\n"
    "With --run, the run's training split is used (never its validation or test images).",
    "ftunet recalibrate runs/bus-ftl/best.safetensors --run runs/bus-ftl -o bus-ftl-pbn.safetensors\n"
    "ftunet recalibrate model.safetensors data/bus_b -o model-pbn.safetensors --batch 8",
    options, run,
};
