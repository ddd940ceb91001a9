/* What the data set files share (dataset.c: opening, checking, loading; dataset_folder.c,
 * dataset_csv.c and dataset_npy.c: one layout each); not for use outside src/data/dataset*.c. */
#ifndef FTN_DATA_DATASET_INTERNAL_H
#define FTN_DATA_DATASET_INTERNAL_H
#include <stddef.h>

#include "data/dataset.h"

/* ---- small helpers (dataset.c) -------------------------------------------------------------- */

/* A growing list of malloc'ed strings. */
typedef struct ftn_strvec { char **v; int n, cap; } ftn_strvec;

/* Appends str, taking ownership (frees it on failure, and a NULL str is a failure): 0 or −1. */
int ftn_strvec_push(ftn_strvec *s, char *str);
void ftn_strvec_free(ftn_strvec *s); /* the strings and the list; *s zeroed */

/* "dir/name" (no second '/' when dir ends in one), malloc'ed; NULL when out of memory. */
char *ftn_ds_join(const char *dir, const char *name);
/* 1 when path is a folder (following links). */
int ftn_ds_is_dir(const char *path);
/* Appends a copy of msg ("path: why") to skipped; FTN_ENOMEM with a message when out of memory. */
ftn_status ftn_ds_add_skipped(ftn_strvec *skipped, const char *msg);
/* Frees the sample's strings and zeroes it. */
void ftn_ds_sample_free(ftn_sample *s);
/* Appends path (taken over; freed on failure, and a NULL path is a failure) to the sample's
 * masks: 0 or −1. */
int ftn_ds_sample_add_mask(ftn_sample *s, char *path);

/* ---- file names (dataset_folder.c) ---------------------------------------------------------- */

/* 1 when name ends in .png .jpg .jpeg or .bmp (any case) after a non-empty stem. */
int ftn_ds_has_image_ext(const char *name);
/* The file name without folder and extension, malloc'ed; NULL when out of memory. */
char *ftn_ds_stem_of(const char *path);

/* ---- the layouts ---------------------------------------------------------------------------- */

/* dataset_folder.c: the samples of path/img_sub paired by stem with the masks of path/mask_sub
 * (sorted by image stem, each sample's masks by name); with opt->skip_bad, bad files go to
 * skipped instead of failing. */
ftn_status ftn_dataset_open_folders(const char *path, const char *img_sub, const char *mask_sub,
                                    const ftn_dataset_options *opt, ftn_sample **samples, int *count,
                                    ftn_strvec *skipped);
/* dataset_folder.c, for ISIC 2018 as downloaded (ISIC2018_Task1-2_Training_Input/ beside
 * ISIC2018_Task1_Training_GroundTruth/): finds the one subfolder of dir whose name ends in
 * suffix: 1 (its name in out[0..cap)); 0 when there is none; 2 (error set) when there are
 * several. */
int ftn_dataset_find_suffixed_dir(const char *dir, const char *suffix, char *out, size_t cap);

/* dataset_csv.c: the samples of a CSV of "image,mask[,mask...]" lines, in line order (paths
 * relative to the CSV's folder unless absolute; the files are not checked here). */
ftn_status ftn_dataset_open_csv(const char *path, ftn_sample **samples, int *count);

/* dataset_npy.c: the .npy layout. open fills samples and the arrays of out (whose path and
 * max_pixels are set); load copies sample i out of them. */
ftn_status ftn_dataset_open_npy(const char *images_npy, const char *masks_npy, ftn_dataset *out);
ftn_status ftn_dataset_load_npy(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

#endif
