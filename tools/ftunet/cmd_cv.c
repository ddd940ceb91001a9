/* ftunet cv: K-fold or repeated random-split cross-validation of the training protocol. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "ftunet_protocol.h"
#include "signals.h"
#include "train_opts.h"

int cv_run(const char *what, const ftn_train_config *base, const char *dir, int folds, int repeats, ftn_metrics *mean,
           ftn_metrics *std)
{
    /* one data set for every run (with --skip-bad every file decoded once, here, before any
     * training): the folds' indices are this data set's */
    ftn_dataset own;
    const ftn_dataset *ds = base->dataset;
    char **excluded = NULL; /* --exclude-empty on our own data set (a caller's: base->excluded) */
    int n_excluded = 0;
    if (!ds) {
        if (train_opts_open_data(what, base, &own)) return 1;
        if (base->exclude_empty && train_opts_exclude_empty(what, &own, &excluded, &n_excluded)) {
            ftn_dataset_free(&own);
            return 1;
        }
        ds = &own;
    }
    int n = ds->count, runs = folds > 0 ? folds : repeats, rc = 0;
    int *group, *stratum;
    if (ftn_dataset_split_groups(ds, base->group_regex, base->stratify, &group, &stratum)) {
        if (!base->dataset) ftn_dataset_free(&own), ftn_dataset_ids_free(excluded, n_excluded);
        return cli_lib_error(what);
    }
    ftn_split_groups g = {group, stratum};
    ftn_train_summary *sums = calloc((size_t)runs, sizeof *sums);
    if (!sums) {
        free(group), free(stratum);
        if (!base->dataset) ftn_dataset_free(&own), ftn_dataset_ids_free(excluded, n_excluded);
        return cli_error(what, "out of memory");
    }
    for (int r = 0; r < runs && !rc; r++) {
        char fold_dir[4096], summary[4200], prefix[64];
        snprintf(fold_dir, sizeof fold_dir, "%s/fold-%d", dir, r + 1);
        snprintf(summary, sizeof summary, "%s/test/summary.json", fold_dir);
        snprintf(prefix, sizeof prefix, "%s %d/%d  ", folds > 0 ? "fold" : "repeat", r + 1, runs);
        /* a finished run is reused only after ftn_train_run has checked that its configuration
         * (model, loss, seed, split, protocol) is the one asked for */
        struct stat st;
        int finished = !base->overwrite && !stat(summary, &st);
        ftn_split sp;
        ftn_status s = folds > 0 ? ftn_split_kfold_grouped(n, &g, folds, r, base->val_split, base->seed, &sp)
                                 : ftn_split_repeat_grouped(n, &g, base->test_split, base->val_split, base->seed, r, &sp);
        if (s) { rc = cli_lib_error(what); break; }
        ftn_train_config cfg = *base;
        cfg.split = &sp;
        cfg.dataset = ds;
        if (!base->dataset) cfg.excluded = (const char *const *)excluded, cfg.n_excluded = n_excluded;
        cfg.run_dir = fold_dir;
        cfg.seed = base->seed + (uint64_t)r; /* initialisation and shuffles differ per fold */
        if (folds > 0) cfg.test_split = 1.0 / folds;
        cfg.resume = !base->overwrite;
        ftn_status ts = ftn_train_run(&cfg, cli_stop_progress, prefix, &sums[r]);
        if (ts == FTN_EINTERRUPTED) rc = cli_error(what, "%s; continue with the same command", ftn_last_error());
        else if (ts) rc = cli_lib_error(what);
        else if (sums[r].tested_now && ftn_report_write(fold_dir, cfg.engine)) rc = cli_lib_error(what);
        else if (finished && sums[r].n_trained_now == 0) fprintf(stderr, "%sfinished already: %s\n", prefix, fold_dir);
        ftn_split_free(&sp);
    }
    if (!rc && ftn_cv_summary_write(dir, base, folds > 0, runs, sums, mean, std)) rc = cli_lib_error(what);
    free(sums);
    free(group), free(stratum);
    if (!base->dataset) ftn_dataset_free(&own), ftn_dataset_ids_free(excluded, n_excluded);
    return rc;
}

static int metrics_from_json(const cJSON *j, ftn_metrics *m)
{
    const char *keys[3] = { "dsc", "precision", "recall" };
    double *dst[3] = { &m->dsc, &m->precision, &m->recall };
    memset(m, 0, sizeof *m);
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (!cJSON_IsNumber(v)) return -1;
        *dst[k] = v->valuedouble;
    }
    return 0;
}

int cv_read(const char *what, const char *dir, int *runs, ftn_metrics *mean, ftn_metrics *std)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    struct stat st;
    if (stat(path, &st)) return -1;
    uint8_t *text;
    size_t n;
    if (ftn_read_file(path, 16u << 20, &text, &n)) return cli_lib_error(what);
    cJSON *j = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "runs");
    int bad = !j || !cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 ||
              metrics_from_json(cJSON_GetObjectItemCaseSensitive(j, "mean"), mean) ||
              metrics_from_json(cJSON_GetObjectItemCaseSensitive(j, "std"), std);
    if (!bad) *runs = cJSON_GetArraySize(arr);
    cJSON_Delete(j);
    return bad ? cli_error(what, "%s: not a cross-validation summary (rerun the row to rewrite it)", path) : 0;
}

static cli_option options[] = {
    { "output", 'o', "DIR", "folder of the folds (DIR/fold-N) and DIR/summary.json", NULL },
    { "folds", 'k', "K", "K-fold cross-validation (the test parts partition the data)", NULL },
    { "repeats", 'r', "R", "R repeated random splits (--test-split each), the paper's 5 repetitions", NULL },
    TRAIN_MODEL_OPTIONS,
    TRAIN_PROTOCOL_OPTIONS,
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("cv", "expected one DATA argument (see ftunet cv --help)");
    const char *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("cv", "missing -o DIR");
    int folds = 0, repeats = 0;
    if (cli_int(cmd, "folds", 2, 1000, &folds) || cli_int(cmd, "repeats", 1, 1000, &repeats)) return 1;
    if ((folds > 0) == (repeats > 0)) return cli_error("cv", "give exactly one of --folds K and --repeats R");
    ftn_train_config cfg;
    if (train_opts_parse(cmd, &cfg)) return 1;
    cfg.data = argv[0];
    cli_stop_install(); /* Ctrl-C: the fold's step finishes and its run is saved */
    cfg.stop = &cli_stop_signal;
    ftn_metrics mean, std;
    if (cv_run("cv", &cfg, dir, folds, repeats, &mean, &std)) return cli_stop_signal ? cli_stop_exit_status() : 1;
    printf("%s (%s + %s, %d %s)\n", dir, cfg.model, ftn_loss_name(cfg.loss.kind), folds ? folds : repeats,
           folds ? "folds" : "repeats");
    printf("| DSC | Precision | Recall |\n|---|---|---|\n| %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f |\n", mean.dsc, std.dsc,
           mean.precision, std.precision, mean.recall, std.recall);
    printf("summary: %s/summary.json\n", dir);
    return 0;
}

cli_command cmd_cv = {
    "cv", "DATA -o DIR (--folds K | --repeats R) [train options]",
    "Cross-validate the training protocol over K folds or R repeated random splits.",
    "Cross-validate the training protocol: each fold is a run folder DIR/fold-N (finished folds are\n"
    "reused, an interrupted one resumed); prints the mean ± std over folds of the per-fold mean test\n"
    "DSC, precision and recall and writes DIR/summary.json.",
    "ftunet cv data/bus_b -o runs/bus-cv5 --folds 5\n"
    "ftunet cv data/bus_b -o runs/bus-rep5 --repeats 5 --model attn-unet --loss dl",
    options, run,
};
