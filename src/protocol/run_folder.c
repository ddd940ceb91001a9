#include "protocol/run_folder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"

ftn_status ftn_run_config_read(const char *run_dir, cJSON **config)
{
    if (!run_dir || !config) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    *config = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    uint8_t *data;
    size_t size;
    FTN_TRY(ftn_read_file(path, 64u << 20, &data, &size));
    cJSON *c = cJSON_ParseWithLength((const char *)data, size);
    free(data);
    if (!c || !cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return ftn_fail(FTN_EFORMAT, "%s: not a JSON object", path);
    }
    *config = c;
    return FTN_OK;
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
    struct stat st;
    char path[4096];
    if (data[0] != '/' && stat(data, &st) != 0) {
        snprintf(path, sizeof path, "%s/%s", run_dir, data);
        if (stat(path, &st) == 0) data = path;
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

ftn_status ftn_mkdirs(const char *path)
{
    if (!path || !*path) return ftn_fail(FTN_EINVAL, "mkdir: empty path");
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return ftn_fail(FTN_EINVAL, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ftn_fail(FTN_EIO, "%s: cannot create: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ftn_fail(FTN_EIO, "%s: cannot create: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return ftn_fail(FTN_EIO, "%s: not a folder", buf);
    return FTN_OK;
}
