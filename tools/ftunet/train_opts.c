#include "train_opts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void train_opts_loss(ftn_train_config *cfg, ftn_loss_kind kind, float alpha, float beta, float gamma)
{
    cfg->loss = ftn_loss_default(kind);
    cfg->loss.alpha = kind == FTN_LOSS_DICE ? 0.5f : alpha;
    cfg->loss.beta = kind == FTN_LOSS_DICE ? 0.5f : beta;
    cfg->loss.gamma = kind == FTN_LOSS_FOCAL_TVERSKY ? gamma : 1.0f;
}

int train_opts_parse(cli_command *cmd, ftn_train_config *cfg)
{
    const char *name = cmd->name;
    *cfg = ftn_train_default();
    if (cli_get(cmd, "model")) cfg->model = cli_get(cmd, "model");
    ftn_loss_kind kind = FTN_LOSS_FOCAL_TVERSKY;
    if (cli_get(cmd, "loss") && ftn_loss_parse(cli_get(cmd, "loss"), &kind))
        return cli_error(name, "--loss %s: expected dl, tl or ftl", cli_get(cmd, "loss"));
    float alpha = 0.7f, beta = 0.3f, gamma = 4.0f / 3.0f;
    if (cli_float(cmd, "alpha", 0, 1e6, &alpha) || cli_float(cmd, "beta", 0, 1e6, &beta) ||
        cli_float(cmd, "gamma", 1e-3, 1e3, &gamma))
        return 1;
    if (kind == FTN_LOSS_DICE && (cli_get(cmd, "alpha") || cli_get(cmd, "beta") || cli_get(cmd, "gamma")))
        return cli_error(name, "--alpha, --beta and --gamma do not apply to --loss dl (Dice is alpha = beta = 0.5)");
    if (kind == FTN_LOSS_TVERSKY && cli_get(cmd, "gamma")) return cli_error(name, "--gamma applies to --loss ftl only");
    train_opts_loss(cfg, kind, alpha, beta, gamma);

    const char *opt = cli_get(cmd, "optimizer");
    if (opt && strcmp(opt, "sgd") && strcmp(opt, "adam")) return cli_error(name, "--optimizer %s: expected sgd or adam", opt);
    if (opt && !strcmp(opt, "adam")) cfg->opt = ftn_optimizer_default(FTN_OPT_ADAM);
    if (cli_int(cmd, "epochs", 1, 1000000, &cfg->epochs) || cli_int(cmd, "batch", 1, 65536, &cfg->batch) ||
        cli_float(cmd, "lr", 1e-12, 1e3, &cfg->opt.lr) || cli_float(cmd, "momentum", 0, 0.999999, &cfg->opt.momentum) ||
        cli_float(cmd, "decay", 0, 1e3, &cfg->opt.decay) || cli_u64(cmd, "seed", &cfg->seed) ||
        cli_size(cmd, "size", &cfg->height, &cfg->width) || cli_int(cmd, "channels", 1, 3, &cfg->channels) ||
        cli_float(cmd, "threshold", 1e-6, 0.999999, &cfg->threshold))
        return 1;
    if (cfg->channels == 2) return cli_error(name, "--channels 2: expected 1 or 3");
    float ts = 0.25f, vs = 0.15f;
    if (cli_float(cmd, "test-split", 0, 0.99, &ts) || cli_float(cmd, "val-split", 0, 0.99, &vs)) return 1;
    if (cli_get(cmd, "test-split")) cfg->test_split = ts;
    if (cli_get(cmd, "val-split")) cfg->val_split = vs;
    if (cli_get(cmd, "select") && ftn_select_parse(cli_get(cmd, "select"), &cfg->select)) return cli_lib_error(name);
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &cfg->resize)) return cli_lib_error(name);
    if (cfg->seed > (1ull << 53)) return cli_error(name, "--seed %llu: at most 2^53", (unsigned long long)cfg->seed);
    cfg->mask_suffix = cli_get(cmd, "mask-suffix");
    cfg->skip_bad = cli_get(cmd, "skip-bad") != NULL;
    cfg->bn_recalibrate = cli_get(cmd, "bn-recalibrate") != NULL;
    cfg->bn_debias = cli_get(cmd, "bn-debias") != NULL;
    cfg->resume = cli_get(cmd, "resume") != NULL;
    cfg->overwrite = cli_get(cmd, "overwrite") != NULL;
    if (cfg->resume && cfg->overwrite) return cli_error(name, "--resume and --overwrite exclude each other");
    if (cfg->bn_debias && cfg->bn_recalibrate)
        return cli_error(name, "--bn-debias and --bn-recalibrate exclude each other (re-estimation replaces the statistics before every use)");
    if (cli_engine_threads(cmd, &cfg->engine)) return 1;
    if (cli_get(cmd, "precision") && ftn_precision_parse(cli_get(cmd, "precision"), &cfg->precision)) return cli_lib_error(name);
    if (ftn_precision_check(cfg->engine, cfg->precision)) return cli_lib_error(name);
    cli_int(cmd, "threads", 1, 1024, &cfg->threads);
    return 0;
}

int train_opts_open_data(const char *what, const ftn_train_config *cfg, ftn_dataset *ds)
{
    ftn_dataset_options o = { .mask_suffix = cfg->mask_suffix, .skip_bad = cfg->skip_bad, .verify = cfg->skip_bad };
    if (ftn_dataset_open(cfg->data, &o, ds)) return cli_lib_error(what);
    if (ds->n_skipped) {
        fprintf(stderr, "skipped:     %d\n", ds->n_skipped);
        for (int i = 0; i < ds->n_skipped; i++) fprintf(stderr, "  %s\n", ds->skipped[i]);
    }
    return 0;
}

static const char *hms(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e8) { snprintf(buf, n, "?"); return buf; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
    return buf;
}

void train_progress(const ftn_train_progress *p, void *user)
{
    const char *prefix = user ? (const char *)user : "";
    int tty = isatty(2);
    char eta[32];
    switch (p->phase) {
    case FTN_PHASE_LOAD:
        break;
    case FTN_PHASE_STEP:
        if (tty)
            fprintf(stderr, "\r%sepoch %d/%d  step %d/%d  loss %.4f  %.1f img/s  ETA %s\033[K", prefix, p->epoch,
                    p->epochs, p->step, p->steps, p->loss, p->images_per_s, hms(p->eta_s, eta, sizeof eta));
        break;
    case FTN_PHASE_EPOCH:
        if (tty) fputc('\r', stderr);
        fprintf(stderr, "%sepoch %d/%d  loss %.4f", prefix, p->epoch, p->epochs, p->loss);
        if (!isnan(p->val_dsc)) {
            fprintf(stderr, "  val_loss %.4f  val_dsc %.4f", p->val_loss, p->val_dsc);
            if (p->select == FTN_SELECT_SOFT_DSC) fprintf(stderr, "  val_soft_dsc %.4f", p->val_soft_dsc);
            fprintf(stderr, "%s", p->best ? " *" : "");
        }
        fprintf(stderr, "  %.1f img/s  ETA %s%s\n", p->images_per_s, hms(p->eta_s, eta, sizeof eta), tty ? "\033[K" : "");
        break;
    case FTN_PHASE_TEST:
        fprintf(stderr, "%sevaluating the best checkpoint on the test images\n", prefix);
        break;
    }
}
