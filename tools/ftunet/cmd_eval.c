/* ftunet eval: score a checkpoint on a data set at each image's original resolution. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftunet_protocol.h"
#include "model_list.h"

static cli_option options[] = {
    { "threshold", 0, "T", "probability threshold (default 0.5, or the run's)", NULL },
    { "ensemble", 0, NULL, "average the probabilities of every checkpoint given (a cv folder: all its folds)", NULL },
    { "tta", 0, "none|flips", "test-time augmentation: flips averages the image and its 3 mirrors, each mirrored back (default none)", NULL },
    { "upsample", 0, "nearest|bilinear", "network map to the image's size before the threshold (default nearest, the paper's)", NULL },
    { "largest-component", 0, NULL, "score only the largest 8-connected lesion of each predicted mask", NULL },
    { "resize", 0, "nearest|area|bilinear", "how images are resized to the network's input (default nearest, or the run's)", NULL },
    { "run", 0, "RUN", "a training run folder: score only its split (RUN/config.json)", NULL },
    { "split", 0, "train|val|test", "which split of --run to score (default test)", NULL },
    { "output", 'o', "DIR", "folder for metrics.csv and summary.json (default CHECKPOINT's folder/eval-DATANAME)", NULL },
    { "batch", 'b', "N", "images per forward pass (default 8)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16", "inference precision (default fp32, or the run's; bf16 needs AVX512-BF16)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { "mask-suffix", 0, "SUFFIX", "an extra mask-name suffix tried first (e.g. _gt; default: the run's)", NULL },
    { "skip-bad", 0, NULL, "drop unreadable or unpaired samples (every file is decoded) instead of failing", NULL },
    { "exclude-empty", 0, NULL, "score only the images whose mask has a lesion pixel (not the paper's protocol)", NULL },
    { "max-pixels", 0, "N", "largest width x height accepted per image (default 100000000)", NULL },
    { 0 },
};

/* --exclude-empty: *idx (NULL: every sample of ds) reduced to the samples whose mask has a lesion
 * pixel, *n their count, *dropped how many went. Returns 0, or 1 after printing an error. */
static int lesion_only(const ftn_dataset *ds, int **idx, int *n, int *dropped)
{
    int cnt = *idx ? *n : ds->count;
    unsigned char *empty = malloc((size_t)(cnt > 0 ? cnt : 1));
    int *keep = malloc(sizeof(int) * (size_t)(cnt > 0 ? cnt : 1)), k = 0;
    if (!empty || !keep) {
        free(empty), free(keep);
        return cli_error("eval", "out of memory");
    }
    if (ftn_dataset_empty(ds, *idx, cnt, empty)) {
        free(empty), free(keep);
        return cli_lib_error("eval");
    }
    for (int i = 0; i < cnt; i++)
        if (!empty[i]) keep[k++] = *idx ? (*idx)[i] : i;
    free(empty);
    if (k == 0) {
        free(keep);
        return cli_error("eval", "--exclude-empty: every one of the %d images has an empty mask: nothing to score", cnt);
    }
    free(*idx);
    *idx = keep;
    *dropped = cnt - k;
    *n = k;
    return 0;
}

/* "a/b/data.csv" → "data"; "a/b/bus/" → "bus". */
static void data_name(const char *path, char *out, size_t cap)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = len - start;
    const char *dot = NULL;
    for (size_t i = start; i < len; i++)
        if (path[i] == '.' && i > start) dot = path + i;
    if (dot) n = (size_t)(dot - (path + start));
    if (n == 0 || (n == 1 && path[start] == '.')) {
        snprintf(out, cap, "data");
        return;
    }
    snprintf(out, cap, "%.*s", (int)n, path + start);
}

/* one updating line on a terminal; user: the start time */
static void show_progress(void *user, int done, int n)
{
    double t = cli_now_s() - *(const double *)user;
    fprintf(stderr, "\r\033[Keval: %d/%d images, %.2f images/s", done, n, t > 0 ? done / t : 0.0);
    fflush(stderr);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc < 2) return cli_error("eval", "expected CHECKPOINT... and DATA (see ftunet eval --help)");
    const char *ckpt = argv[0], *data = argv[argc - 1], *run_dir = cli_get(cmd, "run");
    const char *split = cli_get(cmd, "split");
    if (split && !run_dir) return cli_error("eval", "--split needs --run RUN");
    if (!split) split = "test";
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        return cli_error("eval", "--split %s: expected train, val or test", split);
    int batch = 8, maxp = 0;
    float threshold = FTN_METRIC_THRESHOLD;
    ftn_engine engine;
    if (cli_int(cmd, "batch", 1, 4096, &batch) || cli_int(cmd, "max-pixels", 1, 2000000000, &maxp) ||
        cli_engine_threads(cmd, &engine))
        return 1;
    ftn_predict_config pc = ftn_predict_default();
    if (cli_get(cmd, "tta") && ftn_tta_parse(cli_get(cmd, "tta"), &pc.tta))
        return cli_error("eval", "--tta %s: expected none or flips", cli_get(cmd, "tta"));
    if (cli_get(cmd, "upsample") && ftn_upsample_parse(cli_get(cmd, "upsample"), &pc.upsample))
        return cli_error("eval", "--upsample %s: expected nearest or bilinear", cli_get(cmd, "upsample"));
    pc.largest_component = cli_get(cmd, "largest-component") != NULL;

    model_list ms = { 0 };
    ftn_run_config *config = NULL;
    ftn_model *m = NULL;
    ftn_dataset ds;
    memset(&ds, 0, sizeof ds);
    int *idx = NULL, n = 0, rc = 0, have_ds = 0;
    ftn_eval_result r;
    memset(&r, 0, sizeof r);
    /* beyond the protocol's single network: one image at a time through ftn_predict_ensemble */
    int beyond = cli_get(cmd, "ensemble") || pc.tta != FTN_TTA_NONE || pc.upsample != FTN_UPSAMPLE_NEAREST ||
                         pc.largest_component;
    /* the protocol's single checkpoint file is read by the loader itself, which says what is wrong with it */
    if (argc > 2 || is_dir(ckpt) || beyond)
        for (int i = 0; i < argc - 1 && !rc; i++) rc = model_list_add(&ms, "eval", argv[i]);
    if (rc) goto done;
    if (ms.n > 1 && !cli_get(cmd, "ensemble")) {
        rc = cli_error("eval", "%d checkpoints given (%s, %s%s): pass --ensemble to average them", ms.n, ms.paths[0],
                       ms.paths[1], ms.n > 2 ? ", ..." : "");
        goto done;
    }
    const char *model_path = ms.n ? ms.paths[0] : ckpt;
    ftn_resize_mode mode = FTN_RESIZE_NEAREST;
    if (run_dir) {
        if (ftn_run_config_load(run_dir, &config)) { rc = cli_lib_error("eval"); goto done; }
        threshold = (float)ftn_run_config_number(config, "threshold", threshold);
        const char *rs = ftn_run_config_string(config, "resize", NULL);
        if (rs && ftn_resize_parse(rs, &mode)) { rc = cli_error("eval", "%s/config.json: unknown resize '%s'", run_dir, rs); goto done; }
    }
    if (cli_float(cmd, "threshold", 0, 1, &threshold)) { rc = 1; goto done; }
    ftn_precision precision;
    if (cli_precision(cmd, engine, config ? ftn_run_config_string(config, "precision", NULL) : NULL, &precision)) {
        rc = 1;
        goto done;
    }
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &mode)) {
        rc = cli_error("eval", "--resize %s: expected nearest, area or bilinear", cli_get(cmd, "resize"));
        goto done;
    }
    pc.resize = mode;
    pc.threshold = threshold;
    ftn_dataset_options o = { cli_get(cmd, "mask-suffix"), cli_get(cmd, "skip-bad") != NULL, (size_t)maxp, 0 };
    if (!o.mask_suffix && config) o.mask_suffix = ftn_run_config_string(config, "mask_suffix", NULL);
    if (o.mask_suffix && !*o.mask_suffix) o.mask_suffix = NULL;
    o.verify = o.skip_bad;
    if (beyond) {
        if (model_list_open(&ms, "eval", pc.tta == FTN_TTA_FLIPS ? 4 : 1, engine, precision)) { rc = 1; goto done; }
    } else if (ftn_model_load(model_path, &m)) {
        rc = cli_lib_error("eval");
        goto done;
    }
    if (ftn_dataset_open(data, &o, &ds)) { rc = cli_lib_error("eval"); goto done; }
    have_ds = 1;
    for (int i = 0; i < ds.n_skipped; i++) fprintf(stderr, "ftunet: eval: skipped %s\n", ds.skipped[i]);
    for (int i = 0; i < ds.n_notes; i++) fprintf(stderr, "note: %s\n", ds.notes[i]);
    if (config && ftn_run_config_split(config, split, &ds, &idx, &n)) { rc = cli_lib_error("eval"); goto done; }
    if (config && ms.n > 1)
        fprintf(stderr, "note: the %s split is %s's; the other %d models may have trained on its images\n", split, run_dir,
                ms.n - 1);
    int excluded = 0;
    if (cli_get(cmd, "exclude-empty") && (rc = lesion_only(&ds, &idx, &n, &excluded))) goto done;

    char dir[4096];
    if (cli_get(cmd, "output")) {
        snprintf(dir, sizeof dir, "%s", cli_get(cmd, "output"));
    } else { /* beside the checkpoint, or inside the run / cv folder given */
        char name[256];
        data_name(data, name, sizeof name);
        const char *slash = strrchr(ckpt, '/');
        if (is_dir(ckpt)) snprintf(dir, sizeof dir, "%s/eval-%s", ckpt, name);
        else if (slash) snprintf(dir, sizeof dir, "%.*s/eval-%s", (int)(slash - ckpt), ckpt, name);
        else snprintf(dir, sizeof dir, "eval-%s", name);
    }
    double t0 = cli_now_s();
    int tty = isatty(STDERR_FILENO);
    ftn_status st = beyond ? ftn_evaluate_predict(ms.s, ms.n, &pc, &ds, idx, n, tty ? show_progress : NULL, &t0, &r)
                           : ftn_evaluate(m, &ds, idx, n, threshold, mode, engine, precision, batch, &r);
    if (tty && beyond) fputs("\r\033[K", stderr);
    if (st) { rc = cli_lib_error("eval"); goto done; }
    double secs = cli_now_s() - t0;
    fprintf(stderr, "scored %d image%s in %.2f s (%.2f images/s)\n", r.n, r.n == 1 ? "" : "s", secs,
            secs > 0 ? r.n / secs : 0.0);
    char csv[4200], json[4200];
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    snprintf(json, sizeof json, "%s/summary.json", dir);
    if (ftn_mkdirs(dir) || ftn_eval_write(&r, csv, json)) { rc = cli_lib_error("eval"); goto done; }
    if (ms.n > 1) printf("ensemble of %d: %s ... %s", ms.n, ms.paths[0], ms.paths[ms.n - 1]);
    else printf("%s", model_path);
    printf(" on %s: %d images%s%s, threshold %g, resize %s, %s\n", data, r.n, run_dir ? ", split " : "",
           run_dir ? split : "", (double)threshold, ftn_resize_name(mode), ftn_precision_name(precision));
    if (beyond)
        printf("  prediction: tta %s, upsample %s%s (not the paper's protocol)\n", ftn_tta_name(pc.tta),
               ftn_upsample_name(pc.upsample), pc.largest_component ? ", largest component only" : "");
    if (cli_get(cmd, "exclude-empty"))
        printf("  excluded %d image%s with an empty mask (--exclude-empty: lesion images only, not the paper's protocol)\n",
               excluded, excluded == 1 ? "" : "s");
    /* all images: the paper's protocol and the headline; with empty ground truths among them the
     * lesion images alone and the empty ones' false positives follow, each labelled */
    const ftn_metrics_groups *g = &r.groups;
    if (g->n_empty) printf("  all %d images (the paper's protocol):\n", r.n);
    printf("  DSC        %.4f ± %.4f\n", r.mean.dsc, r.std.dsc);
    printf("  precision  %.4f ± %.4f\n", r.mean.precision, r.std.precision);
    printf("  recall     %.4f ± %.4f\n", r.mean.recall, r.std.recall);
    printf("  IoU        %.4f ± %.4f\n", r.mean.iou, r.std.iou);
    /* boundary metrics: only where both masks have a pixel, the others counted */
    if (g->n_surface) {
        printf("  HD95       %.2f ± %.2f px\n", r.mean.hd95, r.std.hd95);
        printf("  ASD        %.2f ± %.2f px\n", r.mean.asd, r.std.asd);
    }
    if (g->n_surface < r.n)
        printf("  HD95 and ASD over %d of the %d images: undefined for %d with exactly one of prediction and ground truth "
               "empty, %d with both empty\n",
               g->n_surface, r.n, g->n_surface_one_empty, r.n - g->n_surface - g->n_surface_one_empty);
    if (g->n_empty) {
        printf("  lesion images only (%d): DSC %.4f ± %.4f  precision %.4f ± %.4f  recall %.4f ± %.4f  IoU %.4f ± %.4f\n",
               g->n_lesion, g->lesion_mean.dsc, g->lesion_std.dsc, g->lesion_mean.precision, g->lesion_std.precision,
               g->lesion_mean.recall, g->lesion_std.recall, g->lesion_mean.iou, g->lesion_std.iou);
        printf("  empty ground truth (%d): false-positive rate %.4f (%d with any pixel predicted)\n", g->n_empty,
               g->empty_fp_rate, g->n_empty_fp);
    }
    printf("wrote %s and %s\n", csv, json);
done:
    ftn_eval_result_free(&r);
    free(idx);
    if (have_ds) ftn_dataset_free(&ds);
    ftn_model_free(m);
    model_list_free(&ms);
    ftn_run_config_free(config);
    return rc;
}

cli_command cmd_eval = {
    "eval", "CHECKPOINT... DATA [--threshold T] [--run RUN [--split test]] [--ensemble] [--tta flips] [--upsample bilinear] [-o DIR]",
    "Score a checkpoint or an ensemble on a data set at each image's original size.",
    "Score a checkpoint on a data set at each image's original resolution.\n"
    "As the paper: prediction upsampled nearest to the original size, threshold, smooth 1,\n"
    "DSC, precision, recall and IoU per image, mean ± population std.\n"
    "HD95 and ASD (average symmetric surface distance) in pixels at the original resolution:\n"
    "4-connected boundaries, Euclidean distances pooled over both directions, HD95 their 95th\n"
    "percentile; undefined (nan) where either mask is empty, left out of the means and counted.\n"
    "CHECKPOINT: a .safetensors file, a run folder (its best.safetensors) or, with --ensemble, a\n"
    "cross-validation folder (every fold's); several need --ensemble. --ensemble, --tta flips,\n"
    "--upsample bilinear and --largest-component predict as `ftunet predict` does (not the paper's\n"
    "protocol; one image at a time) and are recorded in summary.json's \"predict\".\n"
    "Writes DIR/metrics.csv (one line per image) and DIR/summary.json.",
    "ftunet eval runs/bus-ftl/best.safetensors data/bus_b --run runs/bus-ftl --split test\n"
    "ftunet eval runs/bus-ftl data/bus_b --run runs/bus-ftl --tta flips -o runs/bus-ftl/eval-tta\n"
    "ftunet eval --ensemble runs/bus-cv5 data/held-out --upsample bilinear\n"
    "ftunet eval runs/bus-ftl/best.safetensors data/other -o runs/bus-ftl/eval-other --threshold 0.4",
    options, run,
};
