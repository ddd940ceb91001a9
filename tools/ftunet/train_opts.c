#include "train_opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void train_opts_loss(ftn_train_config *cfg, ftn_loss_kind kind, float alpha, float beta, float gamma)
{
    ftn_loss_config keep = cfg->loss; /* the Dice+BCE and deep-supervision weights are not the kind's */
    int dice = kind == FTN_LOSS_DICE || kind == FTN_LOSS_DICE_BCE;
    cfg->loss = ftn_loss_default(kind);
    cfg->loss.alpha = dice ? 0.5f : alpha;
    cfg->loss.beta = dice ? 0.5f : beta;
    cfg->loss.gamma = kind == FTN_LOSS_FOCAL_TVERSKY ? gamma : 1.0f;
    cfg->loss.dice_weight = keep.dice_weight;
    cfg->loss.bce_weight = keep.bce_weight;
    cfg->loss.n_ds_weights = keep.n_ds_weights;
    memcpy(cfg->loss.ds_weights, keep.ds_weights, sizeof keep.ds_weights);
}

/* The options beyond the paper's protocol, over what --recipe (or the default) set: schedule,
 * warm-up, Nesterov, weight decay, the loss's weights, augmentation. Returns 0, or 1 after
 * printing an error. */
static int parse_recipe_options(cli_command *cmd, ftn_train_config *cfg)
{
    const char *name = cmd->name, *v;
    ftn_optimizer_config *o = &cfg->opt;
    if ((v = cli_get(cmd, "schedule")) && ftn_lr_schedule_parse(v, &o->schedule))
        return cli_error(name, "--schedule %s: expected inverse-time, poly or cosine", v);
    if (cli_int(cmd, "warmup", 0, 1000000, &cfg->warmup_epochs) ||
        cli_int(cmd, "schedule-epochs", 1, 1000000, &cfg->schedule_epochs) ||
        cli_float(cmd, "min-lr", 0, 1e3, &o->min_lr) || cli_float(cmd, "weight-decay", 0, 0.999999, &o->weight_decay) ||
        cli_float(cmd, "bce-weight", 0, 1e6, &cfg->loss.bce_weight))
        return 1;
    if (o->schedule == FTN_LR_INVERSE_TIME && (cli_get(cmd, "min-lr") || cli_get(cmd, "schedule-epochs")))
        return cli_error(name, "--min-lr and --schedule-epochs apply to --schedule poly or cosine");
    if (o->min_lr > o->lr) return cli_error(name, "--min-lr %g is above the learning rate %g", o->min_lr, o->lr);
    if (cli_get(cmd, "nesterov") && cli_get(cmd, "no-nesterov")) return cli_error(name, "--nesterov and --no-nesterov exclude each other");
    if (cli_get(cmd, "nesterov")) o->nesterov = 1;
    if (cli_get(cmd, "no-nesterov")) o->nesterov = 0;
    if (o->nesterov && o->kind != FTN_OPT_SGD) return cli_error(name, "--nesterov applies to --optimizer sgd only");
    if (cli_get(cmd, "bce-weight") && cfg->loss.kind != FTN_LOSS_DICE_BCE)
        return cli_error(name, "--bce-weight applies to --loss dice-bce only");
    if ((v = cli_get(cmd, "ds-weights")) && ftn_loss_parse_ds_weights(v, &cfg->loss))
        return cli_error(name, "--ds-weights %s: %s", v, ftn_last_error());
    if ((v = cli_get(cmd, "augment")) && ftn_augment_preset(v, &cfg->augment))
        return cli_error(name, "--augment %s: expected none, light or strong", v);
    if ((v = cli_get(cmd, "augment-set")) && ftn_augment_set_list(&cfg->augment, v))
        return cli_error(name, "--augment-set: %s", ftn_last_error());
    return 0;
}

int train_opts_parse(cli_command *cmd, ftn_train_config *cfg)
{
    ftn_train_config d = ftn_train_default();
    return train_opts_parse_over(cmd, &d, cfg);
}

int train_opts_parse_over(cli_command *cmd, const ftn_train_config *base, ftn_train_config *cfg)
{
    const char *name = cmd->name;
    *cfg = *base;
    const char *recipe = cli_get(cmd, "recipe"); /* first: every other option overrides it */
    if (recipe && ftn_train_recipe(recipe, cfg)) return cli_error(name, "--recipe %s: expected paper or strong", recipe);
    if (cli_get(cmd, "model")) cfg->model = cli_get(cmd, "model");
    ftn_loss_kind kind = cfg->loss.kind;
    if (cli_get(cmd, "loss") && ftn_loss_parse(cli_get(cmd, "loss"), &kind))
        return cli_error(name, "--loss %s: expected dl, tl, ftl or dice-bce", cli_get(cmd, "loss"));
    float alpha = 0.7f, beta = 0.3f, gamma = 4.0f / 3.0f;
    ftn_loss_kind base_kind = cfg->loss.kind; /* a Tversky base's (a resumed run's) own values */
    if (base_kind == FTN_LOSS_TVERSKY || base_kind == FTN_LOSS_FOCAL_TVERSKY)
        alpha = cfg->loss.alpha, beta = cfg->loss.beta, gamma = base_kind == FTN_LOSS_FOCAL_TVERSKY ? cfg->loss.gamma : gamma;
    if (cli_float(cmd, "alpha", 0, 1e6, &alpha) || cli_float(cmd, "beta", 0, 1e6, &beta) ||
        cli_float(cmd, "gamma", 1e-3, 1e3, &gamma))
        return 1;
    int loss_opts = cli_get(cmd, "alpha") || cli_get(cmd, "beta") || cli_get(cmd, "gamma");
    if ((kind == FTN_LOSS_DICE || kind == FTN_LOSS_DICE_BCE) && loss_opts)
        return cli_error(name, "--alpha, --beta and --gamma do not apply to --loss %s (Dice is alpha = beta = 0.5)",
                         ftn_loss_name(kind));
    if (kind == FTN_LOSS_TVERSKY && cli_get(cmd, "gamma")) return cli_error(name, "--gamma applies to --loss ftl only");
    if (cli_get(cmd, "loss") || loss_opts) train_opts_loss(cfg, kind, alpha, beta, gamma);

    const char *opt = cli_get(cmd, "optimizer");
    ftn_optimizer_kind okind = cfg->opt.kind;
    if (opt && ftn_optimizer_parse(opt, &okind)) return cli_error(name, "--optimizer %s: expected sgd, adam or adamw", opt);
    if (okind != cfg->opt.kind) { /* that optimiser's defaults; the schedule stays the recipe's */
        ftn_optimizer_config o = ftn_optimizer_default(okind);
        o.schedule = cfg->opt.schedule;
        o.min_lr = cfg->opt.min_lr;
        cfg->opt = o;
    }
    if (cli_int(cmd, "epochs", 1, 1000000, &cfg->epochs) || cli_int(cmd, "batch", 1, 65536, &cfg->batch) ||
        cli_float(cmd, "lr", 1e-12, 1e3, &cfg->opt.lr) || cli_float(cmd, "momentum", 0, 0.999999, &cfg->opt.momentum) ||
        cli_float(cmd, "decay", 0, 1e3, &cfg->opt.decay) || cli_u64(cmd, "seed", &cfg->seed) ||
        cli_size(cmd, "size", &cfg->height, &cfg->width) || cli_int(cmd, "channels", 1, 3, &cfg->channels) ||
        cli_float(cmd, "threshold", 1e-6, 0.999999, &cfg->threshold))
        return 1;
    if (cfg->channels == 2) return cli_error(name, "--channels 2: expected 1 or 3");
    if (parse_recipe_options(cmd, cfg)) return 1;
    float ts = 0.25f, vs = 0.15f;
    if (cli_float(cmd, "test-split", 0, 0.99, &ts) || cli_float(cmd, "val-split", 0, 0.99, &vs)) return 1;
    if (cli_get(cmd, "test-split")) cfg->test_split = ts;
    if (cli_get(cmd, "val-split")) cfg->val_split = vs;
    if (cli_get(cmd, "select") && ftn_select_parse(cli_get(cmd, "select"), &cfg->select)) return cli_lib_error(name);
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &cfg->resize)) return cli_lib_error(name);
    if (cfg->seed > (1ull << 53)) return cli_error(name, "--seed %llu: at most 2^53", (unsigned long long)cfg->seed);
    /* over the base: what is given is set, what is not is the base's */
    if (cli_get(cmd, "mask-suffix")) cfg->mask_suffix = cli_get(cmd, "mask-suffix");
    if (cli_get(cmd, "group-regex")) cfg->group_regex = cli_get(cmd, "group-regex");
    if (cli_get(cmd, "init")) cfg->init = cli_get(cmd, "init");
    cfg->stratify |= cli_get(cmd, "stratify") != NULL;
    cfg->skip_bad |= cli_get(cmd, "skip-bad") != NULL;
    cfg->exclude_empty |= cli_get(cmd, "exclude-empty") != NULL;
    cfg->bn_recalibrate |= cli_get(cmd, "bn-recalibrate") != NULL;
    cfg->bn_debias |= cli_get(cmd, "bn-debias") != NULL;
    cfg->resume |= cli_get(cmd, "resume") != NULL;
    cfg->overwrite |= cli_get(cmd, "overwrite") != NULL;
    if (cfg->resume && cfg->overwrite) return cli_error(name, "--resume and --overwrite exclude each other");
    if (cfg->bn_debias && cfg->bn_recalibrate)
        return cli_error(name, "--bn-debias and --bn-recalibrate exclude each other (re-estimation replaces the statistics before every use)");
    /* the engine: --engine, else FTUNET_ENGINE, else the base's (a resumed run's own) */
    const char *env_engine = getenv("FTUNET_ENGINE");
    ftn_engine base_engine = cfg->engine;
    if (cli_engine_threads(cmd, &cfg->engine)) return 1;
    if (!cli_get(cmd, "engine") && !(env_engine && *env_engine)) cfg->engine = base_engine;
    if (cli_get(cmd, "precision") && ftn_precision_parse(cli_get(cmd, "precision"), &cfg->precision)) return cli_lib_error(name);
    if (ftn_precision_check(cfg->engine, cfg->precision)) return cli_lib_error(name);
    cli_int(cmd, "threads", 1, 1024, &cfg->threads);
    if (cli_int(cmd, "cache-mb", 0, 1 << 24, &cfg->cache_mb) || cli_int(cmd, "loader-threads", 0, 256, &cfg->loader_threads))
        return 1;
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
    for (int i = 0; i < ds->n_notes; i++) fprintf(stderr, "note: %s\n", ds->notes[i]);
    return 0;
}

int train_opts_exclude_empty(const char *what, ftn_dataset *ds, char ***ids, int *n)
{
    if (ftn_dataset_drop_empty(ds, n, ids)) return cli_lib_error(what);
    fprintf(stderr, "excluded:    %d image%s with an empty mask (--exclude-empty; %d remain)\n", *n, *n == 1 ? "" : "s",
            ds->count);
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
