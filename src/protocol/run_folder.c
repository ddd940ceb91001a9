/* The run folder's file names and folders (see run_folder.h): opening a run (new, overwritten or
 * resumed), removing what no commit names (other epoch folders, stale temporary files), and the
 * JSON file helpers its other files (run_config.c, run_state.c, run_log.c) share. */
#include "protocol/run_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"

/* ---- files and folders ----------------------------------------------------------------------- */

void ftn_run_sync_dir(const char *dir)
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

ftn_status ftn_run_remove_folder(const char *path)
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

ftn_status ftn_run_make_folder(const char *path)
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
    FTN_TRY(ftn_path_join(ed, sizeof ed, run_dir, FTN_RUN_EPOCHS_DIR));
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
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) s = ftn_run_remove_folder(p);
        else s = ftn_remove_file(p);
    }
    closedir(d);
    if (s == FTN_OK && !keep1 && !keep2 && rmdir(ed) != 0 && errno != ENOENT)
        s = ftn_fail(FTN_EIO, "%s: cannot remove: %s", ed, strerror(errno));
    return s;
}

ftn_status ftn_run_remove_except(const char *run_dir, int keep1, int keep2)
{
    char p[FTN_PATH_MAX];
    FTN_TRY(remove_epochs_except(run_dir, keep1, keep2));
    FTN_TRY(remove_stale_tmp(run_dir));
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, "test"));
    return remove_stale_tmp(p);
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
    FTN_TRY(ftn_path_join(p, sizeof p, run_dir, FTN_RUN_EPOCHS_DIR));
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
    FTN_TRY(ftn_run_remove_partials(run_dir, NULL)); /* an interrupted epoch of the run replaced */
    return ftn_run_remove_except(run_dir, 0, 0);
}

/* ---- test results ---------------------------------------------------------------------------- */

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
