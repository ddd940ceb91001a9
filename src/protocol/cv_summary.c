/* DIR/summary.json of a cross-validation (ftunet_protocol.h, "cross-validation"): what was
 * trained, each run's mean test metrics, and their mean and std over the runs. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "protocol/run_folder.h" /* ftn_json_write, ftn_metrics_json */

/* 0.7f as 0.7 in JSON (7 digits: summary.json's format, not config.json's shortest round trip) */
static double seven_digits(float f)
{
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)f);
    return strtod(b, NULL);
}

ftn_status ftn_cv_summary_write(const char *dir, const ftn_train_config *base, int kfold, int runs,
                                const ftn_train_summary *sums, ftn_metrics *mean, ftn_metrics *std)
{
    if (!dir || !base || !sums || !mean || !std || runs < 1) return ftn_fail(FTN_EINVAL, "cv summary: missing argument");
    char path[FTN_PATH_MAX];
    FTN_TRY(ftn_path_join(path, sizeof path, dir, "summary.json"));
    ftn_metrics *per = calloc((size_t)runs, sizeof *per);
    if (!per) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    for (int r = 0; r < runs; r++) per[r] = sums[r].test_mean;
    ftn_metrics_mean_std(per, runs, mean, std);
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "scheme", kfold ? "kfold" : "repeat");
    cJSON_AddNumberToObject(j, kfold ? "folds" : "repeats", runs);
    cJSON_AddStringToObject(j, "model", base->model);
    cJSON_AddStringToObject(j, "loss", ftn_loss_name(base->loss.kind));
    cJSON_AddNumberToObject(j, "alpha", seven_digits(base->loss.alpha));
    cJSON_AddNumberToObject(j, "beta", seven_digits(base->loss.beta));
    cJSON_AddNumberToObject(j, "gamma", seven_digits(base->loss.gamma));
    cJSON_AddBoolToObject(j, "exclude_empty", base->exclude_empty != 0);
    cJSON_AddItemToObject(j, "runs", arr);
    for (int r = 0; r < runs; r++) {
        char name[32];
        snprintf(name, sizeof name, "fold-%d", r + 1);
        cJSON *f = ftn_metrics_json(&per[r]);
        cJSON_AddStringToObject(f, "dir", name);
        cJSON_AddNumberToObject(f, "n_test", sums[r].n_test);
        cJSON_AddNumberToObject(f, "best_epoch", sums[r].best_epoch);
        /* the run's test images with a lesion and with an empty ground truth apart (all images
         * above: the paper's protocol) */
        const ftn_metrics_groups *g = &sums[r].test_groups;
        cJSON_AddNumberToObject(f, "n_lesion", g->n_lesion);
        cJSON_AddItemToObject(f, "lesion_mean", ftn_metrics_json(&g->lesion_mean));
        cJSON_AddNumberToObject(f, "n_empty", g->n_empty);
        cJSON_AddNumberToObject(f, "empty_fp_rate", g->empty_fp_rate);
        cJSON_AddItemToArray(arr, f);
    }
    cJSON_AddItemToObject(j, "mean", ftn_metrics_json(mean));
    cJSON_AddItemToObject(j, "std", ftn_metrics_json(std)); /* population std over runs (numpy) */
    ftn_status s = ftn_json_write(path, j);
    cJSON_Delete(j);
    free(per);
    return s;
}
