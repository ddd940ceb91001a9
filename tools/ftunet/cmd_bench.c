/* ftunet bench: the machine's fp32 peak, then training and inference throughput, effective
 * GFLOP/s against that peak and peak memory of each requested network. The ratios are to the
 * peak probe run between the timed steps of the same phase (see bench.h): this class of machine
 * is shared, and a best-of-N peak taken once at the start overstates what the CPU gives later. */
#include "commands.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "model", 'm', "NAME|all", "network to measure (default attn-unet-mi-ds); 'all' for the four", NULL },
    { "size", 0, "HxW", "input size (default 128x128)", NULL },
    { "channels", 0, "1|3", "input channels at --size (default 1)", NULL },
    { "rgb", 0, NULL, "also measure 192x256 with 3 channels (the paper's second data set)", NULL },
    { "batch", 'b', "N", "images per step (default 16)", NULL },
    { "steps", 0, "N", "timed training steps after one warm-up (default 5); inference times 3x as many forwards", NULL },
    { "peak-size", 0, "N", "matmul size for the fp32 peak (default 2048); it also runs between the timed steps", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16|both|all", "session precision (default fp32); both: fp32 and bf16, all: the three, back to back, then each against fp32 step by step", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { "json", 0, "FILE", "also write the results as JSON", NULL },
    { "profile", 0, NULL, "print where a training step's time goes, by op kind and pass, then layer by layer", NULL },
    { "augment", 0, "none|light|strong", "also time training's batch assembly (copy + augmentation of the preset) before each timed training step, as a fraction of the step", NULL },
    { "loader-threads", 0, "N", "with --augment: the streaming loader's workers, timed against the same batches from memory with a warm and a cold cache (default 2)", NULL },
    { "against-pytorch", 0, "PYTHON", "run scripts/bench_vs_pytorch.py (with --profile: scripts/profile_vs_pytorch.py) with this Python: the same model, size, batch and threads in PyTorch's CPU modes, interleaved with ftunet's steps; arguments after -- go to the script (-- --help lists them)", NULL },
    { "step-server", 0, NULL, "keep a session per --precision open and run one step per line read from stdin ('train fp32', 'infer bf16', 'quit'), printing its seconds; what --against-pytorch's script drives", NULL },
    { 0 },
};

static void print_profile(const ftn_bench_result *r)
{
    double total = r->t_forward + r->t_loss + r->t_backward + r->t_update;
    printf("  profile (mean per training step, %.3f s; timed per primitive):\n", total);
    printf("    %-9s %-10s %9s %7s %6s\n", "pass", "op", "ms", "%step", "calls");
    for (int i = 0; i < r->n_profile; i++) {
        const ftn_profile_entry *e = &r->profile[i];
        printf("    %-9s %-10s %9.2f %6.1f%% %6ld\n", e->backward ? "backward" : "forward", e->kind,
               e->seconds * 1e3, total > 0 ? 100 * e->seconds / total : 0, e->calls);
    }
    printf("    %-9s %-10s %9.2f %6.1f%%\n", "step", "forward", r->t_forward * 1e3, total > 0 ? 100 * r->t_forward / total : 0);
    printf("    %-9s %-10s %9.2f %6.1f%%\n", "step", "loss", r->t_loss * 1e3, total > 0 ? 100 * r->t_loss / total : 0);
    printf("    %-9s %-10s %9.2f %6.1f%%\n", "step", "backward", r->t_backward * 1e3, total > 0 ? 100 * r->t_backward / total : 0);
    printf("    %-9s %-10s %9.2f %6.1f%%\n", "step", "sgd", r->t_update * 1e3, total > 0 ? 100 * r->t_update / total : 0);
    if (!r->n_profile) { printf("    (this engine does not time its ops)\n"); return; }
    printf("  by layer (mean per training step, ms; execution order):\n");
    printf("    %-3s %-28s %-9s %-14s %9s %9s %6s\n", "#", "layer", "kind", "output", "forward", "backward", "%step");
    for (int i = 0; i < r->n_layers; i++) {
        const ftn_profile_layer *e = &r->layers[i];
        char name[64], shape[32];
        if (e->after[0]) snprintf(name, sizeof name, "%s after %s", e->label, e->after);
        else snprintf(name, sizeof name, "%s", e->label);
        snprintf(shape, sizeof shape, "%dx%dx%d", e->out.c, e->out.h, e->out.w);
        double t = e->seconds[0] + e->seconds[1];
        printf("    %-3d %-28s %-9s %-14s %9.2f %9.2f %5.1f%%\n", i, name, e->kind, shape, e->seconds[0] * 1e3,
               e->seconds[1] * 1e3, total > 0 ? 100 * t / total : 0);
    }
}

static cJSON *result_json(const ftn_bench_config *c, const ftn_bench_result *r, double peak)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddNumberToObject(o, "channels", c->channels);
    cJSON_AddNumberToObject(o, "height", c->height);
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "steps", c->steps);
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    cJSON_AddNumberToObject(o, "forward_gflop_per_image", r->forward_flops * 1e-9);
    cJSON_AddNumberToObject(o, "train_images_per_s", r->train_ips);
    cJSON_AddNumberToObject(o, "train_step_s", r->train_step_s);
    cJSON_AddNumberToObject(o, "train_gflops", r->train_gflops);
    cJSON_AddNumberToObject(o, "train_peak_gflops", r->train_peak_gflops);
    cJSON_AddNumberToObject(o, "train_peak_ratio", r->train_gflops / r->train_peak_gflops);
    cJSON_AddNumberToObject(o, "train_start_peak_ratio", r->train_gflops / peak);
    cJSON_AddNumberToObject(o, "infer_images_per_s", r->infer_ips);
    cJSON_AddNumberToObject(o, "infer_batch_s", r->infer_batch_s);
    cJSON_AddNumberToObject(o, "infer_gflops", r->infer_gflops);
    cJSON_AddNumberToObject(o, "infer_peak_gflops", r->infer_peak_gflops);
    cJSON_AddNumberToObject(o, "infer_peak_ratio", r->infer_gflops / r->infer_peak_gflops);
    cJSON_AddNumberToObject(o, "infer_start_peak_ratio", r->infer_gflops / peak);
    cJSON_AddNumberToObject(o, "peak_rss_session_mib", r->rss_session_mib);
    cJSON_AddNumberToObject(o, "peak_rss_infer_mib", r->rss_infer_mib);
    cJSON_AddNumberToObject(o, "peak_rss_train_mib", r->rss_train_mib);
    cJSON_AddBoolToObject(o, "peak_rss_reset_per_model", r->rss_reset);
    cJSON_AddNumberToObject(o, "loss", r->last_loss);
    if (c->augment) {
        cJSON_AddNumberToObject(o, "augment_batch_s", r->augment_batch_s);
        cJSON_AddNumberToObject(o, "augment_step_fraction", r->augment_batch_s / r->train_step_s);
    }
    if (c->profile) {
        cJSON *p = cJSON_AddObjectToObject(o, "profile");
        cJSON_AddNumberToObject(p, "forward_s", r->t_forward);
        cJSON_AddNumberToObject(p, "loss_s", r->t_loss);
        cJSON_AddNumberToObject(p, "backward_s", r->t_backward);
        cJSON_AddNumberToObject(p, "sgd_s", r->t_update);
        cJSON *ops = cJSON_AddArrayToObject(p, "ops");
        for (int i = 0; i < r->n_profile; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "pass", r->profile[i].backward ? "backward" : "forward");
            cJSON_AddStringToObject(e, "op", r->profile[i].kind);
            cJSON_AddNumberToObject(e, "seconds", r->profile[i].seconds);
            cJSON_AddNumberToObject(e, "calls", (double)r->profile[i].calls);
            cJSON_AddItemToArray(ops, e);
        }
        cJSON *layers = cJSON_AddArrayToObject(p, "layers");
        for (int i = 0; i < r->n_layers; i++) {
            const ftn_profile_layer *l = &r->layers[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "layer", l->label);
            cJSON_AddStringToObject(e, "kind", l->kind);
            if (l->after[0]) cJSON_AddStringToObject(e, "after", l->after);
            cJSON *shape = cJSON_AddArrayToObject(e, "output");
            int d[3] = { l->out.c, l->out.h, l->out.w };
            for (int j = 0; j < 3; j++) cJSON_AddItemToArray(shape, cJSON_CreateNumber(d[j]));
            cJSON_AddNumberToObject(e, "seconds_forward", l->seconds[0]);
            cJSON_AddNumberToObject(e, "seconds_backward", l->seconds[1]);
            cJSON_AddNumberToObject(e, "forward_calls", (double)l->calls[0]);
            cJSON_AddNumberToObject(e, "backward_calls", (double)l->calls[1]);
            cJSON_AddItemToArray(layers, e);
        }
    }
    return o;
}

/* --step-server: a session per precision, then one timed step per command line. */
static int step_server(const ftn_bench_config *base, const ftn_precision *precs, int n_precs)
{
    ftn_bench_stepper *st[3] = { NULL, NULL, NULL };
    int rc = 0;
    for (int i = 0; i < n_precs && !rc; i++) {
        ftn_bench_config cfg = *base;
        cfg.precision = precs[i];
        if (ftn_bench_stepper_create(&cfg, &st[i])) rc = cli_lib_error("bench --step-server");
    }
    if (!rc) {
        printf("ready");
        for (int i = 0; i < n_precs; i++) printf(" %s", ftn_precision_name(precs[i]));
        printf("\n");
        fflush(stdout);
    }
    char line[128];
    while (!rc && fgets(line, sizeof line, stdin)) {
        char what[16], pname[32];
        line[strcspn(line, "\r\n")] = 0;
        if (!strcmp(line, "quit")) break;
        ftn_precision p;
        int k = -1;
        if (sscanf(line, "%15s %31s", what, pname) == 2 && !ftn_precision_parse(pname, &p))
            for (int i = 0; i < n_precs; i++)
                if (precs[i] == p) k = i;
        bool train = !strcmp(what, "train");
        if (k < 0 || (!train && strcmp(what, "infer"))) {
            rc = cli_error("bench --step-server", "'%s': expected 'train P', 'infer P' (P one of --precision's) or 'quit'", line);
            break;
        }
        double sec;
        if (ftn_bench_stepper_run(st[k], train, &sec)) { rc = cli_lib_error("bench --step-server"); break; }
        printf("%s %s %.6f\n", ftn_precision_name(p), what, sec);
        fflush(stdout);
    }
    for (int i = 0; i < n_precs; i++) ftn_bench_stepper_free(st[i]);
    return rc;
}

/* The script beside this executable's source tree: <dir of exe>/../scripts/NAME (the in-tree
 * build/), else the source folder a CMake build folder records in its CMakeCache.txt. */
static int find_script(const char *exe, const char *name, char *out, size_t size)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", exe);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    snprintf(out, size, "%s/../scripts/%s", dir, name);
    if (access(out, R_OK) == 0) return 0;
    char cache[4200], line[4400];
    snprintf(cache, sizeof cache, "%s/CMakeCache.txt", dir);
    FILE *f = fopen(cache, "r");
    int rc = 1;
    const char *key = "CMAKE_HOME_DIRECTORY:INTERNAL=";
    while (f && rc && fgets(line, sizeof line, f))
        if (!strncmp(line, key, strlen(key))) {
            line[strcspn(line, "\r\n")] = 0;
            snprintf(out, size, "%s/scripts/%s", line + strlen(key), name);
            rc = access(out, R_OK) != 0;
        }
    if (f) fclose(f);
    return rc;
}

/* --against-pytorch PYTHON: runs the comparison script with that Python (replacing this process,
 * so the script's exit status is the command's), passing the shared settings and `extra`. */
static int against_pytorch(cli_command *cmd, const char *python, const ftn_bench_config *c, int threads, int n_extra, char **extra)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return cli_error("bench --against-pytorch", "cannot read /proc/self/exe: %s", strerror(errno));
    exe[n] = 0;
    const char *name = cli_get(cmd, "profile") ? "profile_vs_pytorch.py" : "bench_vs_pytorch.py";
    char script[4600];
    if (find_script(exe, name, script, sizeof script))
        return cli_error("bench --against-pytorch", "scripts/%s not found beside %s or in the source folder of its build "
                         "(run it from the repository: %s scripts/%s --ftunet %s)", name, exe, python, name, exe);
    char size[32], ch[8], batch[16], thr[16], steps[16];
    snprintf(size, sizeof size, "%dx%d", c->height, c->width);
    snprintf(ch, sizeof ch, "%d", c->channels);
    snprintf(batch, sizeof batch, "%d", c->batch);
    snprintf(thr, sizeof thr, "%d", threads);
    snprintf(steps, sizeof steps, "%d", c->steps);
    char *args[32 + 64];
    int k = 0;
    const char *fixed[] = { python, script, "--ftunet", exe, "--model", c->model, "--size", size, "--channels", ch,
                            "--batch", batch, "--threads", thr };
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) args[k++] = (char *)fixed[i];
    if (cli_get(cmd, "steps")) { args[k++] = "--steps"; args[k++] = steps; }
    if (cli_get(cmd, "json")) { args[k++] = "--json"; args[k++] = (char *)cli_get(cmd, "json"); }
    if (n_extra > 64) return cli_error("bench --against-pytorch", "%d arguments after --: at most 64", n_extra);
    for (int i = 0; i < n_extra; i++) args[k++] = extra[i];
    args[k] = NULL;
    fflush(stdout);
    execvp(python, args);
    return cli_error("bench --against-pytorch", "cannot run %s: %s", python, strerror(errno));
}

static int run(cli_command *cmd, int argc, char **argv)
{
    const char *python = cli_get(cmd, "against-pytorch");
    if (argc && !python) return cli_error("bench", "no positional arguments expected (see ftunet bench --help)");
    int h = 128, w = 128, channels = 1, batch = 16, steps = 5, peak_n = 2048;
    ftn_engine engine;
    if (cli_size(cmd, "size", &h, &w) || cli_int(cmd, "channels", 1, 3, &channels) ||
        cli_int(cmd, "batch", 1, 4096, &batch) ||
        cli_int(cmd, "steps", 1, 100000, &steps) || cli_int(cmd, "peak-size", 16, 16384, &peak_n) ||
        cli_engine_threads(cmd, &engine))
        return 1;
    ftn_precision precs[3] = { FTN_PRECISION_FP32, FTN_PRECISION_BF16, FTN_PRECISION_FP32_WINOGRAD };
    int n_precs = 1;
    const char *pname = cli_get(cmd, "precision");
    if (pname && !strcmp(pname, "both")) n_precs = 2;
    else if (pname && !strcmp(pname, "all")) n_precs = 3;
    else if (pname && ftn_precision_parse(pname, &precs[0]))
        return cli_error("bench", "--precision %s: expected fp32, fp32-winograd, bf16, both or all", pname);
    for (int i = 0; i < n_precs; i++)
        if (ftn_precision_check(engine, precs[i])) return cli_lib_error("bench");
    const char *sel = cli_get(cmd, "model");
    if (!sel) sel = "attn-unet-mi-ds";
    const char *const *names = ftn_model_names();
    const char *models[8];
    int n_models = 0;
    if (!strcmp(sel, "all")) {
        for (int i = 0; names[i] && n_models < 8; i++) models[n_models++] = names[i];
    } else {
        for (int i = 0; names[i]; i++)
            if (!strcmp(names[i], sel)) models[n_models++] = names[i];
        if (!n_models) return cli_error("bench", "--model %s: unknown network (unet, attn-unet, attn-unet-ds, attn-unet-mi-ds or all)", sel);
    }
    if (channels == 2) return cli_error("bench", "--channels 2: expected 1 or 3");
    if (python || cli_get(cmd, "step-server")) {
        if (python && cli_get(cmd, "step-server"))
            return cli_error("bench", "--against-pytorch and --step-server: one or the other");
        if (n_models != 1 || cli_get(cmd, "rgb") || cli_get(cmd, "augment"))
            return cli_error("bench", "--%s: one --model, without --rgb or --augment", python ? "against-pytorch" : "step-server");
        ftn_bench_config base = { models[0], channels, h, w, batch, steps, engine, false, precs[0], 0, NULL };
        if (python) return against_pytorch(cmd, python, &base, ftn_bench_threads(), argc, argv);
        return step_server(&base, precs, n_precs);
    }
    struct { int c, h, w; } sizes[2] = { { channels, h, w }, { 3, 192, 256 } };
    int n_sizes = cli_get(cmd, "rgb") ? 2 : 1;
    bool profile = cli_get(cmd, "profile") != NULL;
    const char *aug_name = cli_get(cmd, "augment");
    ftn_augment_config aug;
    if (aug_name && ftn_augment_preset(aug_name, &aug))
        return cli_error("bench", "--augment %s: expected none, light or strong", aug_name);
    int loader_threads = FTN_TRAIN_DEFAULT_LOADER_THREADS;
    if (cli_int(cmd, "loader-threads", 0, 256, &loader_threads)) return 1;
    /* the JSON is written at the end: a folder it cannot go to fails now, not after the runs */
    const char *jpath = cli_get(cmd, "json");
    if (jpath) {
        char dir[4096];
        const char *slash = strrchr(jpath, '/');
        if (!slash) snprintf(dir, sizeof dir, ".");
        else if (slash == jpath) snprintf(dir, sizeof dir, "/");
        else snprintf(dir, sizeof dir, "%.*s", (int)(slash - jpath), jpath);
        if (access(dir, W_OK) != 0)
            return cli_error("bench", "--json %s: cannot write into %s: %s", jpath, dir, strerror(errno));
    }

    double peak;
    if (ftn_bench_peak_gflops(peak_n, 5, &peak)) return cli_lib_error("bench");
    int threads = ftn_bench_threads();
    printf("ftunet bench: engine %s, %d thread%s, batch %d, %d timed training step%s and %d inference forwards (after 1 "
           "warm-up each)\n", ftn_engine_name(engine), threads, threads == 1 ? "" : "s", batch, steps, steps == 1 ? "" : "s",
           FTN_BENCH_INFER_PER_STEP * steps);
    printf("fp32 peak: %.1f GFLOP/s at the start (oneDNN matmul %dx%dx%d, best of 5); the same matmul runs\n"
           "  between the timed steps: 'peak' is its rate over those runs, '%%peak' GF/s against it\n", peak, peak_n, peak_n, peak_n);
    printf("memory: peak resident set (VmHWM, /proc/self/status) after the training warm-up, reset per model\n\n");
    printf("%-16s %-11s %-13s %8s %8s %7s %6s %6s %8s %7s %6s %6s %8s\n", "model", "input", "prec", "GF/img", "train/s",
           "GF/s", "peak", "%peak", "infer/s", "GF/s", "peak", "%peak", "RSS MiB");

    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    cJSON_AddStringToObject(root, "engine", ftn_engine_name(engine));
    cJSON_AddNumberToObject(root, "threads", threads);
    cJSON_AddNumberToObject(root, "peak_gflops", peak);
    cJSON_AddNumberToObject(root, "peak_matmul_size", peak_n);
    if (aug_name) cJSON_AddStringToObject(root, "augment", aug_name);
    cJSON_AddStringToObject(root, "memory_metric", "VmHWM after each phase, reset via /proc/self/clear_refs per model");
    arr = cJSON_AddArrayToObject(root, "results");
    cJSON *cmp = cJSON_AddArrayToObject(root, "comparisons");
    int rc = 0;
    /* per size, model and precision: seconds per image × the probe's GF/s, training and inference
     * (the machine-work an image costs, which the probe's rate makes comparable across phases) */
    double work[2][8][3][2] = { { { { 0 } } } };
    for (int si = 0; si < n_sizes && !rc; si++)
        for (int mi = 0; mi < n_models && !rc; mi++) {
            double ips[3][2] = { { 0 } };
            for (int pi = 0; pi < n_precs && !rc; pi++) {
                ftn_bench_config cfg = { models[mi], sizes[si].c, sizes[si].h, sizes[si].w, batch, steps, engine, profile,
                                         precs[pi], peak_n, aug_name ? &aug : NULL };
                ftn_bench_result r;
                if (ftn_bench_model(&cfg, &r)) { rc = cli_lib_error("bench"); break; }
                char input[32];
                snprintf(input, sizeof input, "%dx%dx%d", cfg.channels, cfg.height, cfg.width);
                printf("%-16s %-11s %-13s %8.3f %8.2f %7.1f %6.1f %5.1f%% %8.2f %7.1f %6.1f %5.1f%% %8.0f\n", cfg.model,
                       input, ftn_precision_name(cfg.precision), r.forward_flops * 1e-9, r.train_ips, r.train_gflops,
                       r.train_peak_gflops, 100 * r.train_gflops / r.train_peak_gflops, r.infer_ips, r.infer_gflops,
                       r.infer_peak_gflops, 100 * r.infer_gflops / r.infer_peak_gflops, r.rss_train_mib);
                if (aug_name)
                    printf("  batch assembly + augmentation (%s): %.2f ms per batch of %d = %.2f %% of a training step "
                           "(%.1f ms), interleaved over the %d timed steps\n", aug_name, r.augment_batch_s * 1e3, batch,
                           100 * r.augment_batch_s / r.train_step_s, r.train_step_s * 1e3, steps);
                ftn_bench_loader_result lr;
                if (aug_name && ftn_bench_loader(&cfg, loader_threads, &lr)) { rc = cli_lib_error("bench"); break; }
                if (aug_name) {
                    printf("  streaming loader (%d worker%s; %d images at 192x256 on disk, decoded, resized and augmented "
                           "in %.2f ms each on one thread): a step fed from memory %.1f ms (%.2f img/s); by the loader with "
                           "a warm cache %.1f ms (%+.2f %%, %.2f img/s), with a cold cache %.1f ms (%+.2f %%, %.2f img/s)\n",
                           lr.threads, lr.threads == 1 ? "" : "s", lr.images, lr.decode_sample_s * 1e3,
                           lr.memory_step_s * 1e3, lr.memory_ips, lr.warm_step_s * 1e3,
                           100 * (lr.warm_step_s / lr.memory_step_s - 1), lr.warm_ips, lr.cold_step_s * 1e3,
                           100 * (lr.cold_step_s / lr.memory_step_s - 1), lr.cold_ips);
                }
                if (profile) print_profile(&r);
                fflush(stdout);
                ips[pi][0] = r.train_ips;
                ips[pi][1] = r.infer_ips;
                work[si][mi][pi][0] = r.train_peak_gflops / r.train_ips;
                work[si][mi][pi][1] = r.infer_peak_gflops / r.infer_ips;
                cJSON *o = result_json(&cfg, &r, peak);
                if (aug_name) {
                    cJSON *lo = cJSON_AddObjectToObject(o, "loader");
                    cJSON_AddNumberToObject(lo, "threads", lr.threads);
                    cJSON_AddNumberToObject(lo, "images", lr.images);
                    cJSON_AddNumberToObject(lo, "sample_s", lr.decode_sample_s);
                    cJSON_AddNumberToObject(lo, "memory_step_s", lr.memory_step_s);
                    cJSON_AddNumberToObject(lo, "warm_step_s", lr.warm_step_s);
                    cJSON_AddNumberToObject(lo, "cold_step_s", lr.cold_step_s);
                    cJSON_AddNumberToObject(lo, "warm_cost_fraction", lr.warm_step_s / lr.memory_step_s - 1);
                    cJSON_AddNumberToObject(lo, "cold_cost_fraction", lr.cold_step_s / lr.memory_step_s - 1);
                    cJSON_AddNumberToObject(lo, "memory_images_per_s", lr.memory_ips);
                    cJSON_AddNumberToObject(lo, "warm_images_per_s", lr.warm_ips);
                    cJSON_AddNumberToObject(lo, "cold_images_per_s", lr.cold_ips);
                }
                if (si == 1) {
                    double px = (double)sizes[1].h * sizes[1].w / ((double)sizes[0].h * sizes[0].w);
                    double tr = work[1][mi][pi][0] / work[0][mi][pi][0], in = work[1][mi][pi][1] / work[0][mi][pi][1];
                    printf("%-16s %s per image against %dx%dx%d (at the probes' rates; linear: x%.2f): training x%.2f, "
                           "inference x%.2f\n", cfg.model, input, sizes[0].c, sizes[0].h, sizes[0].w, px, tr, in);
                    cJSON_AddNumberToObject(o, "pixels_ratio", px);
                    cJSON_AddNumberToObject(o, "train_work_per_image_ratio", tr);
                    cJSON_AddNumberToObject(o, "infer_work_per_image_ratio", in);
                }
                cJSON_AddStringToObject(o, "precision", ftn_precision_name(cfg.precision));
                cJSON_AddItemToArray(arr, o);
                ftn_bench_result_free(&r);
            }
            /* images/s as measured, and per unit of the probe's rate (the machine's share moves
             * between the two measurements); then the two precisions step by step */
            for (int pi = 1; pi < n_precs && !rc; pi++) {
                double b2b[4] = { ips[pi][0] / ips[0][0], work[si][mi][0][0] / work[si][mi][pi][0], ips[pi][1] / ips[0][1],
                                  work[si][mi][0][1] / work[si][mi][pi][1] };
                const char *pn = ftn_precision_name(precs[pi]);
                printf("%-16s %s / fp32 (back to back, same process): training x%.2f (x%.2f at the probes' rates), "
                       "inference x%.2f (x%.2f)\n", models[mi], pn, b2b[0], b2b[1], b2b[2], b2b[3]);
                ftn_bench_config cfg = { models[mi], sizes[si].c, sizes[si].h, sizes[si].w, batch, steps, engine, false,
                                         precs[0], 0, NULL };
                ftn_bench_pair pr;
                if (ftn_bench_interleaved(&cfg, precs[pi], &pr)) { rc = cli_lib_error("bench"); break; }
                printf("%-16s %s / fp32 (step by step, one model; median of %d pairs and range): training x%.2f "
                       "(x%.2f-x%.2f), inference x%.2f (x%.2f-x%.2f; %d pairs)\n", models[mi], pn, pr.n_train, pr.train[0],
                       pr.train[1], pr.train[2], pr.infer[0], pr.infer[1], pr.infer[2], pr.n_infer);
                fflush(stdout);
                cJSON *o = cJSON_CreateObject();
                char input[32];
                snprintf(input, sizeof input, "%dx%dx%d", cfg.channels, cfg.height, cfg.width);
                cJSON_AddStringToObject(o, "model", models[mi]);
                cJSON_AddStringToObject(o, "input", input);
                cJSON_AddStringToObject(o, "precision", pn);
                cJSON_AddStringToObject(o, "against", ftn_precision_name(precs[0]));
                cJSON_AddNumberToObject(o, "back_to_back_train_ratio", b2b[0]);
                cJSON_AddNumberToObject(o, "back_to_back_train_ratio_at_probe_rates", b2b[1]);
                cJSON_AddNumberToObject(o, "back_to_back_infer_ratio", b2b[2]);
                cJSON_AddNumberToObject(o, "back_to_back_infer_ratio_at_probe_rates", b2b[3]);
                cJSON_AddNumberToObject(o, "interleaved_train_pairs", pr.n_train);
                cJSON_AddNumberToObject(o, "interleaved_train_ratio", pr.train[0]);
                cJSON_AddNumberToObject(o, "interleaved_train_ratio_min", pr.train[1]);
                cJSON_AddNumberToObject(o, "interleaved_train_ratio_max", pr.train[2]);
                cJSON_AddNumberToObject(o, "interleaved_infer_pairs", pr.n_infer);
                cJSON_AddNumberToObject(o, "interleaved_infer_ratio", pr.infer[0]);
                cJSON_AddNumberToObject(o, "interleaved_infer_ratio_min", pr.infer[1]);
                cJSON_AddNumberToObject(o, "interleaved_infer_ratio_max", pr.infer[2]);
                cJSON_AddItemToArray(cmp, o);
            }
        }
    if (!rc && jpath) { /* to a temporary name, then renamed into place */
        char *text = cJSON_Print(root);
        if (!text) rc = cli_error("bench", "%s: out of memory for the JSON", jpath);
        else {
            const void *chunks[2] = { text, "\n" };
            size_t sizes[2] = { strlen(text), 1 };
            if (ftn_write_file_atomic(jpath, chunks, sizes, 2)) rc = cli_lib_error("bench");
        }
        free(text);
    }
    cJSON_Delete(root);
    return rc;
}

cli_command cmd_bench = {
    "bench", "[--model NAME|all] [--size HxW] [--channels 1|3] [--rgb] [--batch N] [--steps N] [--precision fp32|fp32-winograd|bf16|both|all] [--json FILE] [--profile] [--augment none|light|strong] [--against-pytorch PYTHON [-- SCRIPT-ARGS]] [--step-server]",
    "Measure training and inference throughput, GFLOP/s against the fp32 peak, and memory.",
    "Measure training and inference throughput, effective GFLOP/s against the machine's fp32\n"
    "peak (a oneDNN matmul) and peak memory, on synthetic data.\n"
    "With --against-pytorch PYTHON: the same model, size, batch and threads in PyTorch (the independent "
    "implementation tools/reference_pytorch.py, run by that Python) in its CPU modes (fp32 channels-first and "
    "channels_last, bf16 autocast, torch.compile where it works), step by step against ftunet's fp32 and bf16 "
    "sessions, with the ratios' range over the rounds; the script says which BLAS PyTorch uses and refuses the "
    "reference BLAS. With --profile as well: both profilers, layer group by layer group (docs/PERFORMANCE.md).",
    "ftunet bench\n"
    "ftunet bench --model all --steps 3 --json bench.json\n"
    "ftunet bench --model unet --size 192x256 --channels 3 --precision both\n"
    "ftunet bench --against-pytorch /usr/bin/python3 --threads 2\n"
    "ftunet bench --against-pytorch /opt/torch-venv/bin/python --size 192x256 --channels 3 --steps 3\n"
    "ftunet bench --against-pytorch /usr/bin/python3 --profile --steps 3",
    options, run,
};
