/* ftunet train: the paper's protocol on one split, in a resumable run folder; `--resume RUN`
 * alone continues a run with the options of its config.json; SIGINT / SIGTERM save it to resume. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "commands.h"
#include "ftunet_protocol.h"
#include "signals.h"
#include "train_opts.h"

static cli_option options[] = {
    { "output", 'o', "RUN", "run folder (created; an existing run needs --resume or --overwrite)", NULL },
    TRAIN_MODEL_OPTIONS,
    TRAIN_PROTOCOL_OPTIONS,
    { 0 },
};

/* The split a run recorded (its ids, looked up in ds) into *sp. Returns 0, or 1 after an error. */
static int run_split(const ftn_run_config *rc, const ftn_dataset *ds, ftn_split *sp)
{
    if (ftn_run_config_split(rc, "train", ds, &sp->train, &sp->n_train)) return cli_lib_error("train");
    /* validation and test may be empty (--val-split 0, --test-split 0): an empty list reads as none */
    if (ftn_run_config_split(rc, "val", ds, &sp->val, &sp->n_val)) sp->val = NULL, sp->n_val = 0;
    if (ftn_run_config_split(rc, "test", ds, &sp->test, &sp->n_test)) sp->test = NULL, sp->n_test = 0;
    return 0;
}

/* What --epochs does to a resumed run, shown once the library has accepted the run's options
 * (at the first progress report), so that a refused resume prints its one error line only. */
static char epochs_note[1024];

static void progress(const ftn_train_progress *p, void *user)
{
    if (*epochs_note) fputs(epochs_note, stderr), *epochs_note = 0;
    cli_stop_progress(p, user);
}

/* --epochs N beside --resume: notes what it does to the run, or refuses fewer epochs than done.
 * Returns 0, or 1 after an error. */
static int check_epochs(const char *dir, const ftn_train_config *run, const ftn_train_config *cfg)
{
    int done, partial;
    if (ftn_train_read_progress(dir, &done, &partial)) return cli_lib_error("train");
    if (cfg->epochs < done)
        return cli_error("train", "%s: --epochs %d: the run has %d epochs done already (it cannot be shortened below them)",
                         dir, cfg->epochs, done);
    if (cfg->epochs == run->epochs) return 0;
    int n = snprintf(epochs_note, sizeof epochs_note, "train: %s %s from %d to %d epochs (--epochs %d)\n",
                     cfg->epochs > run->epochs ? "extending" : "shortening", dir, run->epochs, cfg->epochs, cfg->epochs);
    if (n > 0 && (size_t)n < sizeof epochs_note && cfg->opt.schedule != FTN_LR_INVERSE_TIME && cfg->schedule_epochs > 0 &&
        cfg->epochs > cfg->schedule_epochs)
        snprintf(epochs_note + n, sizeof epochs_note - (size_t)n, "train: the %s schedule keeps its length of %d epochs (config.json's schedule_epochs): epochs %d "
                "to %d run at its end rate, --min-lr %g\n", ftn_lr_schedule_name(cfg->opt.schedule), cfg->schedule_epochs,
                cfg->schedule_epochs + 1, cfg->epochs, (double)cfg->opt.min_lr);
    return 0;
}

/* The processes of `mpirun -n R ftunet train` (NULL: one, as without mpirun): process 0 prints,
 * every process trains its part of each batch. */
static const ftn_comm *group;

static int lead(void) { return !group || group->rank == 0; }

static int train(cli_command *cmd, int argc, char **argv)
{
    const char *dir = cli_get(cmd, "output"), *data = argc == 1 ? argv[0] : NULL;
    int resume = cli_get(cmd, "resume") != NULL;
    if (resume && !dir && argc == 1) dir = argv[0], data = NULL; /* ftunet train --resume RUN */
    else if (argc > 1 || (argc == 0 && !resume)) return cli_error("train", "expected one DATA argument (see ftunet train --help)");
    if (!dir) return cli_error("train", "missing -o RUN");
    /* `--resume RUN` starts from the run's own options, those given replacing them (and checked
     * against them by the library); with DATA, as before, every option is given or its default
     * (checked alike), but for --epochs, the run's unless given */
    char config[4200];
    snprintf(config, sizeof config, "%s/config.json", dir);
    struct stat cst;
    ftn_run_config *rc = NULL;
    ftn_train_config base = ftn_train_default();
    if (resume && stat(config, &cst) == 0) {
        if (ftn_run_config_load(dir, &rc) || ftn_run_config_train(rc, &base)) {
            ftn_run_config_free(rc);
            return cli_lib_error("train");
        }
        if (data) {
            ftn_train_config d = ftn_train_default();
            d.epochs = base.epochs;
            base = d;
        }
    } else if (!data) {
        return cli_error("train", "%s: not a run to resume (no config.json); a new run: ftunet train DATA -o RUN", dir);
    }
    ftn_train_config cfg;
    int rc_status = 0;
    if (train_opts_parse_over(cmd, &base, &cfg) || (rc && check_epochs(dir, &base, &cfg))) {
        ftn_run_config_free(rc);
        return 1;
    }
    cfg.data = data ? data : base.data;
    cfg.run_dir = dir;
    /* opened here so that its notes (CSV lines merged, ...) are shown; --skip-bad: every file
     * decoded once, the dropped ones listed, before training; and --exclude-empty: how many
     * images it drops, before training */
    ftn_dataset ds;
    char **excluded = NULL;
    ftn_split sp = { 0 };
    if (train_opts_open_data("train", &cfg, &ds)) {
        ftn_run_config_free(rc);
        return 1;
    }
    if ((cfg.exclude_empty && train_opts_exclude_empty("train", &ds, &excluded, &cfg.n_excluded)) ||
        (rc && !data && run_split(rc, &ds, &sp))) {
        ftn_split_free(&sp);
        ftn_dataset_free(&ds);
        ftn_dataset_ids_free(excluded, cfg.n_excluded);
        ftn_run_config_free(rc);
        return 1;
    }
    cfg.excluded = (const char *const *)excluded;
    cfg.dataset = &ds;
    if (rc && !data) cfg.split = &sp; /* the run's own ids (a cv fold's too) */
    cli_stop_install(); /* Ctrl-C: the step finishes and the run is saved */
    cfg.stop = &cli_stop_signal;
    cfg.comm = group;
    ftn_train_summary sum;
    ftn_status s = ftn_train_run(&cfg, progress, NULL, &sum);
    if (s && !lead() && (s == FTN_EINTERRUPTED || ftn_dist_peer_failed())) { /* process 0 says it */
        rc_status = s == FTN_EINTERRUPTED ? cli_stop_exit_status() : 1;
    } else if (s == FTN_EINTERRUPTED) {
        fprintf(stderr, "ftunet: train: %s; continue with: ftunet train --resume %s\n", ftn_last_error(), dir);
        rc_status = cli_stop_exit_status();
    } else if (s) {
        rc_status = cli_lib_error("train");
    }
    ftn_split_free(&sp);
    ftn_dataset_free(&ds);
    ftn_dataset_ids_free(excluded, cfg.n_excluded);
    ftn_run_config_free(rc); /* cfg's strings pointed into it */
    if (rc_status || !lead()) return rc_status;
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

static int run(cli_command *cmd, int argc, char **argv)
{
#ifdef FTUNET_MPI
    if (ftn_mpi_start(NULL, NULL, &group)) return cli_lib_error("train");
#endif
    int r = train(cmd, argc, argv);
#ifdef FTUNET_MPI
    /* a process that failed alone leaves the others waiting for it in a sum: all are ended */
    if (r && group && group->size > 1 && !ftn_dist_failed_together() && r != cli_stop_exit_status()) ftn_mpi_abort(r);
    ftn_mpi_stop();
#endif
    return r;
}

cli_command cmd_train = {
    "train", "DATA -o RUN [options] | --resume RUN [--epochs N]",
    "Train a network with the paper's protocol and score it on the held-out test images.",
    "Train a network with the paper's protocol (defaults: its BUS setup) and evaluate the checkpoint\n"
    "with the best validation DSC (--select) on the held-out test images. RUN gets config.json, log.csv,\n"
    "best/last checkpoints, state.json (for --resume), test/ and the report. DATA: any layout of\n"
    "`ftunet stats --help`; a CSV image on several lines is one sample (its masks merged by union).\n"
    "Ctrl-C (SIGINT) or SIGTERM stops after the current step and saves the epoch in progress (exit 130 or\n"
    "143; a second one quits at once, keeping the last save). `--resume RUN` alone continues it with every\n"
    "option of RUN/config.json, bit-identical to a run never interrupted; options given beside it must\n"
    "be the run's, except --epochs N, which extends (or shortens, down to the epochs done) the run.",
    "ftunet train data/bus_b -o runs/bus-ftl\n"
    "ftunet train data/isic -o runs/isic-tl --loss tl --size 192x256 --channels 3\n"
    "ftunet train --resume runs/bus-ftl\n"
    "ftunet train --resume runs/bus-ftl --epochs 150",
    options, run,
};
