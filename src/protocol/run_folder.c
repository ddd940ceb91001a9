/* The run folder's format (see run_folder.h); the only file that knows it. */
#include "protocol/run_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"

#define MAX_JSON (64u << 20)
#define LOG_HEADER "epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds\n"
#define LOG_HEADER_V1 "epoch,lr,train_loss,val_loss,val_dsc,seconds\n" /* before val_soft_dsc */
#define EPOCHS_DIR "epochs"

/* ---- files and folders ----------------------------------------------------------------------- */

/* CRC-32 (ISO-HDLC: reflected 0xEDB88320, as zlib's crc32 and `crc32` of the shell) */
static uint32_t crc_table[256];
static void crc_init(void)
{
    if (crc_table[1]) return; /* built once; every thread builds the same values */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* The size and CRC-32 of the file at path. */
static ftn_status file_sum(const char *path, int64_t *size, uint32_t *crc)
{
    crc_init();
    FILE *f = fopen(path, "rb");
    if (!f) return ftn_fail(FTN_EIO, "%s: cannot open: %s", path, strerror(errno));
    static _Thread_local uint8_t buf[1 << 16];
    uint32_t c = 0;
    int64_t n = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        c = crc_update(c, buf, got);
        n += (int64_t)got;
    }
    int err = ferror(f);
    fclose(f);
    if (err) return ftn_fail(FTN_EIO, "%s: read failed", path);
    *size = n;
    *crc = c;
    return FTN_OK;
}

/* Best effort, as io/atomic_file.c's: makes renames in folder `dir` durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

/* "NAME.tmp.PID": what a process killed in ftn_write_file_atomic (or in a publish) leaves. */
static int is_stale_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name) return 0;
    for (t = t + 5; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return name[strlen(name) - 1] != '.';
}

/* Removes the stale temporary files of folder dir (a missing folder has none). */
static ftn_status remove_stale_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return FTN_OK;
    ftn_status s = FTN_OK;
    struct dirent *e;
    char p[FTN_PATH_MAX];
    while (s == FTN_OK && (e = readdir(d)))
        if (is_stale_tmp(e->d_name) && (s = ftn_path_join(p, sizeof p, dir, e->d_name)) == FTN_OK) s = ftn_remove_file(p);
    closedir(d);
    return s;
}

/* Removes folder path and the files in it (epoch folders hold files only). */
static ftn_status remove_folder(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? FTN_OK : ftn_fail(FTN_EIO, "%s: cannot open: %s", path, strerror(errno));
    ftn_status s = FTN_OK;
    struct dirent *e;
    char p[FTN_PATH_MAX];
    while (s == FTN_OK && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && (s = ftn_path_join(p, sizeof p, path, e->d_name)) == FTN_OK)
            s = ftn_remove_file(p);
    closedir(d);
    if (s == FTN_OK && rmdir(path) != 0 && errno != ENOENT) s = ftn_fail(FTN_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return s;
}

/* mkdir of a folder whose parent exists; one that exists already is fine. */
static ftn_status make_folder(const char *path)
{
    struct stat sb;
    if (mkdir(path, 0777) != 0 && (errno != EEXIST || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return ftn_fail(FTN_EIO, "%s: cannot create the folder: %s", path, strerror(errno));
    return FTN_OK;
}

/* The epoch number of a committed epoch folder's name ("0012"), or -1 (e.g. "0012.tmp"). */
static int epoch_of_name(const char *name)
{
    if (!*name) return -1;
    long v = 0;
    for (const char *c = name; *c; c++) {
        if (*c < '0' || *c > '9' || v > 100000000) return -1;
        v = v * 10 + (*c - '0');
    }
    return (int)v;
}

/* Removes every entry of RUN/epochs except the folders of epochs keep1 and keep2 (0: none);
 * RUN/epochs itself when nothing is kept. */
static ftn_status remove_epochs_except(const char *run_dir, int keep1, int keep2)
{
    char ed[FTN_PATH_MAX], p[FTN_PATH_MAX];
    FTN_TRY(ftn_path_join(ed, sizeof ed, run_dir, EPOCHS_DIR));
    DIR *d = opendir(ed);
    if (!d) return FTN_OK;
    ftn_status s = FTN_OK;
    struct dirent *e;
    while (s == FTN_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        int ep = epoch_of_name(e->d_name);
        if (ep > 0 && (ep == keep1 || ep == keep2)) continue;
        if ((s = ftn_path_join(p, sizeof p, ed, e->d_name)) != FTN_OK) break;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) s = remove_folder(p);
        else s = ftn_remove_file(p);
    }
    closedir(d);
    if (s == FTN_OK && !keep1 && !keep2 && rmdir(ed) != 0 && errno != ENOENT)
        s = ftn_fail(FTN_EIO, "%s: cannot remove: %s", ed, strerror(errno));
    return s;
}

/* ---- JSON files ------------------------------------------------------------------------------ */

ftn_status ftn_json_read(const char *path, size_t max_size, cJSON **out)
{
    uint8_t *data;
    size_t size;
    *out = NULL;
    FTN_TRY(ftn_read_file(path, max_size, &data, &size));
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    free(data);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return ftn_fail(FTN_EFORMAT, "%s: not a JSON object", path);
    }
    *out = j;
    return FTN_OK;
}

ftn_status ftn_json_write(const char *path, const cJSON *j)
{
    char *text = cJSON_Print(j);
    if (!text) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    const void *chunks[2] = { text, "\n" };
    size_t sizes[2] = { strlen(text), 1 };
    ftn_status s = ftn_write_file_atomic(path, chunks, sizes, 2);
    cJSON_free(text);
    return s;
}

cJSON *ftn_metrics_json(const ftn_metrics *m)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "dsc", m->dsc);
    cJSON_AddNumberToObject(o, "precision", m->precision);
    cJSON_AddNumberToObject(o, "recall", m->recall);
    cJSON_AddNumberToObject(o, "iou", m->iou);
    return o;
}

/* Missing members read as 0 (state.json of any version). */
static void metrics_from_json(const cJSON *j, ftn_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->dsc = ftn_run_config_num(j, "dsc", 0);
    m->precision = ftn_run_config_num(j, "precision", 0);
    m->recall = ftn_run_config_num(j, "recall", 0);
    m->iou = ftn_run_config_num(j, "iou", 0);
}

/* ---- file names ------------------------------------------------------------------------------ */

static const char *const run_files[FTN_RUN_N_FILES] = {
    "state.json", "config.json", "log.csv", "best.safetensors", "last.safetensors", "last.optim.safetensors",
    "test/metrics.csv", "test/summary.json",
};

const char *ftn_run_file_name(ftn_run_file f) { return f >= 0 && f < FTN_RUN_N_FILES ? run_files[f] : "?"; }

ftn_status ftn_run_path(const char *run_dir, ftn_run_file f, char *buf, size_t cap)
{
    return ftn_path_join(buf, cap, run_dir, ftn_run_file_name(f));
}

ftn_status ftn_run_open(const char *run_dir, int resume, int overwrite, int *resuming)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_mkdirs(run_dir));
    int has_state = 0, has_any = 0;
    for (int f = 0; f < FTN_RUN_N_FILES; f++) {
        FTN_TRY(ftn_run_path(run_dir, (ftn_run_file)f, p, sizeof p));
        int here = ftn_path_exists(p);
        has_any |= here;
        if (f == FTN_RUN_STATE) has_state = here;
    }
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, EPOCHS_DIR));
    has_any |= ftn_path_exists(p);
    /* never silently overwritten */
    if (has_any && !resume && !overwrite)
        return ftn_fail(FTN_EINVAL, "%s: a run already exists there (use --overwrite to replace it or --resume to continue it)",
                        run_dir);
    *resuming = resume && has_state;
    if (*resuming) return FTN_OK; /* ftn_run_tidy, once the state is read */
    for (int f = 0; f < FTN_RUN_N_FILES; f++) {
        FTN_TRY(ftn_run_path(run_dir, (ftn_run_file)f, p, sizeof p));
        FTN_TRY(ftn_remove_file(p));
    }
    FTN_TRY(remove_epochs_except(run_dir, 0, 0));
    FTN_TRY(remove_stale_tmp(run_dir));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, "test"));
    return remove_stale_tmp(p);
}

/* ---- config.json ----------------------------------------------------------------------------- */

/* The shortest decimal that reads back as the same float, so config.json shows 0.01, not
 * 0.00999999977648258. */
static double short_float(float f)
{
    char buf[32];
    for (int prec = 6; prec < 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if ((float)strtod(buf, NULL) == f) return strtod(buf, NULL);
    }
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return strtod(buf, NULL);
}

static cJSON *ids_json(const ftn_dataset *ds, const int *idx, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(ds->samples[idx[i]].id));
    return a;
}

static cJSON *config_json(const ftn_train_config *c, const char *data_abs, const ftn_dataset *ds, const ftn_split *sp)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", c->model);
    cJSON_AddNumberToObject(j, "channels", c->channels);
    cJSON_AddNumberToObject(j, "height", c->height);
    cJSON_AddNumberToObject(j, "width", c->width);
    cJSON_AddStringToObject(j, "loss", ftn_loss_name(c->loss.kind));
    cJSON_AddNumberToObject(j, "alpha", short_float(c->loss.alpha));
    cJSON_AddNumberToObject(j, "beta", short_float(c->loss.beta));
    cJSON_AddNumberToObject(j, "gamma", short_float(c->loss.gamma));
    cJSON_AddNumberToObject(j, "epochs", c->epochs);
    cJSON_AddNumberToObject(j, "batch", c->batch);
    cJSON_AddNumberToObject(j, "lr", short_float(c->opt.lr));
    cJSON_AddNumberToObject(j, "momentum", short_float(c->opt.momentum));
    cJSON_AddNumberToObject(j, "decay", short_float(c->opt.decay));
    cJSON_AddStringToObject(j, "optimizer", c->opt.kind == FTN_OPT_ADAM ? "adam" : "sgd");
    cJSON_AddStringToObject(j, "precision", ftn_precision_name(c->precision));
    cJSON_AddBoolToObject(j, "bn_recalibrate", c->bn_recalibrate != 0);
    cJSON_AddBoolToObject(j, "bn_debias", c->bn_debias != 0);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddStringToObject(j, "resize", ftn_resize_name(c->resize));
    cJSON_AddNumberToObject(j, "threshold", short_float(c->threshold));
    cJSON_AddStringToObject(j, "select", ftn_select_name(c->select));
    cJSON_AddNumberToObject(j, "test_split", c->test_split);
    cJSON_AddNumberToObject(j, "val_split", c->val_split);
    cJSON_AddStringToObject(j, "data", data_abs);
    cJSON_AddStringToObject(j, "mask_suffix", c->mask_suffix ? c->mask_suffix : ""); /* "": none */
    cJSON_AddItemToObject(j, "train", ids_json(ds, sp->train, sp->n_train));
    cJSON_AddItemToObject(j, "val", ids_json(ds, sp->val, sp->n_val));
    cJSON_AddItemToObject(j, "test", ids_json(ds, sp->test, sp->n_test));
    return j;
}

ftn_status ftn_run_config_write(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, p, sizeof p));
    cJSON *j = config_json(c, data_abs, ds, sp);
    if (!j) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    ftn_status s = ftn_json_write(p, j);
    cJSON_Delete(j);
    return s;
}

/* A key of the wanted configuration absent from a run of before its option existed, which ran
 * as the option's default does: fp32, picked by DSC, no BN re-estimation or debiasing. */
static int absent_as_default(const cJSON *w)
{
    if (!strcmp(w->string, "precision")) return cJSON_IsString(w) && !strcmp(w->valuestring, "fp32");
    if (!strcmp(w->string, "select")) return cJSON_IsString(w) && !strcmp(w->valuestring, "dsc");
    if (!strcmp(w->string, "bn_recalibrate") || !strcmp(w->string, "bn_debias")) return cJSON_IsFalse(w);
    return 0;
}

/* Every key of `want` except "epochs" must be in `have` with the same value. */
static ftn_status config_matches(const char *path, const cJSON *have, const cJSON *want)
{
    for (const cJSON *w = want->child; w; w = w->next) {
        if (!strcmp(w->string, "epochs")) continue;
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->string);
        if (!h && absent_as_default(w)) continue;
        if (!h || !cJSON_Compare(h, w, 1)) {
            char *hv = h ? cJSON_PrintUnformatted(h) : NULL;
            int is_split = cJSON_IsArray(w);
            ftn_status s = ftn_fail(FTN_EINVAL, "%s: cannot resume: %s differs from the run's (%s%s); resume with the run's options",
                                    path, w->string, is_split ? "the split of " : "",
                                    is_split ? "the data set" : (hv ? hv : "missing"));
            free(hv);
            return s;
        }
    }
    return FTN_OK;
}

ftn_status ftn_run_config_check(const char *run_dir, const ftn_train_config *c, const char *data_abs,
                                const ftn_dataset *ds, const ftn_split *sp)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, p, sizeof p));
    cJSON *want = config_json(c, data_abs, ds, sp), *have;
    if (!want) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    ftn_status s = ftn_json_read(p, MAX_JSON, &have);
    if (s == FTN_OK) s = config_matches(p, have, want);
    cJSON_Delete(have);
    cJSON_Delete(want);
    return s;
}

ftn_status ftn_run_config_read(const char *run_dir, cJSON **config)
{
    if (!run_dir || !config) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    *config = NULL;
    char path[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_CONFIG, path, sizeof path));
    return ftn_json_read(path, MAX_JSON, config);
}

const char *ftn_run_config_str(const cJSON *config, const char *key, const char *fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : fallback;
}

double ftn_run_config_num(const cJSON *config, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

ftn_status ftn_run_dataset_open(const char *run_dir, const cJSON *config, ftn_dataset *ds)
{
    const char *data = ftn_run_config_str(config, "data", NULL);
    if (!data || !*data) return ftn_fail(FTN_EFORMAT, "%s/config.json: no \"data\" path", run_dir);
    ftn_dataset_options o = { ftn_run_config_str(config, "mask_suffix", NULL), 0, 0, 0 };
    if (o.mask_suffix && !*o.mask_suffix) o.mask_suffix = NULL;
    char path[FTN_PATH_MAX];
    if (data[0] != '/' && !ftn_path_exists(data)) {
        snprintf(path, sizeof path, "%s/%s", run_dir, data);
        if (ftn_path_exists(path)) data = path;
    }
    return ftn_dataset_open(data, &o, ds);
}

ftn_status ftn_run_split_indices(const cJSON *config, const char *split, const ftn_dataset *ds, int **idx, int *n)
{
    if (!config || !split || !ds || !idx || !n) return ftn_fail(FTN_EINVAL, "run split: missing argument");
    *idx = NULL;
    *n = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, split);
    if (!cJSON_IsArray(a)) return ftn_fail(FTN_EFORMAT, "config.json: no \"%s\" array of sample ids", split);
    int cnt = cJSON_GetArraySize(a);
    if (cnt == 0) return ftn_fail(FTN_EFORMAT, "config.json: the \"%s\" split is empty", split);
    int *out = malloc(sizeof(int) * (size_t)cnt);
    if (!out) return ftn_fail(FTN_ENOMEM, "run split: out of memory");
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        char num[32];
        const char *id = cJSON_IsString(e) ? e->valuestring : NULL;
        if (!id && cJSON_IsNumber(e)) { /* numeric ids (the .npy layout's indices) */
            snprintf(num, sizeof num, "%05d", e->valueint);
            id = num;
        }
        int found = -1;
        for (int i = 0; id && i < ds->count && found < 0; i++)
            if (!strcmp(ds->samples[i].id, id)) found = i;
        if (found < 0) {
            free(out);
            return ftn_fail(FTN_EFORMAT, "config.json: %s id '%s' is not a sample of %s", split, id ? id : "(not a string)",
                            ds->path);
        }
        out[k++] = found;
    }
    *idx = out;
    *n = k;
    return FTN_OK;
}

/* ---- state.json ------------------------------------------------------------------------------ */

/* The manifest's keys: the user-visible names, as ftn_run_entry_kind orders them. */
static const char *const entry_names[FTN_RUN_N_ENTRIES] = {
    "last.safetensors", "last.optim.safetensors", "log.csv", "best.safetensors",
};
/* The file in an epoch folder of each entry. */
static const char *const entry_files[FTN_RUN_N_ENTRIES] = {
    "model.safetensors", "optim.safetensors", "log.csv", "model.safetensors",
};

/* A manifest path must be "epochs/<digits>/<the entry's file>": nothing else in or out of RUN. */
static int entry_path_ok(const char *path, int k)
{
    size_t n = strlen(EPOCHS_DIR "/");
    if (strncmp(path, EPOCHS_DIR "/", n)) return 0;
    const char *slash = strchr(path + n, '/');
    if (!slash || slash == path + n || slash - (path + n) > 9) return 0;
    for (const char *c = path + n; c < slash; c++)
        if (*c < '0' || *c > '9') return 0;
    return !strcmp(slash + 1, entry_files[k]);
}

static ftn_status manifest_from_json(const char *p, const cJSON *fs, ftn_run_state *st)
{
    for (int k = 0; k < FTN_RUN_N_ENTRIES; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(fs, entry_names[k]);
        const char *path = ftn_run_config_str(o, "path", NULL), *crc = ftn_run_config_str(o, "crc32", NULL);
        double size = ftn_run_config_num(o, "size", -1);
        char *end = NULL;
        unsigned long c = crc ? strtoul(crc, &end, 16) : 0;
        if (!path || strlen(path) >= sizeof st->files[k].path || !entry_path_ok(path, k) || !(size >= 0) ||
            !crc || strlen(crc) != 8 || *end || c > 0xffffffffu)
            return ftn_fail(FTN_EFORMAT, "%s: files.%s: expected {\"path\": \"epochs/NNNN/%s\", \"size\", \"crc32\"}", p,
                            entry_names[k], entry_files[k]);
        snprintf(st->files[k].path, sizeof st->files[k].path, "%s", path);
        st->files[k].size = (int64_t)size;
        st->files[k].crc32 = (uint32_t)c;
    }
    st->has_manifest = 1;
    return FTN_OK;
}

ftn_status ftn_run_state_write(const char *run_dir, const ftn_run_state *st, uint64_t seed)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_STATE, p, sizeof p));
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epochs_done", st->epochs_done);
    cJSON_AddNumberToObject(j, "best_epoch", st->best_epoch);
    if (isnan(st->best_val_dsc)) cJSON_AddNullToObject(j, "best_val_dsc");
    else cJSON_AddNumberToObject(j, "best_val_dsc", st->best_val_dsc);
    cJSON_AddNumberToObject(j, "iteration", (double)st->iteration);
    cJSON *sh = cJSON_AddObjectToObject(j, "shuffle");
    cJSON_AddNumberToObject(sh, "seed", (double)seed);
    cJSON_AddStringToObject(sh, "scheme",
                            "epoch e (0-based) visits the training ids (config.json order) in the order of a "
                            "Fisher-Yates shuffle seeded from (seed, e); no running generator state");
    if (st->has_test) {
        cJSON *t = cJSON_AddObjectToObject(j, "test");
        cJSON_AddNumberToObject(t, "n", st->n_test);
        cJSON_AddItemToObject(t, "mean", ftn_metrics_json(&st->test_mean));
        cJSON_AddItemToObject(t, "std", ftn_metrics_json(&st->test_std));
    }
    if (st->has_manifest) {
        cJSON_AddNumberToObject(j, "format", 2);
        cJSON *fs = cJSON_AddObjectToObject(j, "files");
        for (int k = 0; k < FTN_RUN_N_ENTRIES; k++) {
            const ftn_run_entry *en = &st->files[k];
            char crc[16];
            snprintf(crc, sizeof crc, "%08x", (unsigned)en->crc32);
            cJSON *o = cJSON_AddObjectToObject(fs, entry_names[k]);
            cJSON_AddStringToObject(o, "path", en->path);
            cJSON_AddNumberToObject(o, "size", (double)en->size);
            cJSON_AddStringToObject(o, "crc32", crc);
        }
    }
    ftn_status s = j ? ftn_json_write(p, j) : ftn_fail(FTN_ENOMEM, "%s: out of memory", run_dir);
    cJSON_Delete(j);
    return s;
}

ftn_status ftn_run_state_read(const char *run_dir, ftn_run_state *st)
{
    char p[FTN_PATH_MAX];
    cJSON *j;
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_STATE, p, sizeof p));
    FTN_TRY(ftn_json_read(p, MAX_JSON, &j));
    memset(st, 0, sizeof *st);
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(j, "epochs_done"),
                *be = cJSON_GetObjectItemCaseSensitive(j, "best_epoch"),
                *bd = cJSON_GetObjectItemCaseSensitive(j, "best_val_dsc"),
                *it = cJSON_GetObjectItemCaseSensitive(j, "iteration"),
                *t = cJSON_GetObjectItemCaseSensitive(j, "test");
    ftn_status s = FTN_OK;
    if (!cJSON_IsNumber(ed) || !cJSON_IsNumber(be) || !cJSON_IsNumber(it) || ed->valuedouble < 0)
        s = ftn_fail(FTN_EFORMAT, "%s: epochs_done, best_epoch or iteration missing", p);
    else {
        st->epochs_done = ed->valueint;
        st->best_epoch = be->valueint;
        st->best_val_dsc = cJSON_IsNumber(bd) ? (float)bd->valuedouble : NAN;
        st->iteration = (int64_t)it->valuedouble;
        if (cJSON_IsObject(t)) {
            st->has_test = 1;
            st->n_test = (int)ftn_run_config_num(t, "n", 0);
            metrics_from_json(cJSON_GetObjectItemCaseSensitive(t, "mean"), &st->test_mean);
            metrics_from_json(cJSON_GetObjectItemCaseSensitive(t, "std"), &st->test_std);
        }
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "files");
        if (fs) s = manifest_from_json(p, fs, st);
    }
    cJSON_Delete(j);
    return s;
}

/* ---- log.csv --------------------------------------------------------------------------------- */

static ftn_status verify_entry(const char *run_dir, const ftn_run_entry *en, int k);

static ftn_status log_write(const char *run_dir, const ftn_run_log *log)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LOG, p, sizeof p));
    const void *chunks[1] = { log->text.s };
    size_t sizes[1] = { log->text.len };
    return ftn_write_file_atomic(p, chunks, sizes, 1);
}

ftn_status ftn_run_log_start(const char *run_dir, ftn_run_log *log)
{
    ftn_buf_puts(&log->text, LOG_HEADER);
    if (log->text.oom) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    return log_write(run_dir, log);
}

ftn_status ftn_run_log_resume(const char *run_dir, const ftn_run_state *st, ftn_run_log *log)
{
    char path[FTN_PATH_MAX];
    uint8_t *data;
    size_t size;
    int epochs = st->epochs_done;
    if (st->has_manifest) {
        FTN_TRY(verify_entry(run_dir, &st->files[FTN_RUN_ENTRY_LOG], FTN_RUN_ENTRY_LOG));
        FTN_TRY(ftn_path_join(path, sizeof path, run_dir, st->files[FTN_RUN_ENTRY_LOG].path));
    } else {
        FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LOG, path, sizeof path));
    }
    FTN_TRY(ftn_read_file(path, MAX_JSON, &data, &size));
    const char *p = (const char *)data, *end = p + size;
    int n = -1; /* the header is line -1 */
    while (p < end && n < epochs) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        ftn_buf_add(&log->text, p, (size_t)(nl - p + 1));
        p = nl + 1;
        n++;
    }
    free(data);
    FTN_TRY(ftn_buf_status(&log->text, path));
    if (n < epochs) return ftn_fail(FTN_EFORMAT, "%s: %d epoch lines, state.json says %d", path, n < 0 ? 0 : n, epochs);
    log->v1 = log->text.len >= strlen(LOG_HEADER_V1) && !memcmp(log->text.s, LOG_HEADER_V1, strlen(LOG_HEADER_V1));
    return FTN_OK;
}

ftn_status ftn_run_log_append(ftn_run_log *log, int epoch, float lr, double train_loss, float val_loss, float val_dsc,
                              float val_soft_dsc, double seconds)
{
    char line[256];
    int len = log->v1 ? snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.3f\n", epoch, short_float(lr), train_loss,
                                 val_loss, val_dsc, seconds)
                      : snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.6f,%.3f\n", epoch, short_float(lr),
                                 train_loss, val_loss, val_dsc, val_soft_dsc, seconds);
    ftn_buf_add(&log->text, line, (size_t)len);
    if (log->text.oom) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    return FTN_OK;
}

void ftn_run_log_free(ftn_run_log *log)
{
    ftn_buf_free(&log->text);
    log->v1 = 0;
}

/* ---- checkpoints and test results ------------------------------------------------------------ */

/* The file of a manifest entry against the size and checksum recorded at its commit. */
static ftn_status verify_entry(const char *run_dir, const ftn_run_entry *en, int k)
{
    char p[FTN_PATH_MAX];
    int64_t size;
    uint32_t crc;
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, en->path));
    ftn_status s = file_sum(p, &size, &crc);
    if (s) return ftn_fail_context(s, "%s/state.json names %s as its %s", run_dir, en->path, entry_names[k]);
    if (size != en->size || crc != en->crc32)
        return ftn_fail(FTN_EFORMAT, "%s: %lld bytes, crc32 %08x; state.json committed %lld bytes, crc32 %08x (the file "
                        "was changed or damaged after its epoch was committed); cannot resume",
                        p, (long long)size, (unsigned)crc, (long long)en->size, (unsigned)en->crc32);
    return FTN_OK;
}

/* Makes RUN/<entry name> the committed file: a hard link to it put in place by a rename (a copy
 * where links are refused), unless it is that file already. */
static ftn_status publish(const char *run_dir, const ftn_run_state *st)
{
    int changed = 0;
    for (int k = 0; k < FTN_RUN_N_ENTRIES; k++) {
        char src[FTN_PATH_MAX], dst[FTN_PATH_MAX], tmp[FTN_PATH_MAX + 32];
        FTN_TRY(ftn_path_join(src, sizeof src, run_dir, st->files[k].path));
        FTN_TRY(ftn_path_join(dst, sizeof dst, run_dir, entry_names[k]));
        struct stat a, b;
        if (stat(src, &a) == 0 && stat(dst, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dst, (long)getpid());
        int linked = link(src, tmp) == 0;
        if (!linked && errno == EEXIST) linked = unlink(tmp) == 0 && link(src, tmp) == 0;
        if (linked) {
            if (rename(tmp, dst) != 0) {
                int e = errno;
                (void)unlink(tmp);
                return ftn_fail(FTN_EIO, "%s: cannot replace: %s", dst, strerror(e));
            }
        } else { /* no hard links here: an atomic copy */
            uint8_t *data;
            size_t size;
            FTN_TRY(ftn_read_file(src, SIZE_MAX / 2, &data, &size));
            const void *chunks[1] = { data };
            ftn_status s = ftn_write_file_atomic(dst, chunks, &size, 1);
            free(data);
            FTN_TRY(s);
        }
        changed = 1;
    }
    if (changed) sync_dir(run_dir);
    return FTN_OK;
}

/* The committed epoch folder's number of entry k, from its path "epochs/NNNN/...". */
static int entry_epoch(const ftn_run_entry *en) { return atoi(en->path + strlen(EPOCHS_DIR "/")); }

/* What the manifest does not name goes: other epoch folders, stale temporary files. */
static ftn_status remove_uncommitted(const char *run_dir, const ftn_run_state *st)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(remove_epochs_except(run_dir, st->has_manifest ? entry_epoch(&st->files[FTN_RUN_ENTRY_LAST]) : 0,
                                 st->has_manifest ? entry_epoch(&st->files[FTN_RUN_ENTRY_BEST]) : 0));
    FTN_TRY(remove_stale_tmp(run_dir));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, "test"));
    return remove_stale_tmp(p);
}

ftn_status ftn_run_tidy(const char *run_dir, const ftn_run_state *st)
{
    if (st->has_manifest) {
        for (int k = 0; k < FTN_RUN_N_ENTRIES; k++) FTN_TRY(verify_entry(run_dir, &st->files[k], k));
        FTN_TRY(publish(run_dir, st));
    }
    return remove_uncommitted(run_dir, st);
}

/* entry k of st: epoch folder `rel`'s file, summed. */
static ftn_status fill_entry(const char *run_dir, const char *rel, ftn_run_state *st, int k)
{
    ftn_run_entry *en = &st->files[k];
    char p[FTN_PATH_MAX];
    if (snprintf(en->path, sizeof en->path, "%s/%s", rel, entry_files[k]) >= (int)sizeof en->path)
        return ftn_fail(FTN_EINVAL, "%s: epoch folder name too long", rel);
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, en->path));
    return file_sum(p, &en->size, &en->crc32);
}

/* A run begun before epoch folders keeps its best checkpoint in RUN/best.safetensors: it becomes
 * epochs/BBBB/model.safetensors (BBBB: its epoch), the manifest's best entry. */
static ftn_status import_best(const char *run_dir, int best_epoch, ftn_run_state *next)
{
    char rel[48], dir[FTN_PATH_MAX], tmp[FTN_PATH_MAX], src[FTN_PATH_MAX], p[FTN_PATH_MAX];
    snprintf(rel, sizeof rel, EPOCHS_DIR "/%04d", best_epoch);
    FTN_TRY(ftn_path_join(dir, sizeof dir, run_dir, rel));
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dir) >= (int)sizeof tmp) return ftn_fail(FTN_EINVAL, "%s: path too long", dir);
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_BEST, src, sizeof src));
    FTN_TRY(remove_folder(tmp));
    FTN_TRY(make_folder(tmp));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_BEST]));
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(src, SIZE_MAX / 2, &data, &size));
    const void *chunks[1] = { data };
    ftn_status s = ftn_write_file_atomic(p, chunks, &size, 1);
    free(data);
    FTN_TRY(s);
    FTN_TRY(remove_folder(dir));
    if (rename(tmp, dir) != 0) return ftn_fail(FTN_EIO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
    return fill_entry(run_dir, rel, next, FTN_RUN_ENTRY_BEST);
}

ftn_status ftn_run_commit_epoch(const char *run_dir, const ftn_model *m, const ftn_run_log *log, ftn_run_state *st,
                                uint64_t seed)
{
    int e = st->epochs_done;
    if (e < 1 || st->best_epoch < 1 || st->best_epoch > e)
        return ftn_fail(FTN_EINVAL, "%s: epoch %d, best epoch %d: nothing to commit", run_dir, e, st->best_epoch);
    char rel[48], dir[FTN_PATH_MAX], tmp[FTN_PATH_MAX], ed[FTN_PATH_MAX], p[FTN_PATH_MAX];
    snprintf(rel, sizeof rel, EPOCHS_DIR "/%04d", e);
    FTN_TRY(ftn_path_join(ed, sizeof ed, run_dir, EPOCHS_DIR));
    FTN_TRY(ftn_path_join(dir, sizeof dir, run_dir, rel));
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dir) >= (int)sizeof tmp) return ftn_fail(FTN_EINVAL, "%s: path too long", dir);
    /* 1. the epoch's files in NNNN.tmp/ (a killed process's leftovers replaced) */
    FTN_TRY(remove_folder(tmp));
    FTN_TRY(make_folder(ed));
    FTN_TRY(make_folder(tmp));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_LAST]));
    FTN_TRY(ftn_model_save(m, p));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_OPTIM]));
    FTN_TRY(ftn_optimizer_save(m, p));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_LOG]));
    const void *chunks[1] = { log->text.s };
    size_t sizes[1] = { log->text.len };
    FTN_TRY(ftn_write_file_atomic(p, chunks, sizes, 1));
    /* 2. complete: NNNN/ (an uncommitted NNNN/ of a killed process replaced) */
    FTN_TRY(remove_folder(dir));
    if (rename(tmp, dir) != 0) return ftn_fail(FTN_EIO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
    sync_dir(ed);
    /* 3. the manifest: the commit */
    ftn_run_state next = *st;
    for (int k = 0; k < FTN_RUN_ENTRY_BEST; k++) FTN_TRY(fill_entry(run_dir, rel, &next, k));
    if (st->best_epoch == e) next.files[FTN_RUN_ENTRY_BEST] = next.files[FTN_RUN_ENTRY_LAST]; /* the same file */
    if (st->best_epoch != e) { /* the best entry is an earlier epoch's, still committed */
        char want[48];
        snprintf(want, sizeof want, EPOCHS_DIR "/%04d/", st->best_epoch);
        if (!st->has_manifest) FTN_TRY(import_best(run_dir, st->best_epoch, &next)); /* a run of before epoch folders */
        else if (strncmp(st->files[FTN_RUN_ENTRY_BEST].path, want, strlen(want)))
            return ftn_fail(FTN_EINTERNAL, "%s: the best epoch %d has no committed checkpoint", run_dir, st->best_epoch);
    }
    next.has_manifest = 1;
    FTN_TRY(ftn_run_state_write(run_dir, &next, seed));
    *st = next;
    /* 4. the user-visible copies, then what is no longer named */
    FTN_TRY(publish(run_dir, st));
    return remove_uncommitted(run_dir, st);
}

/* The model (and optimiser state) of a verified entry. */
static ftn_status load_entry(const char *run_dir, const ftn_run_state *st, int k, ftn_model **m)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(verify_entry(run_dir, &st->files[k], k));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, st->files[k].path));
    return k == FTN_RUN_ENTRY_OPTIM ? ftn_optimizer_load(*m, p) : ftn_model_load(p, m);
}

ftn_status ftn_run_load_last(const char *run_dir, const ftn_run_state *st, ftn_model **m)
{
    char p[FTN_PATH_MAX];
    if (st->has_manifest) {
        FTN_TRY(load_entry(run_dir, st, FTN_RUN_ENTRY_LAST, m));
        FTN_TRY(load_entry(run_dir, st, FTN_RUN_ENTRY_OPTIM, m));
    } else {
        FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LAST, p, sizeof p));
        FTN_TRY(ftn_model_load(p, m));
        FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LAST_OPTIM, p, sizeof p));
        FTN_TRY(ftn_optimizer_load(*m, p));
    }
    if (ftn_model_iteration(*m) != st->iteration)
        return ftn_fail(FTN_EFORMAT, "%s: the optimiser state is at iteration %lld, state.json at %lld; cannot resume exactly",
                        run_dir, (long long)ftn_model_iteration(*m), (long long)st->iteration);
    return FTN_OK;
}

ftn_status ftn_run_load_best(const char *run_dir, const ftn_run_state *st, ftn_model **m)
{
    char p[FTN_PATH_MAX];
    if (st && st->has_manifest) return load_entry(run_dir, st, FTN_RUN_ENTRY_BEST, m);
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_BEST, p, sizeof p));
    return ftn_model_load(p, m);
}

int ftn_run_has_test(const char *run_dir)
{
    char p[FTN_PATH_MAX];
    return ftn_run_path(run_dir, FTN_RUN_TEST_SUMMARY, p, sizeof p) == FTN_OK && ftn_path_exists(p);
}

ftn_status ftn_run_test_write(const char *run_dir, const ftn_eval_result *r)
{
    char csv[FTN_PATH_MAX], json[FTN_PATH_MAX];
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_TEST_METRICS, csv, sizeof csv));
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_TEST_SUMMARY, json, sizeof json));
    return ftn_eval_write(r, csv, json); /* creates RUN/test */
}
