/* What the data set files share (dataset.c: opening, checking, loading; dataset_folder.c,
 * dataset_csv.c, dataset_npy.c, dataset_nnunet.c and dataset_side_by_side.c: one layout each);
 * not for use outside src/data/dataset*.c. */
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
/* Image files (by extension, hidden ones skipped) of dir, full paths sorted by strcmp. */
ftn_status ftn_ds_list_images(const char *dir, ftn_strvec *out);

/* The mask suffixes in the order they are tried: user_suffix (when non-empty), "_segmentation",
 * "_Segmentation", "_mask", "_lesion", and, with with_empty, "". Fills sfx[0..6): their count. */
int ftn_ds_mask_suffixes(const char *user_suffix, int with_empty, const char *sfx[6]);
/* The lengths of the image stems mask stem m could name, in the order they are tried (for each
 * suffix of ftn_ds_mask_suffixes: m = base + suffix, then m = base + suffix + "_<digits>"), into
 * len[0..12): their count (0: m is no mask name). Only non-empty bases are listed. */
int ftn_ds_mask_bases(const char *m, const char *user_suffix, int with_empty, size_t len[12]);

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
 * relative to the CSV's folder unless absolute; the files are not checked here); an image on
 * several lines is one sample with every line's masks, and a note in notes says so. */
ftn_status ftn_dataset_open_csv(const char *path, ftn_sample **samples, int *count, ftn_strvec *notes);

/* dataset_nnunet.c: 1 when dir holds dataset.json, imagesTr/ and labelsTr/. */
int ftn_dataset_is_nnunet(const char *dir);
/* dataset_nnunet.c: the cases of an nnU-Net raw folder (see ftunet_protocol.h), sorted by case
 * name; notes gets merged labels and a count that disagrees with numTraining. */
ftn_status ftn_dataset_open_nnunet(const char *path, const ftn_dataset_options *opt, ftn_sample **samples, int *count,
                                   ftn_strvec *skipped, ftn_strvec *notes);

/* dataset_side_by_side.c: 1 when the tree under dir holds at least one image and one mask named
 * by a non-empty suffix; 0 otherwise (or on any error). */
int ftn_dataset_is_side_by_side(const char *dir, const char *user_suffix);
/* dataset_side_by_side.c: images and masks side by side in the folder tree under path, labels
 * from the subfolders (see ftunet_protocol.h), sorted by id. */
ftn_status ftn_dataset_open_side_by_side(const char *path, const ftn_dataset_options *opt, ftn_sample **samples,
                                         int *count, ftn_strvec *skipped);

/* dataset_npy.c: the .npy layout. open fills samples and the arrays of out (whose path and
 * max_pixels are set); load copies sample i out of them. */
ftn_status ftn_dataset_open_npy(const char *images_npy, const char *masks_npy, ftn_dataset *out);
ftn_status ftn_dataset_load_npy(const ftn_dataset *ds, int i, ftn_image *image, ftn_image *mask);

#endif
