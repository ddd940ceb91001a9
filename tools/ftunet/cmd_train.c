/* ftunet train: the paper's protocol on one split, in a resumable run folder. */
#include <stdio.h>
#include <sys/stat.h>

#include "commands.h"
#include "ftunet_protocol.h"
#include "train_opts.h"

static cli_option options[] = {
    { "output", 'o', "RUN", "run folder (created; an existing run needs --resume or --overwrite)", NULL },
    TRAIN_MODEL_OPTIONS,
    TRAIN_PROTOCOL_OPTIONS,
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("train", "expected one DATA argument (see ftunet train --help)");
    const char *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("train", "missing -o RUN");
    ftn_train_config cfg;
    if (train_opts_parse(cmd, &cfg)) return 1;
    cfg.data = argv[0];
    cfg.run_dir = dir;
    /* opened here so that its notes (CSV lines merged, ...) are shown; --skip-bad: every file
     * decoded once, the dropped ones listed, before training; and --exclude-empty: how many
     * images it drops, before training */
    ftn_dataset ds;
    char **excluded = NULL;
    if (train_opts_open_data("train", &cfg, &ds)) return 1;
    if (cfg.exclude_empty && train_opts_exclude_empty("train", &ds, &excluded, &cfg.n_excluded)) {
        ftn_dataset_free(&ds);
        return 1;
    }
    cfg.excluded = (const char *const *)excluded;
    cfg.dataset = &ds;
    ftn_train_summary sum;
    ftn_status s = ftn_train_run(&cfg, train_progress, NULL, &sum);
    ftn_dataset_free(&ds);
    ftn_dataset_ids_free(excluded, cfg.n_excluded);
    if (s) return cli_lib_error("train");
    /* the report of new test results (the library's training loop sits below the report), or
     * one a killed process did not finish */
    char report[4200];
    snprintf(report, sizeof report, "%s/report.html", dir);
    struct stat rst;
    if ((sum.tested_now || (sum.n_test && stat(report, &rst) != 0)) && ftn_report_write(dir, cfg.engine))
        return cli_lib_error("train");
    printf("%s: %d epochs (%d trained now), best epoch %d", dir, sum.epochs_done, sum.n_trained_now, sum.best_epoch);
    if (sum.n_val) printf(" (val %s %.4f)", cfg.select == FTN_SELECT_SOFT_DSC ? "soft DSC" : "DSC", sum.best_val_dsc);
    printf("\n");
    const ftn_metrics_groups *g = &sum.test_groups;
    if (sum.n_test) {
        /* all images: the paper's protocol, the headline; with empty ground truths among them,
         * the lesion images alone and the empty ones' false positives, each on its own line */
        printf("test (%d images%s): DSC %.4f ± %.4f  precision %.4f ± %.4f  recall %.4f ± %.4f\n", sum.n_test,
               g->n_empty ? ", all: the paper's protocol" : "", sum.test_mean.dsc, sum.test_std.dsc,
               sum.test_mean.precision, sum.test_std.precision, sum.test_mean.recall, sum.test_std.recall);
        if (g->n_empty) {
            printf("test, lesion images only (%d): DSC %.4f ± %.4f  precision %.4f ± %.4f  recall %.4f ± %.4f\n",
                   g->n_lesion, g->lesion_mean.dsc, g->lesion_std.dsc, g->lesion_mean.precision,
                   g->lesion_std.precision, g->lesion_mean.recall, g->lesion_std.recall);
            printf("test, empty ground truth (%d): false-positive rate %.4f (%d with any pixel predicted)\n", g->n_empty,
                   g->empty_fp_rate, g->n_empty_fp);
        }
        printf("report: %s/report.html\n", dir);
    } else if (cfg.test_split > 0) /* rounded to no image */
        printf("no test images (--test-split %g of %d image%s rounds to 0); best checkpoint: %s/best.safetensors\n",
               cfg.test_split, sum.n_train + sum.n_val, sum.n_train + sum.n_val == 1 ? "" : "s", dir);
    else
        printf("no test images (--test-split 0); best checkpoint: %s/best.safetensors\n", dir);
    return 0;
}

cli_command cmd_train = {
    "train", "DATA -o RUN [options]",
    "Train a network with the paper's protocol and score it on the held-out test images.",
    "Train a network with the paper's protocol (defaults: its BUS setup) and evaluate the checkpoint\n"
    "with the best validation DSC (--select) on the held-out test images. RUN gets config.json, log.csv,\n"
    "best/last checkpoints, state.json (for --resume), test/ and the report. DATA: any layout of\n"
    "`ftunet stats --help`; a CSV image on several lines is one sample (its masks merged by union).",
    "ftunet train data/bus_b -o runs/bus-ftl\n"
    "ftunet train data/isic -o runs/isic-tl --loss tl --size 192x256 --channels 3\n"
    "ftunet train data/bus_b -o runs/bus-ftl --resume",
    options, run,
};
