/* ftunet ablation: the paper's Table 1, seven model/loss rows, each a repeated-split cv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "ftunet_protocol.h"
#include "signals.h"
#include "train_opts.h"

typedef struct row {
    const char *model, *label;
    ftn_loss_kind loss;
    const char *params;                   /* the paper's column */
    double paper[6];                      /* DSC, ±, precision, ±, recall, ± (ARCHITECTURE.md) */
} row;

static const row rows[] = {
    { "unet", "U-Net", FTN_LOSS_DICE, "DL", { 0.547, 0.04, 0.653, 0.171, 0.658, 0.146 } },
    { "unet", "U-Net", FTN_LOSS_TVERSKY, "TL (α = 0.7, β = 0.3)", { 0.657, 0.02, 0.732, 0.072, 0.723, 0.074 } },
    { "unet", "U-Net", FTN_LOSS_FOCAL_TVERSKY, "FTL (α = 0.7, β = 0.3, γ = 4/3)", { 0.669, 0.033, 0.775, 0.047, 0.715, 0.057 } },
    { "attn-unet", "Attn U-Net", FTN_LOSS_DICE, "DL", { 0.615, 0.020, 0.675, 0.042, 0.658, 0.049 } },
    { "attn-unet-mi-ds", "Proposed (multi-input + DS)", FTN_LOSS_DICE, "DL", { 0.716, 0.041, 0.759, 0.092, 0.751, 0.046 } },
    { "attn-unet-mi-ds", "Proposed (multi-input + DS)", FTN_LOSS_TVERSKY, "TL (α = 0.7, β = 0.3)", { 0.751, 0.042, 0.802, 0.073, 0.768, 0.056 } },
    { "attn-unet-mi-ds", "Proposed (multi-input + DS)", FTN_LOSS_FOCAL_TVERSKY, "FTL (α = 0.7, β = 0.3, γ = 4/3)", { 0.804, 0.024, 0.829, 0.027, 0.817, 0.022 } },
};
#define N_ROWS (int)(sizeof rows / sizeof rows[0])

static cli_option options[] = {
    { "output", 'o', "DIR", "folder: DIR/<model>-<loss>/fold-N, DIR/TABLE.md", NULL },
    { "repeats", 'r', "R", "repeated random splits per row (default 1; the paper: 5)", NULL },
    { "rows", 0, "all|LIST", "rows of Table 1 to run, 1-based, comma-separated (default all)", NULL },
    TRAIN_PROTOCOL_OPTIONS,
    { 0 },
};

static int parse_rows(const char *s, int *sel)
{
    if (!s || !strcmp(s, "all")) {
        for (int i = 0; i < N_ROWS; i++) sel[i] = 1;
        return 0;
    }
    memset(sel, 0, sizeof(int) * N_ROWS);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > N_ROWS || (*end && *end != ',')) 
            return cli_error("ablation", "--rows %s: expected all or a list like 1,7 (rows 1 to %d)", s, N_ROWS);
        sel[v - 1] = 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("ablation", "expected one DATA argument (see ftunet ablation --help)");
    const char *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("ablation", "missing -o DIR");
    int repeats = 1, sel[N_ROWS];
    if (cli_int(cmd, "repeats", 1, 1000, &repeats) || parse_rows(cli_get(cmd, "rows"), sel)) return 1;
    ftn_train_config base;
    if (train_opts_parse(cmd, &base)) return 1;
    base.data = argv[0];

    ftn_metrics mean[N_ROWS], std[N_ROWS];
    int runs[N_ROWS];
    char sub[N_ROWS][4096];
    /* rows not run now still enter the table with what an earlier call finished (read first, so
     * that a damaged summary stops us before hours of training, not after) */
    for (int i = 0; i < N_ROWS; i++) {
        snprintf(sub[i], sizeof sub[i], "%s/%s-%s", dir, rows[i].model, ftn_loss_name(rows[i].loss));
        runs[i] = 0;
        if (!sel[i] && cv_read("ablation", sub[i], &runs[i], &mean[i], &std[i]) > 0) return 1;
    }
    /* one data set for every row (with --skip-bad every file decoded once, now, before any training) */
    ftn_dataset ds;
    char **excluded = NULL;
    if (train_opts_open_data("ablation", &base, &ds)) return 1;
    if (base.exclude_empty && train_opts_exclude_empty("ablation", &ds, &excluded, &base.n_excluded)) {
        ftn_dataset_free(&ds);
        return 1;
    }
    base.excluded = (const char *const *)excluded;
    base.dataset = &ds;
    cli_stop_install(); /* Ctrl-C: the run's step finishes and it is saved */
    base.stop = &cli_stop_signal;
    for (int i = 0; i < N_ROWS; i++) {
        if (!sel[i]) continue;
        ftn_train_config cfg = base;
        cfg.model = rows[i].model;
        train_opts_loss(&cfg, rows[i].loss, 0.7f, 0.3f, 4.0f / 3.0f);
        fprintf(stderr, "row %d/%d: %s + %s -> %s\n", i + 1, N_ROWS, rows[i].model, ftn_loss_name(rows[i].loss), sub[i]);
        if (cv_run("ablation", &cfg, sub[i], 0, repeats, &mean[i], &std[i])) {
            ftn_dataset_free(&ds);
            ftn_dataset_ids_free(excluded, base.n_excluded);
            return cli_stop_signal ? cli_stop_exit_status() : 1;
        }
        runs[i] = repeats;
    }
    ftn_dataset_free(&ds);
    ftn_dataset_ids_free(excluded, base.n_excluded);
    base.dataset = NULL;
    base.excluded = NULL;

    /* TABLE.md in the paper's layout, ours beside the paper's */
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    if (!f) return cli_error("ablation", "out of memory");
    fprintf(f, "# Ablation (paper Table 1 layout)\n\n"
               "Data: %s; repeated random splits (test %.2f, validation %.2f of the rest; repetition r uses "
               "seed %llu + r − 1, the split of `ftunet train --seed` with that seed), %d epochs, batch %d, %dx%d, %s%s%s%s%s. "
               "Ours: mean ± std over the row's runs (population std) of the per-run mean test metrics; "
               "paper: BUS 2017 dataset B, 5 repetitions.\n\n",
            base.data, base.test_split, base.val_split, (unsigned long long)base.seed, base.epochs, base.batch,
            base.height, base.width, ftn_precision_name(base.precision),
            base.bn_recalibrate ? ", BN statistics re-estimated before each validation (not the paper's protocol)" : "",
            base.bn_debias ? ", BN statistics as zero-debiased moving averages (not the spec's)" : "",
            base.select == FTN_SELECT_SOFT_DSC ? ", checkpoint picked by the soft batch DSC (the reference's, not the spec's)" : "",
            base.exclude_empty ? ", images with an empty mask excluded (not the paper's protocol)" : "");
    fprintf(f, "| Model | Parameters (α, β, γ) | Runs | DSC | Precision | Recall | DSC (paper) | Precision (paper) | Recall (paper) |\n"
               "|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_ROWS; i++) {
        if (!runs[i]) continue;
        const double *p = rows[i].paper;
        fprintf(f, "| %s | %s | %d | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f | %.3f ± %.3f |\n",
                rows[i].label, rows[i].params, runs[i], mean[i].dsc, std[i].dsc, mean[i].precision, std[i].precision,
                mean[i].recall, std[i].recall, p[0], p[1], p[2], p[3], p[4], p[5]);
    }
    fclose(f);
    char path[4200];
    snprintf(path, sizeof path, "%s/TABLE.md", dir);
    const void *chunks[1] = { md };
    size_t sizes[1] = { len };
    int rc = 0;
    if (ftn_write_file_atomic(path, chunks, sizes, 1)) rc = cli_lib_error("ablation");
    else printf("%s\ntable: %s\n", md, path);
    free(md);
    return rc;
}

cli_command cmd_ablation = {
    "ablation", "DATA -o DIR [--repeats R] [--rows all|1,7] [protocol options]",
    "Run the paper's seven model/loss rows (Table 1) and tabulate them beside its numbers.",
    "Run the paper's seven model/loss rows (Table 1), each a repeated-split cv in DIR/<model>-<loss>/\n"
    "(finished rows and repeats are reused, an interrupted one resumed), then write DIR/TABLE.md with\n"
    "the paper's numbers beside ours.",
    "ftunet ablation data/bus_b -o runs/table1 --repeats 5\n"
    "ftunet ablation data/bus_b -o runs/table1-quick --rows 1,7 --epochs 20",
    options, run,
};
