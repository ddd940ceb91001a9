/* The public, cJSON-free view of a run's config.json (ftunet_protocol.h, "run folders"): a thin
 * wrapper over protocol/run_folder.h, which knows the format. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "core/error.h"
#include "protocol/run_folder.h"

struct ftn_run_config {
    cJSON *json;
};

ftn_status ftn_run_config_load(const char *run_dir, ftn_run_config **out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    *out = NULL;
    ftn_run_config *c = malloc(sizeof *c);
    if (!c) return ftn_fail(FTN_ENOMEM, "run config: out of memory");
    ftn_status s = ftn_run_config_read(run_dir, &c->json);
    if (s != FTN_OK) {
        free(c);
        return s;
    }
    *out = c;
    return FTN_OK;
}

void ftn_run_config_free(ftn_run_config *c)
{
    if (!c) return;
    cJSON_Delete(c->json);
    free(c);
}

const char *ftn_run_config_string(const ftn_run_config *c, const char *key, const char *fallback)
{
    return c ? ftn_run_config_str(c->json, key, fallback) : fallback;
}

double ftn_run_config_number(const ftn_run_config *c, const char *key, double fallback)
{
    return c ? ftn_run_config_num(c->json, key, fallback) : fallback;
}

ftn_status ftn_run_config_dataset(const char *run_dir, const ftn_run_config *c, ftn_dataset *ds)
{
    if (!c) return ftn_fail(FTN_EINVAL, "run config: missing argument");
    return ftn_run_dataset_open(run_dir, c->json, ds);
}

ftn_status ftn_run_config_split(const ftn_run_config *c, const char *split, const ftn_dataset *ds, int **idx, int *n)
{
    if (!c) return ftn_fail(FTN_EINVAL, "run split: missing argument");
    return ftn_run_split_indices(c->json, split, ds, idx, n);
}
