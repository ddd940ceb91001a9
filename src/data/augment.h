/* Data augmentation: the public part (ftn_augment_config, presets, ftn_augment_sample, the JSON
 * text form) is in ftunet_protocol.h, section "augmentation"; the cJSON form, for run folders that
 * embed the configuration in their own JSON files, and the per-sample seed are here. */
#ifndef FTN_DATA_AUGMENT_H
#define FTN_DATA_AUGMENT_H
#include <cjson/cJSON.h>
#include <stdint.h>

#include "ftunet_protocol.h"

/* The configuration as a cJSON object (every key, in the order of ftn_augment_config); NULL when
 * out of memory. */
cJSON *ftn_augment_json(const ftn_augment_config *c);
/* Reads an object ftn_augment_json wrote: unknown keys, values of the wrong type or out of range
 * are refused naming the key; absent keys take preset none's values. *out is written only on
 * success. */
ftn_status ftn_augment_from_cjson(const cJSON *j, ftn_augment_config *out);

/* The seed of a sample's draws: a splitmix64 mix of (seed, epoch, sample_index). */
uint64_t ftn_augment_sample_seed(uint64_t seed, int epoch, int sample_index);

#endif
