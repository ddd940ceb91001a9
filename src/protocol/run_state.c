/* state.json, the commit point of an epoch (see run_folder.h): its manifest of epoch-folder files
 * with their sizes and CRC-32, the epoch folders' commit, the verification on resume, the
 * user-visible links, and loading the committed checkpoints. */
#include "protocol/run_internal.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"

/* ---- checksums ------------------------------------------------------------------------------- */

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
    size_t n = strlen(FTN_RUN_EPOCHS_DIR "/");
    if (strncmp(path, FTN_RUN_EPOCHS_DIR "/", n)) return 0;
    const char *slash = strchr(path + n, '/');
    if (!slash || slash == path + n || slash - (path + n) > 9) return 0;
    for (const char *c = path + n; c < slash; c++)
        if (*c < '0' || *c > '9') return 0;
    return !strcmp(slash + 1, entry_files[k]);
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

/* ---- the interrupted epoch: state.json's "partial" ------------------------------------------ */

/* "partial/EEEE-SSSS/<file>" of the interrupted epoch's files: nothing else in or out of RUN. */
static int partial_path_ok(const char *path, const char *file)
{
    size_t n = strlen(FTN_RUN_PARTIAL_DIR "/");
    if (strncmp(path, FTN_RUN_PARTIAL_DIR "/", n)) return 0;
    const char *c = path + n, *dash = NULL;
    for (; *c && *c != '/'; c++)
        if (*c == '-' && !dash && c > path + n) dash = c;
        else if (*c < '0' || *c > '9') return 0;
    return dash && dash + 1 < c && c - (path + n) <= 20 && *c == '/' && !strcmp(c + 1, file);
}

static cJSON *entry_json(const ftn_run_entry *en)
{
    char crc[16];
    snprintf(crc, sizeof crc, "%08x", (unsigned)en->crc32);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", en->path);
    cJSON_AddNumberToObject(o, "size", (double)en->size);
    cJSON_AddStringToObject(o, "crc32", crc);
    return o;
}

static int entry_from_json(const cJSON *o, const char *file, ftn_run_entry *en)
{
    const char *path = ftn_run_config_str(o, "path", NULL), *crc = ftn_run_config_str(o, "crc32", NULL);
    double size = ftn_run_config_num(o, "size", -1);
    char *end = NULL;
    unsigned long c = crc ? strtoul(crc, &end, 16) : 0;
    if (!path || strlen(path) >= sizeof en->path || !partial_path_ok(path, file) || !(size >= 0) || !crc ||
        strlen(crc) != 8 || *end || c > 0xffffffffu)
        return 0;
    snprintf(en->path, sizeof en->path, "%s", path);
    en->size = (int64_t)size;
    en->crc32 = (uint32_t)c;
    return 1;
}

/* The loss sum is kept as a C99 hex float: JSON numbers as cJSON prints them need not read back
 * bit for bit, and the continuation's mean loss must. */
static cJSON *partial_json(const ftn_run_partial *pa)
{
    char hex[64];
    snprintf(hex, sizeof hex, "%a", pa->loss_sum);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", pa->epoch);
    cJSON_AddNumberToObject(o, "step", pa->step);
    cJSON_AddStringToObject(o, "loss_sum", hex);
    cJSON_AddNumberToObject(o, "lr", ftn_run_short_float(pa->lr));
    cJSON_AddNumberToObject(o, "seconds", pa->seconds);
    cJSON_AddNumberToObject(o, "iteration", (double)pa->iteration);
    cJSON *fs = cJSON_AddObjectToObject(o, "files");
    cJSON_AddItemToObject(fs, "model", entry_json(&pa->model));
    cJSON_AddItemToObject(fs, "optim", entry_json(&pa->optim));
    return o;
}

static ftn_status partial_from_json(const char *p, const cJSON *o, const ftn_run_state *st, ftn_run_partial *pa)
{
    const char *hex = ftn_run_config_str(o, "loss_sum", NULL);
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(o, "files");
    char *end = NULL;
    memset(pa, 0, sizeof *pa);
    pa->epoch = (int)ftn_run_config_num(o, "epoch", -1);
    pa->step = (int)ftn_run_config_num(o, "step", -1);
    pa->loss_sum = hex ? strtod(hex, &end) : NAN;
    pa->lr = (float)ftn_run_config_num(o, "lr", NAN);
    pa->seconds = ftn_run_config_num(o, "seconds", 0);
    pa->iteration = (int64_t)ftn_run_config_num(o, "iteration", -1);
    if (pa->epoch != st->epochs_done + 1 || pa->step < 1 || !hex || *end || !isfinite(pa->loss_sum) ||
        !isfinite(pa->lr) || pa->iteration < 1 ||
        !entry_from_json(cJSON_GetObjectItemCaseSensitive(fs, "model"), entry_files[FTN_RUN_ENTRY_LAST], &pa->model) ||
        !entry_from_json(cJSON_GetObjectItemCaseSensitive(fs, "optim"), entry_files[FTN_RUN_ENTRY_OPTIM], &pa->optim))
        return ftn_fail(FTN_EFORMAT, "%s: partial: expected the interrupted epoch %d's {\"epoch\", \"step\", "
                        "\"loss_sum\", \"lr\", \"iteration\", \"files\": {\"model\", \"optim\"}}", p, st->epochs_done + 1);
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
    if (st->has_partial) cJSON_AddItemToObject(j, "partial", partial_json(&st->partial));
    ftn_status s = j ? ftn_json_write(p, j) : ftn_fail(FTN_ENOMEM, "%s: out of memory", run_dir);
    cJSON_Delete(j);
    return s;
}

ftn_status ftn_run_state_read(const char *run_dir, ftn_run_state *st)
{
    char p[FTN_PATH_MAX];
    cJSON *j;
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_STATE, p, sizeof p));
    FTN_TRY(ftn_json_read(p, FTN_RUN_MAX_JSON, &j));
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
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "files"),
                    *pa = cJSON_GetObjectItemCaseSensitive(j, "partial");
        if (fs) s = manifest_from_json(p, fs, st);
        if (!s && pa) s = partial_from_json(p, pa, st, &st->partial);
        st->has_partial = !s && pa;
    }
    cJSON_Delete(j);
    return s;
}

/* ---- checkpoints: verify, publish, commit, load ---------------------------------------------- */

/* en's file against its recorded size and CRC-32; `what` names it in the message. */
static ftn_status verify_as(const char *run_dir, const ftn_run_entry *en, const char *what)
{
    char p[FTN_PATH_MAX];
    int64_t size;
    uint32_t crc;
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, en->path));
    ftn_status s = file_sum(p, &size, &crc);
    if (s) return ftn_fail_context(s, "%s/state.json names %s as its %s", run_dir, en->path, what);
    if (size != en->size || crc != en->crc32)
        return ftn_fail(FTN_EFORMAT, "%s: %lld bytes, crc32 %08x; state.json committed %lld bytes, crc32 %08x (the file "
                        "was changed or damaged after its epoch was committed); cannot resume",
                        p, (long long)size, (unsigned)crc, (long long)en->size, (unsigned)en->crc32);
    return FTN_OK;
}

ftn_status ftn_run_verify_entry(const char *run_dir, const ftn_run_entry *en, int k)
{
    return verify_as(run_dir, en, entry_names[k]);
}

/* An atomic copy of file src at dst. */
static ftn_status copy_file(const char *src, const char *dst)
{
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(src, SIZE_MAX / 2, &data, &size));
    const void *chunks[1] = { data };
    ftn_status s = ftn_write_file_atomic(dst, chunks, &size, 1);
    free(data);
    return s;
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
            FTN_TRY(copy_file(src, dst));
        }
        changed = 1;
    }
    if (changed) ftn_run_sync_dir(run_dir);
    return FTN_OK;
}

/* The committed epoch folder's number of entry k, from its path "epochs/NNNN/...". */
static int entry_epoch(const ftn_run_entry *en) { return atoi(en->path + strlen(FTN_RUN_EPOCHS_DIR "/")); }

/* The folder name "EEEE-SSSS" of the interrupted epoch's files, from their path. */
static void partial_name(const ftn_run_partial *pa, char *name, size_t cap)
{
    const char *s = pa->model.path + strlen(FTN_RUN_PARTIAL_DIR "/"), *slash = strchr(s, '/');
    snprintf(name, cap, "%.*s", slash ? (int)(slash - s) : 0, s);
}

ftn_status ftn_run_remove_partials(const char *run_dir, const char *keep)
{
    char pd[FTN_PATH_MAX], p[FTN_PATH_MAX];
    FTN_TRY(ftn_path_join(pd, sizeof pd, run_dir, FTN_RUN_PARTIAL_DIR));
    DIR *d = opendir(pd);
    if (!d) return FTN_OK;
    ftn_status s = FTN_OK;
    struct dirent *e;
    while (s == FTN_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (keep && !strcmp(e->d_name, keep))) continue;
        if ((s = ftn_path_join(p, sizeof p, pd, e->d_name)) != FTN_OK) break;
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) s = ftn_run_remove_folder(p);
        else s = ftn_remove_file(p);
    }
    closedir(d);
    if (s == FTN_OK && !keep && rmdir(pd) != 0 && errno != ENOENT)
        s = ftn_fail(FTN_EIO, "%s: cannot remove: %s", pd, strerror(errno));
    return s;
}

/* What the manifest does not name goes: other epoch folders and interrupted epochs, stale
 * temporary files. */
static ftn_status remove_uncommitted(const char *run_dir, const ftn_run_state *st)
{
    char keep[32] = "";
    if (st->has_partial) partial_name(&st->partial, keep, sizeof keep);
    FTN_TRY(ftn_run_remove_partials(run_dir, st->has_partial ? keep : NULL));
    return ftn_run_remove_except(run_dir, st->has_manifest ? entry_epoch(&st->files[FTN_RUN_ENTRY_LAST]) : 0,
                                 st->has_manifest ? entry_epoch(&st->files[FTN_RUN_ENTRY_BEST]) : 0);
}

ftn_status ftn_run_tidy(const char *run_dir, const ftn_run_state *st)
{
    if (st->has_manifest) {
        for (int k = 0; k < FTN_RUN_N_ENTRIES; k++) FTN_TRY(ftn_run_verify_entry(run_dir, &st->files[k], k));
        FTN_TRY(publish(run_dir, st));
    }
    if (st->has_partial) {
        FTN_TRY(verify_as(run_dir, &st->partial.model, "interrupted epoch's weights"));
        FTN_TRY(verify_as(run_dir, &st->partial.optim, "interrupted epoch's optimiser state"));
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
    snprintf(rel, sizeof rel, FTN_RUN_EPOCHS_DIR "/%04d", best_epoch);
    FTN_TRY(ftn_path_join(dir, sizeof dir, run_dir, rel));
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dir) >= (int)sizeof tmp) return ftn_fail(FTN_EINVAL, "%s: path too long", dir);
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_BEST, src, sizeof src));
    FTN_TRY(ftn_run_remove_folder(tmp));
    FTN_TRY(ftn_run_make_folder(tmp));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_BEST]));
    FTN_TRY(copy_file(src, p));
    FTN_TRY(ftn_run_remove_folder(dir));
    if (rename(tmp, dir) != 0) return ftn_fail(FTN_EIO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
    return fill_entry(run_dir, rel, next, FTN_RUN_ENTRY_BEST);
}

/* Steps 1 and 2 of both commits: m's checkpoint and optimiser state (and log, when given) written
 * into run_dir/rel.tmp/ (a killed process's leftovers replaced), then renamed to run_dir/rel (an
 * uncommitted one of a killed process replaced); parent, rel's folder, is created if missing. */
static ftn_status write_folder(const char *run_dir, const char *parent, const char *rel, const ftn_model *m,
                               const ftn_run_log *log)
{
    char pd[FTN_PATH_MAX], dir[FTN_PATH_MAX], tmp[FTN_PATH_MAX], p[FTN_PATH_MAX];
    FTN_TRY(ftn_path_join(pd, sizeof pd, run_dir, parent));
    FTN_TRY(ftn_path_join(dir, sizeof dir, run_dir, rel));
    if (snprintf(tmp, sizeof tmp, "%s.tmp", dir) >= (int)sizeof tmp) return ftn_fail(FTN_EINVAL, "%s: path too long", dir);
    FTN_TRY(ftn_run_remove_folder(tmp));
    FTN_TRY(ftn_run_make_folder(pd));
    FTN_TRY(ftn_run_make_folder(tmp));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_LAST]));
    FTN_TRY(ftn_model_save(m, p));
    FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_OPTIM]));
    FTN_TRY(ftn_optimizer_save(m, p));
    if (log) {
        FTN_TRY(ftn_path_join(p, sizeof p, tmp, entry_files[FTN_RUN_ENTRY_LOG]));
        FTN_TRY(ftn_run_log_save(log, p));
    }
    FTN_TRY(ftn_run_remove_folder(dir));
    if (rename(tmp, dir) != 0) return ftn_fail(FTN_EIO, "%s: cannot rename to %s: %s", tmp, dir, strerror(errno));
    ftn_run_sync_dir(pd);
    return FTN_OK;
}

ftn_status ftn_run_commit_epoch(const char *run_dir, const ftn_model *m, const ftn_run_log *log, ftn_run_state *st,
                                uint64_t seed)
{
    int e = st->epochs_done;
    if (e < 1 || st->best_epoch < 1 || st->best_epoch > e)
        return ftn_fail(FTN_EINVAL, "%s: epoch %d, best epoch %d: nothing to commit", run_dir, e, st->best_epoch);
    char rel[48];
    snprintf(rel, sizeof rel, FTN_RUN_EPOCHS_DIR "/%04d", e);
    /* 1, 2. the epoch's files in NNNN.tmp/, complete as NNNN/ */
    FTN_TRY(write_folder(run_dir, FTN_RUN_EPOCHS_DIR, rel, m, log));
    /* 3. the manifest: the commit */
    ftn_run_state next = *st;
    next.has_partial = 0; /* an interrupted epoch is this one, finished now */
    for (int k = 0; k < FTN_RUN_ENTRY_BEST; k++) FTN_TRY(fill_entry(run_dir, rel, &next, k));
    if (st->best_epoch == e) next.files[FTN_RUN_ENTRY_BEST] = next.files[FTN_RUN_ENTRY_LAST]; /* the same file */
    if (st->best_epoch != e) { /* the best entry is an earlier epoch's, still committed */
        char want[48];
        snprintf(want, sizeof want, FTN_RUN_EPOCHS_DIR "/%04d/", st->best_epoch);
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

ftn_status ftn_run_commit_partial(const char *run_dir, const ftn_model *m, ftn_run_state *st, uint64_t seed)
{
    ftn_run_partial *pa = &st->partial;
    if (pa->epoch != st->epochs_done + 1 || pa->step < 1)
        return ftn_fail(FTN_EINVAL, "%s: epoch %d, step %d after %d epochs: nothing to save", run_dir, pa->epoch, pa->step,
                        st->epochs_done);
    char name[24], rel[40], p[FTN_PATH_MAX];
    snprintf(name, sizeof name, "%04d-%04d", pa->epoch, pa->step);
    snprintf(rel, sizeof rel, FTN_RUN_PARTIAL_DIR "/%s", name);
    /* 1, 2. the files in EEEE-SSSS.tmp/, complete as EEEE-SSSS/ (never the committed one: that
     * has fewer steps or another epoch) */
    FTN_TRY(write_folder(run_dir, FTN_RUN_PARTIAL_DIR, rel, m, NULL));
    /* 3. state.json: the commit; the finished epochs' fields and manifest unchanged */
    ftn_run_state next = *st;
    ftn_run_partial *np = &next.partial;
    snprintf(np->model.path, sizeof np->model.path, "%s/%s", rel, entry_files[FTN_RUN_ENTRY_LAST]);
    snprintf(np->optim.path, sizeof np->optim.path, "%s/%s", rel, entry_files[FTN_RUN_ENTRY_OPTIM]);
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, np->model.path));
    FTN_TRY(file_sum(p, &np->model.size, &np->model.crc32));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, np->optim.path));
    FTN_TRY(file_sum(p, &np->optim.size, &np->optim.crc32));
    np->iteration = ftn_model_iteration(m);
    next.has_partial = 1;
    FTN_TRY(ftn_run_state_write(run_dir, &next, seed));
    *st = next;
    /* 4. an earlier interruption's folder, and leftovers, go */
    return ftn_run_remove_partials(run_dir, name);
}

ftn_status ftn_run_load_partial(const char *run_dir, const ftn_run_state *st, ftn_model **m)
{
    char p[FTN_PATH_MAX];
    if (!st->has_partial) return ftn_fail(FTN_EINVAL, "%s: no interrupted epoch", run_dir);
    FTN_TRY(verify_as(run_dir, &st->partial.model, "interrupted epoch's weights"));
    FTN_TRY(verify_as(run_dir, &st->partial.optim, "interrupted epoch's optimiser state"));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, st->partial.model.path));
    FTN_TRY(ftn_model_load(p, m));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, st->partial.optim.path));
    FTN_TRY(ftn_optimizer_load(*m, p));
    if (ftn_model_iteration(*m) != st->partial.iteration)
        return ftn_fail(FTN_EFORMAT, "%s: the interrupted epoch's optimiser state is at iteration %lld, state.json at %lld; "
                        "cannot resume exactly", run_dir, (long long)ftn_model_iteration(*m), (long long)st->partial.iteration);
    return FTN_OK;
}

/* The model (and optimiser state) of a verified entry. */
static ftn_status load_entry(const char *run_dir, const ftn_run_state *st, int k, ftn_model **m)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(ftn_run_verify_entry(run_dir, &st->files[k], k));
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
