/* No leakage, whatever the layout: for every layout ftn_dataset_open reads (images/ + masks/,
 * original/ + gt/, ISIC's folders, CSV with an image on several lines, .npy, side-by-side class
 * folders, nnU-Net), every split (random, repeated, k-fold; with groups and strata) puts each
 * sample id, and each image file, in exactly one of train, validation and test, and the three
 * cover the data set. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ftunet_protocol.h"
#include "testlib.h"

#define W 8
#define H 8

static void png(const char *path, int lesion)
{
    uint8_t px[W * H];
    for (int i = 0; i < W * H; i++) px[i] = (uint8_t)(lesion ? (i % W < 4 ? 255 : 0) : (i * 7) & 255);
    CHECK_OK(ftn_image_write_png(path, W, H, 1, px));
}

static void dir(const char *path) { mkdir(path, 0755); }

/* images/x.png + masks/x_mask.png (or another pair of folder names), n samples */
static void pair_folders(const char *root, const char *img, const char *msk, const char *mask_suffix, int n)
{
    char a[4096], b[4096];
    dir(root);
    snprintf(a, sizeof a, "%s/%s", root, img);
    snprintf(b, sizeof b, "%s/%s", root, msk);
    dir(a), dir(b);
    for (int i = 0; i < n; i++) {
        char f[4200];
        snprintf(f, sizeof f, "%s/case%02d.png", a, i);
        png(f, 0);
        snprintf(f, sizeof f, "%s/case%02d%s.png", b, i, mask_suffix);
        png(f, 1);
    }
}

/* 0 unless every id and every image path of ds is in exactly one part of s and all are covered */
static int no_leak(const ftn_dataset *ds, const ftn_split *s, const char *what)
{
    int n = ds->count, bad = 0;
    int *seen = calloc((size_t)n, sizeof *seen);
    const int *lists[3] = {s->train, s->val, s->test};
    const int counts[3] = {s->n_train, s->n_val, s->n_test};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++) seen[lists[l][i]]++;
    for (int i = 0; i < n; i++) bad |= seen[i] != 1;
    /* by id and by image file: no two samples share either */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            bad |= !strcmp(ds->samples[i].id, ds->samples[j].id);
            if (ds->layout != FTN_LAYOUT_NPY) /* whose samples are slices of one file */
                bad |= !strcmp(ds->samples[i].image_path, ds->samples[j].image_path);
        }
    free(seen);
    CHECK(!bad, "%s: a sample in two parts, in none, or two samples of one id or image", what);
    return bad;
}

static void check_layout(const char *path, ftn_dataset_layout layout, int want, int labelled)
{
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(path, NULL, &ds));
    if (tl_failed) return;
    CHECK(ds.layout == layout, "%s: layout %s", path, ftn_dataset_layout_name(ds.layout));
    CHECK(ds.count == want, "%s: %d samples, want %d", path, ds.count, want);
    ftn_split s;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        CHECK_OK(ftn_split_make(ds.count, 0.25, 0.15, seed, &s));
        no_leak(&ds, &s, path);
        ftn_split_free(&s);
        CHECK_OK(ftn_split_repeat(ds.count, 0.25, 0.15, seed, 2, &s));
        no_leak(&ds, &s, path);
        ftn_split_free(&s);
    }
    int tested[64] = {0};
    for (int f = 0; f < 3; f++) {
        CHECK_OK(ftn_split_kfold(ds.count, 3, f, 0.2, 5, &s));
        no_leak(&ds, &s, path);
        for (int i = 0; i < s.n_test; i++) tested[s.test[i]]++;
        ftn_split_free(&s);
    }
    for (int i = 0; i < ds.count; i++) CHECK(tested[i] == 1, "%s: sample %d tested %d times over the folds", path, i, tested[i]);
    /* groups by the last digit of the id (across classes too), and strata by class where there are classes */
    int *group, *stratum;
    CHECK_OK(ftn_dataset_split_groups(&ds, "([0-9])[^0-9]*$", labelled, &group, &stratum));
    ftn_split_groups g = {group, stratum};
    CHECK_OK(ftn_split_make_grouped(ds.count, &g, 0.25, 0.15, 2, &s));
    no_leak(&ds, &s, path);
    ftn_split_free(&s);
    free(group);
    free(stratum);
    ftn_dataset_free(&ds);
}

int main(void)
{
    const char *root = tl_tmpdir("split_layouts");
    char p[2048], q[4096];

    snprintf(p, sizeof p, "%s/im", root);
    pair_folders(p, "images", "masks", "_mask", 9);
    check_layout(p, FTN_LAYOUT_IMAGES_MASKS, 9, 0);

    snprintf(p, sizeof p, "%s/bus", root);
    pair_folders(p, "original", "gt", "", 7);
    check_layout(p, FTN_LAYOUT_BUS, 7, 0);

    snprintf(p, sizeof p, "%s/isic", root);
    pair_folders(p, "ISIC2018_Task1-2_Training_Input", "ISIC2018_Task1_Training_GroundTruth", "_segmentation", 8);
    check_layout(p, FTN_LAYOUT_ISIC, 8, 0);

    /* a CSV with one line per mask: 6 images, two of them on three lines each */
    snprintf(p, sizeof p, "%s/csv", root);
    pair_folders(p, "images", "masks", "_mask", 6);
    snprintf(q, sizeof q, "%s/list.csv", p);
    FILE *f = fopen(q, "w");
    CHECK(f != NULL);
    if (f) {
        fprintf(f, "image,mask\n");
        for (int i = 0; i < 6; i++) {
            int lines = i < 2 ? 3 : 1;
            for (int k = 0; k < lines; k++) fprintf(f, "%simages/case%02d.png,masks/case%02d_mask.png\n", k == 1 ? "./" : "", i, i);
        }
        fclose(f);
    }
    check_layout(q, FTN_LAYOUT_CSV, 6, 0);

    /* .npy: 10 images of 8×8 */
    snprintf(p, sizeof p, "%s/npy", root);
    dir(p);
    float *x = calloc(10 * H * W, sizeof(float)), *m = calloc(10 * H * W, sizeof(float));
    for (int i = 0; i < 10 * H * W; i++) x[i] = (float)(i % 13) / 13.0f, m[i] = (float)((i % W) < 3);
    int64_t dims[3] = {10, H, W};
    snprintf(q, sizeof q, "%s/images.npy", p);
    CHECK_OK(ftn_npy_write_f32(q, 3, dims, x));
    snprintf(q, sizeof q, "%s/masks.npy", p);
    CHECK_OK(ftn_npy_write_f32(q, 3, dims, m));
    free(x), free(m);
    check_layout(p, FTN_LAYOUT_NPY, 10, 0);

    /* side by side in class folders (BUSI), one stem in two classes, one image with two masks */
    snprintf(p, sizeof p, "%s/busi", root);
    dir(p);
    const char *cls[3] = {"benign", "malignant", "normal"};
    for (int c = 0; c < 3; c++) {
        snprintf(q, sizeof q, "%s/%s", p, cls[c]);
        dir(q);
        for (int i = 0; i < 4; i++) {
            char fi[4400];
            snprintf(fi, sizeof fi, "%s/%s (%d).png", q, i == 0 ? "same" : cls[c], i);
            png(fi, 0);
            snprintf(fi, sizeof fi, "%s/%s (%d)_mask.png", q, i == 0 ? "same" : cls[c], i);
            png(fi, c != 2);
            if (i == 1) {
                snprintf(fi, sizeof fi, "%s/%s (%d)_mask_1.png", q, cls[c], i);
                png(fi, 1);
            }
        }
    }
    check_layout(p, FTN_LAYOUT_SIDE_BY_SIDE, 12, 1);

    /* nnU-Net: dataset.json + imagesTr/CASE_0000.png + labelsTr/CASE.png */
    snprintf(p, sizeof p, "%s/nnunet", root);
    dir(p);
    snprintf(q, sizeof q, "%s/imagesTr", p);
    dir(q);
    snprintf(q, sizeof q, "%s/labelsTr", p);
    dir(q);
    for (int i = 0; i < 7; i++) {
        snprintf(q, sizeof q, "%s/imagesTr/lesion_%03d_0000.png", p, i);
        png(q, 0);
        snprintf(q, sizeof q, "%s/labelsTr/lesion_%03d.png", p, i);
        uint8_t lab[W * H];
        for (int k = 0; k < W * H; k++) lab[k] = (uint8_t)(k % W < 3);
        CHECK_OK(ftn_image_write_png(q, W, H, 1, lab));
    }
    snprintf(q, sizeof q, "%s/dataset.json", p);
    f = fopen(q, "w");
    if (f) {
        fprintf(f, "{\"channel_names\": {\"0\": \"US\"}, \"labels\": {\"background\": 0, \"lesion\": 1}, "
                   "\"numTraining\": 7, \"file_ending\": \".png\"}\n");
        fclose(f);
    }
    check_layout(p, FTN_LAYOUT_NNUNET, 7, 0);
    return tl_finish();
}
