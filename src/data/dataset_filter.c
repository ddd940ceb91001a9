/* Empty masks in a data set (ftunet_protocol.h, "data sets"): which samples have no lesion pixel,
 * and dropping them (`--exclude-empty`, not the paper's protocol: BUSI's "normal" images). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/dataset_internal.h"

ftn_status ftn_dataset_empty(const ftn_dataset *ds, const int *idx, int n, unsigned char *empty)
{
    if (!ds || !empty) return ftn_fail(FTN_EINVAL, "empty masks: missing argument");
    if (!idx) n = ds->count;
    if (n < 0) return ftn_fail(FTN_EINVAL, "empty masks: %d samples", n);
    for (int k = 0; k < n; k++)
        if (idx && (idx[k] < 0 || idx[k] >= ds->count))
            return ftn_fail(FTN_EINVAL, "empty masks: %s: sample index %d out of range (%d samples)", ds->path, idx[k],
                            ds->count);
    if (n == 0) return FTN_OK;
    ftn_status *sts = calloc((size_t)n, sizeof *sts);
    char(*msgs)[512] = calloc((size_t)n, sizeof *msgs);
    if (!sts || !msgs) {
        free(sts), free(msgs);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
    }
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < n; k++) {
        ftn_image im, m;
        sts[k] = ftn_dataset_load(ds, idx ? idx[k] : k, &im, &m);
        if (sts[k] != FTN_OK) {
            snprintf(msgs[k], sizeof msgs[k], "%s", ftn_last_error());
            continue;
        }
        size_t np = (size_t)m.width * m.height, on = 0;
        for (size_t p = 0; p < np && !on; p++) on += m.data[p] > 0.5f;
        empty[k] = on == 0;
        ftn_image_free(&im);
        ftn_image_free(&m);
    }
    ftn_status st = FTN_OK;
    for (int k = 0; k < n && st == FTN_OK; k++)
        if (sts[k] != FTN_OK) st = ftn_fail(sts[k], "%s", msgs[k]);
    free(sts);
    free(msgs);
    return st;
}

void ftn_dataset_ids_free(char **ids, int n)
{
    if (!ids) return;
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
}

ftn_status ftn_dataset_drop_empty(ftn_dataset *ds, int *dropped, char ***ids)
{
    if (dropped) *dropped = 0;
    if (ids) *ids = NULL;
    if (!ds || ds->count <= 0) return ftn_fail(FTN_EINVAL, "drop empty masks: no data set");
    int n = ds->count, n_empty = 0;
    unsigned char *empty = malloc((size_t)n);
    if (!empty) return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
    ftn_status st = ftn_dataset_empty(ds, NULL, n, empty);
    if (st != FTN_OK) {
        free(empty);
        return st;
    }
    for (int i = 0; i < n; i++) n_empty += empty[i];
    if (n_empty == n) {
        free(empty);
        return ftn_fail(FTN_EINVAL, "%s: every mask of its %d samples is empty: excluding them leaves nothing", ds->path, n);
    }
    /* the ids first, so that running out of memory leaves ds as it was */
    char **out = NULL;
    if (ids && n_empty) {
        out = calloc((size_t)n_empty, sizeof *out);
        for (int i = 0, k = 0; out && i < n; i++)
            if (empty[i] && !(out[k++] = strdup(ds->samples[i].id))) {
                ftn_dataset_ids_free(out, k);
                out = NULL;
            }
        if (!out) {
            free(empty);
            return ftn_fail(FTN_ENOMEM, "%s: out of memory", ds->path);
        }
    }
    /* the .npy layout's arrays hold sample i at row i: compacted in step (same size for all) */
    size_t img = 0, px = 0;
    if (ds->layout == FTN_LAYOUT_NPY) {
        px = (size_t)ds->samples[0].width * ds->samples[0].height;
        img = px * (size_t)ds->samples[0].channels;
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (empty[i]) {
            ftn_ds_sample_free(&ds->samples[i]);
            continue;
        }
        if (kept != i) {
            ds->samples[kept] = ds->samples[i];
            memset(&ds->samples[i], 0, sizeof ds->samples[i]);
            if (ds->layout == FTN_LAYOUT_NPY) {
                if (ds->npy_images) memmove(ds->npy_images + (size_t)kept * img, ds->npy_images + (size_t)i * img, img * sizeof(float));
                if (ds->npy_masks) memmove(ds->npy_masks + (size_t)kept * px, ds->npy_masks + (size_t)i * px, px * sizeof(float));
            }
        }
        kept++;
    }
    ds->count = kept;
    free(empty);
    if (dropped) *dropped = n_empty;
    if (ids) *ids = out;
    return FTN_OK;
}
