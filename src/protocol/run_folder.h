/* Reading a run folder (RUN/config.json, written by training): the configuration, its data set
 * and the sample ids of its train/val/test split, plus small path helpers. */
#ifndef FTN_PROTOCOL_RUN_FOLDER_H
#define FTN_PROTOCOL_RUN_FOLDER_H
#include <cjson/cJSON.h>

#include "data/dataset.h"
#include "ftunet.h"

/* Parses RUN/config.json into *config (cJSON_Delete it). */
ftn_status ftn_run_config_read(const char *run_dir, cJSON **config);

/* String / number members of the configuration, or `fallback` when absent or of another type. */
const char *ftn_run_config_str(const cJSON *config, const char *key, const char *fallback);
double ftn_run_config_num(const cJSON *config, const char *key, double fallback);

/* Opens the configuration's data set ("data"; a relative path that does not exist as given is
 * tried relative to the run folder) with its "mask_suffix". */
ftn_status ftn_run_dataset_open(const char *run_dir, const cJSON *config, ftn_dataset *ds);

/* The dataset indices of the ids listed in config[split] ("train", "val" or "test"), in the
 * config's order: malloc'ed into *idx (free()), count in *n. An id not in ds is an error. */
ftn_status ftn_run_split_indices(const cJSON *config, const char *split, const ftn_dataset *ds, int **idx, int *n);

/* mkdir -p. */
ftn_status ftn_mkdirs(const char *path);

#endif
