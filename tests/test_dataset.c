/* Dataset layouts, pairing, bad-sample handling, loading to tensors, statistics, resizing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/resize.h"
#include "io/image.h"
#include "io/npy.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static char root[512];

static const char *sub(const char *a, const char *b)
{
    static char ring[8][2048];
    static int k;
    char *p = ring[k++ % 8];
    snprintf(p, 2048, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");
    return p;
}

static void mk(const char *rel)
{
    char buf[2048];
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    for (char *p = buf + strlen(root) + 1; *p; p++)
        if (*p == '/') { *p = 0; mkdir(buf, 0755); *p = '/'; }
    mkdir(buf, 0755);
}

/* rel/images and rel/masks (the generic layout). */
static void mk_images_masks(const char *rel)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s/images", rel);
    mk(buf);
    snprintf(buf, sizeof buf, "%s/masks", rel);
    mk(buf);
}

/* Opening path (options o, may be NULL) into *ds fails with status want, the message naming a
 * and, unless NULL, b. */
static void check_refused(ftn_dataset *ds, const char *path, const ftn_dataset_options *o, ftn_status want,
                          const char *a, const char *b)
{
    ftn_status st = ftn_dataset_open(path, o, ds);
    const char *e = ftn_last_error();
    CHECK(st == want, "%s: status %d, want %d: %s", path, (int)st, (int)want, e);
    CHECK(strstr(e, a) && (!b || strstr(e, b)), "%s: want '%s'%s%s in: %s", path, a, b ? " and " : "", b ? b : "", e);
}

/* w×h PNG; value(x, y) for channel 0 (others shifted a little). */
static void png(const char *path, int w, int h, int c, int (*value)(int x, int y))
{
    uint8_t *b = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) b[(y * w + x) * c + k] = (uint8_t)(value(x, y) + 0 * k);
    if (ftn_image_write_png(path, w, h, c, b) != FTN_OK) fprintf(stderr, "write %s: %s\n", path, ftn_last_error());
    free(b);
}

static int v_grad(int x, int y) { return x * 20 + y * 10; }
static int v_left(int x, int y) { (void)y; return x < 2 ? 255 : 0; }
static int v_top(int x, int y) { (void)x; return y < 1 ? 200 : 0; }
static int v_levels(int x, int y) { static const int l[4] = {0, 127, 128, 255}; return l[(x + y * 4) % 4]; }
static int v_none(int x, int y) { (void)x; (void)y; return 0; }

static void test_images_masks(void)
{
    mk_images_masks("a");
    png(sub("a/images", "b.png"), 4, 3, 1, v_grad);
    png(sub("a/images", "a.png"), 4, 3, 3, v_grad);
    png(sub("a/masks", "b.png"), 4, 3, 1, v_levels);
    png(sub("a/masks", "a.png"), 4, 3, 1, v_left);
    png(sub("a/images", "notes.txt"), 1, 1, 1, v_none); /* not an image extension: ignored */
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("a", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_IMAGES_MASKS && ds.count == 2 && ds.n_skipped == 0);
    if (ds.count == 2) {
        CHECK(!strcmp(ds.samples[0].id, "a") && !strcmp(ds.samples[1].id, "b"), "sorted by stem");
        CHECK(ds.samples[0].channels == 3 && ds.samples[1].channels == 1 && ds.samples[0].width == 4);
        ftn_image im, m;
        CHECK_OK(ftn_dataset_load(&ds, 1, &im, &m));
        CHECK(m.channels == 1 && m.width == 4 && m.height == 3);
        int bad = 0;
        for (int i = 0; m.data && i < 12; i++) bad += m.data[i] != ((i % 4) >= 2 ? 1.0f : 0.0f);
        CHECK(bad == 0, "mask threshold at half the range (127 → 0, 128 → 1)");
        ftn_image_free(&im);
        ftn_image_free(&m);

        /* tensors: 3 channels, 2×2 area; a.png is RGB (grey values), b.png grey → replicated */
        float *x = NULL, *y = NULL;
        int *hw = NULL;
        CHECK_OK(ftn_dataset_load_tensors(&ds, 3, 2, 2, FTN_RESIZE_NEAREST, &x, &y, &hw));
        if (x && y && hw) {
            CHECK(hw[0] == 3 && hw[1] == 4 && hw[2] == 3 && hw[3] == 4);
            /* sample 1 (b), channel 2, pixel (0,1): nearest source (x=2, y=0) → 40/255 */
            CHECK(fabsf(x[1 * 12 + 2 * 4 + 1] - 40 / 255.0f) < 1e-6f, "%g", x[1 * 12 + 2 * 4 + 1]);
            /* sample 0 mask: left half */
            CHECK(y[0] == 1 && y[1] == 0 && y[2] == 1 && y[3] == 0);
        }
        free(x), free(y), free(hw);
        /* 1 channel from RGB: luminance of equal channels = the grey */
        int idx[1] = {0};
        CHECK_OK(ftn_dataset_load_subset(&ds, idx, 1, 1, 3, 4, FTN_RESIZE_BILINEAR, &x, &y, NULL));
        if (x) CHECK(fabsf(x[5] - (20 + 10) / 255.0f) < 1e-5f, "%g", x[5]);
        free(x), free(y);
        CHECK(ftn_dataset_load_subset(&ds, (int[]){5}, 1, 1, 3, 4, FTN_RESIZE_AREA, &x, &y, NULL) == FTN_EINVAL);

        ftn_dataset_summary st;
        CHECK_OK(ftn_dataset_stats(&ds, &st));
        /* a: 6 of 12 lesion; b: 6 of 12 → mean 0.5, std 0 */
        CHECK(st.count == 2 && st.min_width == 4 && st.max_height == 3 && st.grey_images == 1 && st.colour_images == 1);
        CHECK(fabs(st.lesion_mean - 0.5) < 1e-12 && fabs(st.lesion_std) < 1e-12, "%g %g", st.lesion_mean, st.lesion_std);
    }
    ftn_dataset_free(&ds);
    CHECK(ds.samples == NULL && ds.count == 0);
}

static void test_bus_isic_union_suffix(void)
{
    mk("bus/original");
    mk("bus/gt");
    png(sub("bus/original", "000001.png"), 5, 4, 1, v_grad);
    png(sub("bus/gt", "000001.png"), 5, 4, 1, v_left);
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("bus", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_BUS && ds.count == 1);
    ftn_dataset_free(&ds);

    /* ISIC: JPEG image, _segmentation mask */
    mk_images_masks("isic");
    png(sub("isic/images", "ISIC_0000001.PNG"), 4, 4, 3, v_grad);
    png(sub("isic/images", "ISIC_0000000.png"), 4, 4, 3, v_grad);
    png(sub("isic/masks", "ISIC_0000000_segmentation.png"), 4, 4, 1, v_left);
    png(sub("isic/masks", "ISIC_0000001_Segmentation.png"), 4, 4, 1, v_top);
    CHECK_OK(ftn_dataset_open(sub("isic", NULL), NULL, &ds));
    CHECK(ds.count == 2);
    if (ds.count == 2) {
        CHECK(!strcmp(ds.samples[0].id, "ISIC_0000000") && strstr(ds.samples[0].mask_paths[0], "0000_segmentation"));
        CHECK(strstr(ds.samples[1].mask_paths[0], "_Segmentation"));
    }
    ftn_dataset_free(&ds);

    /* ISIC 2018 as downloaded: its own folder names, a licence file among the images */
    mk("isic-native/ISIC2018_Task1-2_Training_Input");
    mk("isic-native/ISIC2018_Task1_Training_GroundTruth");
    png(sub("isic-native/ISIC2018_Task1-2_Training_Input", "ISIC_0000000.png"), 4, 4, 3, v_grad);
    png(sub("isic-native/ISIC2018_Task1-2_Training_Input", "ISIC_0000001.png"), 4, 4, 3, v_grad);
    FILE *lic = fopen(sub("isic-native/ISIC2018_Task1-2_Training_Input", "LICENSE.txt"), "w");
    if (lic) fputs("CC-BY-NC\n", lic), fclose(lic);
    png(sub("isic-native/ISIC2018_Task1_Training_GroundTruth", "ISIC_0000000_segmentation.png"), 4, 4, 1, v_left);
    png(sub("isic-native/ISIC2018_Task1_Training_GroundTruth", "ISIC_0000001_segmentation.png"), 4, 4, 1, v_top);
    CHECK_OK(ftn_dataset_open(sub("isic-native", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_ISIC && ds.count == 2, "layout %d, %d samples", ds.layout, ds.count);
    if (ds.count == 2) CHECK(!strcmp(ds.samples[1].id, "ISIC_0000001") && strstr(ds.samples[1].mask_paths[0], "GroundTruth"));
    ftn_dataset_free(&ds);
    /* training and validation parts side by side: which one is meant is unclear */
    mk("isic-native/ISIC2018_Task1-2_Validation_Input");
    check_refused(&ds, sub("isic-native", NULL), NULL, FTN_EFORMAT, "_Input", "CSV");

    /* several masks: union */
    mk_images_masks("multi");
    png(sub("multi/images", "x.png"), 4, 3, 1, v_grad);
    png(sub("multi/masks", "x_mask.png"), 4, 3, 1, v_left);
    png(sub("multi/masks", "x_mask_1.png"), 4, 3, 1, v_top);
    png(sub("multi/masks", "x_mask_2.png"), 4, 3, 1, v_none);
    CHECK_OK(ftn_dataset_open(sub("multi", NULL), NULL, &ds));
    CHECK(ds.count == 1 && ds.samples[0].n_masks == 3);
    ftn_image im, m;
    CHECK_OK(ftn_dataset_load(&ds, 0, &im, &m));
    int on = 0, bad = 0;
    for (int y = 0; m.data && y < 3; y++)
        for (int x = 0; x < 4; x++) {
            on += m.data[y * 4 + x] == 1.0f;
            bad += m.data[y * 4 + x] != ((x < 2 || y < 1) ? 1.0f : 0.0f);
        }
    CHECK(on == 8 && bad == 0, "union: %d on, %d wrong", on, bad);
    ftn_image_free(&im);
    ftn_image_free(&m);
    ftn_dataset_free(&ds);

    /* custom suffix */
    mk_images_masks("custom");
    png(sub("custom/images", "c.png"), 4, 3, 1, v_grad);
    png(sub("custom/masks", "c_gt.png"), 4, 3, 1, v_left);
    check_refused(&ds, sub("custom", NULL), NULL, FTN_EFORMAT, "c_gt.png", NULL);
    ftn_dataset_options o = {.mask_suffix = "_gt"};
    CHECK_OK(ftn_dataset_open(sub("custom", NULL), &o, &ds));
    CHECK(ds.count == 1);
    ftn_dataset_free(&ds);
}

static void test_csv(void)
{
    mk("csvdir/imgs");
    png(sub("csvdir/imgs", "p.png"), 4, 3, 1, v_grad);
    png(sub("csvdir/imgs", "q.png"), 4, 3, 1, v_grad);
    png(sub("csvdir/imgs", "p_m.png"), 4, 3, 1, v_left);
    png(sub("csvdir/imgs", "q_m.png"), 4, 3, 1, v_top);
    FILE *f = fopen(sub("csvdir", "list.csv"), "w");
    fprintf(f, "image,mask\r\n# a comment\r\n\r\nimgs/q.png, imgs/q_m.png\r\n\"%s\",imgs/p_m.png\r\n", sub("csvdir/imgs", "p.png"));
    fclose(f);
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("csvdir", "list.csv"), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_CSV && ds.count == 2);
    if (ds.count == 2) {
        CHECK(!strcmp(ds.samples[0].id, "q") && !strcmp(ds.samples[1].id, "p"), "CSV keeps its order");
        CHECK(!strcmp(ds.samples[1].image_path, sub("csvdir/imgs", "p.png")), "absolute path kept");
    }
    ftn_dataset_free(&ds);
    /* no header, a missing file */
    f = fopen(sub("csvdir", "bad.csv"), "w");
    fprintf(f, "imgs/q.png,imgs/q_m.png\nimgs/gone.png,imgs/p_m.png\n");
    fclose(f);
    CHECK(ftn_dataset_open(sub("csvdir", "bad.csv"), NULL, &ds) != FTN_OK);
    CHECK(strstr(ftn_last_error(), "gone.png"), "%s", ftn_last_error());
    ftn_dataset_options o = {.skip_bad = 1};
    CHECK_OK(ftn_dataset_open(sub("csvdir", "bad.csv"), &o, &ds));
    CHECK(ds.count == 1 && ds.n_skipped == 1 && strstr(ds.skipped[0], "gone.png"));
    ftn_dataset_free(&ds);
    f = fopen(sub("csvdir", "short.csv"), "w");
    fprintf(f, "imgs/q.png\n");
    fclose(f);
    check_refused(&ds, sub("csvdir", "short.csv"), NULL, FTN_EFORMAT, "short.csv:1", NULL);
}

static void test_bad(void)
{
    mk_images_masks("bad");
    /* the scratch folder survives between runs: start from a known state */
    static const char *names[] = {"lonely.png", "orphan.png", "big.png", "cut.png"};
    for (int i = 0; i < 4; i++) {
        remove(sub("bad/images", names[i]));
        remove(sub("bad/masks", names[i]));
    }
    png(sub("bad/images", "ok.png"), 4, 3, 1, v_grad);
    png(sub("bad/masks", "ok.png"), 4, 3, 1, v_left);
    png(sub("bad/images", "lonely.png"), 4, 3, 1, v_grad);
    ftn_dataset ds;
    check_refused(&ds, sub("bad", NULL), NULL, FTN_EFORMAT, "lonely.png", "no mask");
    CHECK(ds.samples == NULL && ds.count == 0);
    ftn_dataset_options o = {.skip_bad = 1};
    CHECK_OK(ftn_dataset_open(sub("bad", NULL), &o, &ds));
    CHECK(ds.count == 1 && ds.n_skipped == 1);
    if (ds.n_skipped == 1) CHECK(strstr(ds.skipped[0], "lonely.png"), "%s", ds.skipped[0]);
    ftn_dataset_free(&ds);

    /* a mask without an image, and a size mismatch */
    remove(sub("bad/images", "lonely.png"));
    png(sub("bad/masks", "orphan.png"), 4, 3, 1, v_left);
    check_refused(&ds, sub("bad", NULL), NULL, FTN_EFORMAT, "orphan.png", NULL);
    remove(sub("bad/masks", "orphan.png"));
    png(sub("bad/images", "big.png"), 5, 3, 1, v_grad);
    png(sub("bad/masks", "big.png"), 4, 3, 1, v_left);
    check_refused(&ds, sub("bad", NULL), NULL, FTN_EFORMAT, "big.png", "5x3");
    CHECK_OK(ftn_dataset_open(sub("bad", NULL), &o, &ds));
    CHECK(ds.count == 1 && ds.n_skipped == 1);
    ftn_dataset_free(&ds);
    remove(sub("bad/images", "big.png"));
    remove(sub("bad/masks", "big.png"));

    /* unreadable (truncated) image: headers fine, verify catches it */
    FILE *f = fopen(sub("bad/images", "cut.png"), "wb");
    uint8_t whole[4096];
    FILE *g = fopen(sub("bad/images", "ok.png"), "rb");
    size_t n = fread(whole, 1, sizeof whole, g);
    fclose(g);
    fwrite(whole, 1, n - 20, f); /* IHDR intact, IDAT cut */
    fclose(f);
    png(sub("bad/masks", "cut.png"), 4, 3, 1, v_left);
    o.verify = 1;
    o.skip_bad = 0;
    check_refused(&ds, sub("bad", NULL), &o, FTN_EFORMAT, "cut.png", NULL);
    o.skip_bad = 1;
    CHECK_OK(ftn_dataset_open(sub("bad", NULL), &o, &ds));
    CHECK(ds.count == 1 && ds.n_skipped == 1);
    ftn_dataset_free(&ds);
    /* without verify the header passes; loading then fails naming the file */
    o.verify = 0;
    o.skip_bad = 0;
    CHECK_OK(ftn_dataset_open(sub("bad", NULL), &o, &ds));
    float *x = NULL, *y = NULL;
    CHECK(ftn_dataset_load_tensors(&ds, 1, 4, 4, FTN_RESIZE_AREA, &x, &y, NULL) == FTN_EFORMAT);
    CHECK(strstr(ftn_last_error(), "cut.png"), "%s", ftn_last_error());
    CHECK(x == NULL && y == NULL);
    ftn_dataset_free(&ds);

    /* not a dataset */
    mk("empty");
    check_refused(&ds, sub("empty", NULL), NULL, FTN_EFORMAT, "images/", NULL);
    CHECK(ftn_dataset_open(sub("nothing-here", NULL), NULL, &ds) == FTN_EIO);
    /* max_pixels applies */
    ftn_dataset_options lim = {.max_pixels = 10};
    check_refused(&ds, sub("a", NULL), &lim, FTN_EFORMAT, "--max-pixels", NULL);
}

/* An empty images/ + masks/ pair is refused with a clear error (it used to call qsort(NULL, 0),
 * which UBSan aborts on); a 0/1 label mask reads as its lesion pixels, not as empty. */
static int v_bin(int x, int y) { return (x == 1 || y == 2) ? 1 : 0; }

static void test_empty_and_binary(void)
{
    mk_images_masks("void");
    ftn_dataset ds;
    check_refused(&ds, sub("void", NULL), NULL, FTN_EFORMAT, "no image files", "void/images");
    CHECK(ds.samples == NULL && ds.count == 0);
    ftn_dataset_options o = {.skip_bad = 1};
    CHECK(ftn_dataset_open(sub("void", NULL), &o, &ds) == FTN_EFORMAT);
    /* masks/ empty, images/ not: the image is the one named */
    mk_images_masks("nomask");
    png(sub("nomask/images", "x.png"), 4, 3, 1, v_grad);
    check_refused(&ds, sub("nomask", NULL), NULL, FTN_EFORMAT, "x.png", "no mask");

    mk_images_masks("bin");
    png(sub("bin/images", "p.png"), 4, 3, 1, v_grad);
    png(sub("bin/masks", "p.png"), 4, 3, 1, v_bin);
    png(sub("bin/images", "q.png"), 4, 3, 1, v_grad);
    png(sub("bin/masks", "q.png"), 4, 3, 1, v_none);
    CHECK_OK(ftn_dataset_open(sub("bin", NULL), NULL, &ds));
    if (ds.count == 2) {
        ftn_image im, m;
        CHECK_OK(ftn_dataset_load(&ds, 0, &im, &m));
        int bad = 0, on = 0;
        for (int i = 0; m.data && i < 12; i++) {
            bad += m.data[i] != (float)v_bin(i % 4, i / 4);
            on += m.data[i] == 1.0f;
        }
        CHECK(m.data && bad == 0 && on == 6, "a 0/1 mask: %d wrong pixels, %d lesion (want 6)", bad, on);
        ftn_image_free(&im);
        ftn_image_free(&m);
        CHECK_OK(ftn_dataset_load(&ds, 1, &im, &m));
        on = 0;
        for (int i = 0; m.data && i < 12; i++) on += m.data[i] != 0.0f;
        CHECK(m.data && on == 0, "an all-zero mask stays empty (%d lesion pixels)", on);
        ftn_image_free(&im);
        ftn_image_free(&m);
        ftn_dataset_summary st;
        CHECK_OK(ftn_dataset_stats(&ds, &st));
        CHECK(fabs(st.lesion_max - 0.5) < 1e-12 && st.empty_masks == 1, "%g %d", st.lesion_max, st.empty_masks);
    }
    ftn_dataset_free(&ds);
}

static int all_near(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f) return 0;
    return 1;
}

static void test_resize(void)
{
    float o[32];
    const float r4[4] = {0, 1, 2, 3}, r3[3] = {0, 1, 2}, r2[2] = {0, 1};
    CHECK_OK(ftn_resize(r4, 1, 4, 1, o, 1, 2, FTN_RESIZE_NEAREST));
    CHECK(all_near(o, (float[]){0, 2}, 2));
    CHECK_OK(ftn_resize(r3, 1, 3, 1, o, 1, 2, FTN_RESIZE_NEAREST));
    CHECK(all_near(o, (float[]){0, 1}, 2)); /* floor(1·3/2) = 1 */
    CHECK_OK(ftn_resize(r2, 1, 2, 1, o, 1, 5, FTN_RESIZE_NEAREST));
    CHECK(all_near(o, (float[]){0, 0, 0, 1, 1}, 5)); /* floor(d·2/5) */
    CHECK_OK(ftn_resize(r4, 1, 4, 1, o, 1, 2, FTN_RESIZE_AREA));
    CHECK(all_near(o, (float[]){0.5f, 2.5f}, 2));
    CHECK_OK(ftn_resize(r3, 1, 3, 1, o, 1, 2, FTN_RESIZE_AREA));
    CHECK(all_near(o, (float[]){1.0f / 3, 5.0f / 3}, 2), "%g %g", o[0], o[1]);
    CHECK_OK(ftn_resize(r2, 1, 2, 1, o, 1, 4, FTN_RESIZE_AREA));
    CHECK(all_near(o, (float[]){0, 0, 1, 1}, 4));
    CHECK_OK(ftn_resize(r2, 1, 2, 1, o, 1, 4, FTN_RESIZE_BILINEAR));
    CHECK(all_near(o, (float[]){0, 0.25f, 0.75f, 1}, 4), "%g %g %g %g", o[0], o[1], o[2], o[3]);
    CHECK_OK(ftn_resize(r4, 1, 4, 1, o, 1, 2, FTN_RESIZE_BILINEAR));
    CHECK(all_near(o, (float[]){0.5f, 2.5f}, 2)); /* src x = 0.5 and 2.5 */
    /* 2-D, two channels: 2×2 → 4×4 bilinear, channel 1 = 10 × channel 0 */
    const float q[8] = {0, 0, 1, 10, 2, 20, 3, 30};
    CHECK_OK(ftn_resize(q, 2, 2, 2, o, 4, 4, FTN_RESIZE_BILINEAR));
    CHECK(fabsf(o[0] - 0) < 1e-6f && fabsf(o[(1 * 4 + 1) * 2] - 0.75f) < 1e-6f && fabsf(o[(3 * 4 + 3) * 2] - 3) < 1e-6f);
    CHECK(fabsf(o[(1 * 4 + 2) * 2 + 1] - 12.5f) < 1e-5f, "%g", o[(1 * 4 + 2) * 2 + 1]);
    /* 2-D area 4×4 → 2×2: block means */
    float s16[16];
    for (int i = 0; i < 16; i++) s16[i] = (float)i;
    CHECK_OK(ftn_resize(s16, 4, 4, 1, o, 2, 2, FTN_RESIZE_AREA));
    CHECK(all_near(o, (float[]){2.5f, 4.5f, 10.5f, 12.5f}, 4));
    /* constants stay constant */
    float c35[35], d6[6];
    for (int i = 0; i < 35; i++) c35[i] = 0.7f;
    for (int m = 0; m < 3; m++) {
        CHECK_OK(ftn_resize(c35, 7, 5, 1, d6, 3, 2, (ftn_resize_mode)m));
        CHECK(all_near(d6, (float[]){0.7f, 0.7f, 0.7f, 0.7f, 0.7f, 0.7f}, 6), "mode %d", m);
    }
    ftn_resize_mode mode;
    CHECK_OK(ftn_resize_parse("area", &mode));
    CHECK(mode == FTN_RESIZE_AREA && !strcmp(ftn_resize_name(FTN_RESIZE_BILINEAR), "bilinear"));
    CHECK(ftn_resize_parse("cubic", &mode) == FTN_EINVAL);
    CHECK(ftn_resize(r2, 1, 2, 1, o, 0, 4, FTN_RESIZE_AREA) == FTN_EINVAL);
}

static void test_npy(void)
{
    mk("npy");
    enum { N = 3, H = 2, W = 4, C = 3 };
    float img[N * H * W * C], msk[N * H * W];
    for (int i = 0; i < N * H * W * C; i++) img[i] = (float)(i % 256);
    for (int i = 0; i < N * H * W; i++) msk[i] = (i % 3 == 0) ? 255.0f : 0.0f;
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 4, (int64_t[]){N, H, W, C}, img));
    CHECK_OK(ftn_npy_write_f32(sub("npy", "masks.npy"), 3, (int64_t[]){N, H, W}, msk));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("npy", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_NPY && ds.count == N);
    if (ds.count == N) {
        CHECK(!strcmp(ds.samples[1].id, "00001") && ds.samples[1].width == W && ds.samples[1].channels == C);
        ftn_image im, m;
        CHECK_OK(ftn_dataset_load(&ds, 1, &im, &m));
        if (im.data && m.data) {
            CHECK(fabsf(im.data[5] - (float)(H * W * C + 5) / 255.0f) < 1e-6f, "%g", im.data[5]);
            CHECK(m.data[0] == ((H * W) % 3 == 0 ? 1.0f : 0.0f) && m.data[1] == ((H * W + 1) % 3 == 0 ? 1.0f : 0.0f));
        }
        ftn_image_free(&im);
        ftn_image_free(&m);
        float *x, *y;
        CHECK_OK(ftn_dataset_load_tensors(&ds, 1, 4, 8, FTN_RESIZE_NEAREST, &x, &y, NULL));
        free(x), free(y);
    }
    ftn_dataset_free(&ds);
    /* channels-first [0, 1] images, mismatched masks */
    for (int i = 0; i < N * H * W * C; i++) img[i] = 0.5f;
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 4, (int64_t[]){N, 1, H, W * C}, img));
    check_refused(&ds, sub("npy", NULL), NULL, FTN_EFORMAT, "masks.npy", NULL);
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 4, (int64_t[]){N, C, H, W}, img));
    CHECK_OK(ftn_dataset_open(sub("npy", NULL), NULL, &ds));
    CHECK(ds.count == N && ds.samples[0].channels == C && ds.npy_images && ds.npy_images[7] == 0.5f);
    ftn_dataset_free(&ds);
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 2, (int64_t[]){N, H}, img));
    check_refused(&ds, sub("npy", NULL), NULL, FTN_EFORMAT, "images.npy", NULL);
    /* a NaN pixel passed the [0, 1] clamp and reached training; an infinite mask value read as
     * lesion: both refused, naming the file and the sample */
    img[(size_t)2 * C * H * W + 5] = NAN;
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 4, (int64_t[]){N, C, H, W}, img));
    check_refused(&ds, sub("npy", NULL), NULL, FTN_EFORMAT, "images.npy: sample 2 holds a non-finite value", NULL);
    img[(size_t)2 * C * H * W + 5] = 0.5f;
    CHECK_OK(ftn_npy_write_f32(sub("npy", "images.npy"), 4, (int64_t[]){N, C, H, W}, img));
    msk[(size_t)1 * H * W + 3] = INFINITY;
    CHECK_OK(ftn_npy_write_f32(sub("npy", "masks.npy"), 3, (int64_t[]){N, H, W}, msk));
    check_refused(&ds, sub("npy", NULL), NULL, FTN_EFORMAT, "masks.npy: sample 1 holds a non-finite value", NULL);
}

/* ---- side-by-side (BUSI), nnU-Net, repeated CSV lines, unique ids, non-binary masks ---------- */

static int v_corner(int x, int y) { return x == 3 && y == 2 ? 255 : 0; }
/* the union of v_left, v_top and v_corner */
static int v_union3(int x, int y) { return v_left(x, y) || v_top(x, y) || v_corner(x, y); }
static int v_left01(int x, int y) { return v_left(x, y) ? 1 : 0; }

/* The number of pixels of sample i's mask (w×h) that differ from want(x, y) != 0; −1 when it
 * cannot be loaded. */
static int mask_diff(const ftn_dataset *ds, int i, int w, int h, int (*want)(int x, int y))
{
    ftn_image im, m;
    if (ftn_dataset_load(ds, i, &im, &m) != FTN_OK) return -1;
    int bad = m.width == w && m.height == h ? 0 : w * h;
    for (int y = 0; !bad && y < h; y++)
        for (int x = 0; x < w; x++) bad += m.data[y * w + x] != (want(x, y) ? 1.0f : 0.0f);
    ftn_image_free(&im);
    ftn_image_free(&m);
    return bad;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

static void test_side_by_side(void)
{
    /* BUSI as downloaded: class folders, names with spaces and parentheses, x_mask + x_mask_1 +
     * x_mask_2, a "normal" class of empty masks; plus a deeper class, a same-named image in two
     * classes, a file at the top, hidden files and folders, a link loop */
    const char *B = "busi/Dataset_BUSI_with_GT";
    char d[512];
    snprintf(d, sizeof d, "%s/benign", B), mk(d);
    snprintf(d, sizeof d, "%s/malignant/extra", B), mk(d);
    snprintf(d, sizeof d, "%s/normal", B), mk(d);
    snprintf(d, sizeof d, "%s/.cache", B), mk(d);
    char bn[512], ml[512], nm[512], top[512], ex[512];
    snprintf(bn, sizeof bn, "%s/benign", B);
    snprintf(ml, sizeof ml, "%s/malignant", B);
    snprintf(ex, sizeof ex, "%s/malignant/extra", B);
    snprintf(nm, sizeof nm, "%s/normal", B);
    snprintf(top, sizeof top, "%s", B);
    png(sub(bn, "benign (1).png"), 4, 3, 1, v_grad);
    png(sub(bn, "benign (1)_mask.png"), 4, 3, 1, v_left);
    png(sub(bn, "benign (1)_mask_1.png"), 4, 3, 1, v_top);
    png(sub(bn, "benign (1)_mask_2.png"), 4, 3, 1, v_corner);
    png(sub(bn, "benign (2).png"), 4, 3, 3, v_grad);
    png(sub(bn, "benign (2)_mask.png"), 4, 3, 1, v_left);
    png(sub(bn, "same.png"), 4, 3, 1, v_grad);
    png(sub(bn, "same_mask.png"), 4, 3, 1, v_left);
    png(sub(bn, "._benign (1).png"), 4, 3, 1, v_grad); /* macOS's shadow files: hidden */
    write_text(sub(bn, "notes.txt"), "not an image\n");
    png(sub(ml, "malignant (1).png"), 4, 3, 1, v_grad);
    png(sub(ml, "malignant (1)_mask.png"), 4, 3, 1, v_top);
    png(sub(ex, "m (1).png"), 4, 3, 1, v_grad);
    png(sub(ex, "m (1)_mask.png"), 4, 3, 1, v_left);
    png(sub(nm, "normal (1).png"), 4, 3, 1, v_grad);
    png(sub(nm, "normal (1)_mask.png"), 4, 3, 1, v_none);
    png(sub(nm, "normal (2).png"), 4, 3, 1, v_grad);
    png(sub(nm, "normal (2)_mask.png"), 4, 3, 1, v_none);
    png(sub(nm, "same.png"), 4, 3, 1, v_grad);
    png(sub(nm, "same_mask.png"), 4, 3, 1, v_left);
    png(sub(top, "top.png"), 4, 3, 1, v_grad);
    png(sub(top, "top_mask.png"), 4, 3, 1, v_left);
    snprintf(d, sizeof d, "%s/.cache", B);
    png(sub(d, "hidden.png"), 4, 3, 1, v_grad);
    png(sub(d, "hidden_mask.png"), 4, 3, 1, v_left);
    remove(sub(bn, "loop"));
    CHECK(symlink("..", sub(bn, "loop")) == 0, "symlink: a link back to the top"); /* a loop */

    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub(B, NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_SIDE_BY_SIDE && ds.count == 9 && ds.n_skipped == 0, "layout %d, %d samples, %d skipped",
          ds.layout, ds.count, ds.n_skipped);
    static const char *ids[9] = {"benign/benign (1)", "benign/benign (2)", "benign/same", "malignant/extra/m (1)",
                                 "malignant/malignant (1)", "normal/normal (1)", "normal/normal (2)", "normal/same", "top"};
    static const char *labels[9] = {"benign", "benign", "benign", "malignant/extra", "malignant", "normal", "normal", "normal", NULL};
    for (int i = 0; i < 9 && ds.count == 9; i++) {
        CHECK(!strcmp(ds.samples[i].id, ids[i]), "sample %d: id '%s', want '%s' (sorted, unique across classes)", i,
              ds.samples[i].id, ids[i]);
        CHECK(labels[i] ? ds.samples[i].label && !strcmp(ds.samples[i].label, labels[i]) : !ds.samples[i].label,
              "sample %d: label '%s', want '%s'", i, ds.samples[i].label ? ds.samples[i].label : "(none)",
              labels[i] ? labels[i] : "(none)");
    }
    if (ds.count == 9) {
        CHECK(ds.samples[0].n_masks == 3 && strstr(ds.samples[0].mask_paths[0], "benign (1)_mask.png") &&
                  strstr(ds.samples[0].mask_paths[2], "benign (1)_mask_2.png"),
              "benign (1): %d masks", ds.samples[0].n_masks);
        CHECK(mask_diff(&ds, 0, 4, 3, v_union3) == 0, "benign (1): the union of its 3 masks, pixel for pixel");
        CHECK(mask_diff(&ds, 5, 4, 3, v_none) == 0, "normal (1): an empty mask");
        CHECK(ds.samples[1].channels == 3 && ds.samples[1].n_masks == 1);
        ftn_dataset_summary st;
        CHECK_OK(ftn_dataset_stats(&ds, &st));
        CHECK(st.n_classes == 4 && st.more_classes == 0, "%d classes", st.n_classes);
        if (st.n_classes == 4) {
            CHECK(!strcmp(st.classes[0].label, "benign") && st.classes[0].count == 3 && st.classes[0].empty_masks == 0);
            CHECK(fabs(st.classes[0].lesion_mean - (0.75 + 0.5 + 0.5) / 3) < 1e-12, "benign lesion mean %g",
                  st.classes[0].lesion_mean);
            CHECK(!strcmp(st.classes[1].label, "malignant") && st.classes[1].count == 1);
            CHECK(!strcmp(st.classes[2].label, "malignant/extra") && st.classes[2].count == 1);
            CHECK(!strcmp(st.classes[3].label, "normal") && st.classes[3].count == 3 && st.classes[3].empty_masks == 2,
                  "normal: %d samples, %d empty", st.classes[3].count, st.classes[3].empty_masks);
            CHECK(fabs(st.classes[3].lesion_mean - 0.5 / 3) < 1e-12);
        }
        /* v_top's masks are 0/200: not binary (read as lesion above half the range all the same) */
        CHECK(st.empty_masks == 2 && st.nonbinary_masks == 2, "%d empty, %d non-binary", st.empty_masks, st.nonbinary_masks);
    }
    ftn_dataset_free(&ds);

    /* one flat folder: the "" suffix does not pair (an image is not its own mask), a lonely image
     * and a mask without an image follow skip_bad; a stem that ends in a suffix is an image when
     * another file names it */
    mk("flat");
    png(sub("flat", "a.png"), 4, 3, 1, v_grad);
    png(sub("flat", "a_mask.png"), 4, 3, 1, v_left);
    png(sub("flat", "scan_lesion.png"), 4, 3, 1, v_grad);
    png(sub("flat", "scan_lesion_segmentation.png"), 4, 3, 1, v_top);
    CHECK_OK(ftn_dataset_open(sub("flat", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_SIDE_BY_SIDE && ds.count == 2 && !ds.samples[0].label, "%d samples", ds.count);
    if (ds.count == 2) CHECK(!strcmp(ds.samples[1].id, "scan_lesion") && mask_diff(&ds, 1, 4, 3, v_top) == 0);
    ftn_dataset_free(&ds);
    png(sub("flat", "b.png"), 4, 3, 1, v_grad);
    check_refused(&ds, sub("flat", NULL), NULL, FTN_EFORMAT, "b.png", "no mask");
    ftn_dataset_options o = {.skip_bad = 1};
    CHECK_OK(ftn_dataset_open(sub("flat", NULL), &o, &ds));
    CHECK(ds.count == 2 && ds.n_skipped == 1 && strstr(ds.skipped[0], "b.png"));
    ftn_dataset_free(&ds);
    remove(sub("flat", "b.png"));
    png(sub("flat", "c_mask.png"), 4, 3, 1, v_left);
    check_refused(&ds, sub("flat", NULL), NULL, FTN_EFORMAT, "c_mask.png", "no matching image");
    remove(sub("flat", "c_mask.png"));
    /* a user suffix */
    png(sub("flat", "d.png"), 4, 3, 1, v_grad);
    png(sub("flat", "d_gt.png"), 4, 3, 1, v_left);
    ftn_dataset_options g = {.mask_suffix = "_gt"};
    CHECK_OK(ftn_dataset_open(sub("flat", NULL), &g, &ds));
    CHECK(ds.count == 3);
    ftn_dataset_free(&ds);

    /* at most 16 levels below the top: a pair 17 levels down is not seen */
    char deep[512] = "deep";
    mk(deep);
    png(sub(deep, "t.png"), 4, 3, 1, v_grad);
    png(sub(deep, "t_mask.png"), 4, 3, 1, v_left);
    for (int level = 1; level <= 17; level++) {
        size_t len = strlen(deep);
        snprintf(deep + len, sizeof deep - len, "/l%d", level);
        mk(deep);
        if (level >= 16) {
            png(sub(deep, "t.png"), 4, 3, 1, v_grad);
            png(sub(deep, "t_mask.png"), 4, 3, 1, v_left);
        }
    }
    CHECK_OK(ftn_dataset_open(sub("deep", NULL), NULL, &ds));
    CHECK(ds.count == 2, "%d samples (the top's and the one 16 levels down)", ds.count);
    if (ds.count == 2) CHECK(!strcmp(ds.samples[1].id, "t") && strstr(ds.samples[0].label, "/l16") && !strstr(ds.samples[0].label, "l17"));
    ftn_dataset_free(&ds);

    /* more classes than the summary lists: the first FTN_DATASET_MAX_CLASSES, and a count */
    for (int c = 0; c < FTN_DATASET_MAX_CLASSES + 2; c++) {
        char cls[64];
        snprintf(cls, sizeof cls, "many/c%03d", c);
        mk(cls);
        png(sub(cls, "i.png"), 4, 3, 1, v_grad);
        png(sub(cls, "i_mask.png"), 4, 3, 1, c % 2 ? v_left : v_none);
    }
    CHECK_OK(ftn_dataset_open(sub("many", NULL), NULL, &ds));
    ftn_dataset_summary ms;
    CHECK_OK(ftn_dataset_stats(&ds, &ms));
    CHECK(ds.count == FTN_DATASET_MAX_CLASSES + 2 && ms.n_classes == FTN_DATASET_MAX_CLASSES && ms.more_classes == 2,
          "%d samples, %d classes listed, %d more", ds.count, ms.n_classes, ms.more_classes);
    CHECK(!strcmp(ms.classes[1].label, "c001") && ms.classes[1].count == 1 && ms.classes[0].empty_masks == 1 &&
          ms.classes[1].empty_masks == 0 && fabs(ms.classes[1].lesion_mean - 0.5) < 1e-12);
    ftn_dataset_free(&ds);

    /* images only, no mask by suffix: not this layout; the message lists every layout */
    mk("only-images");
    png(sub("only-images", "p.png"), 4, 3, 1, v_grad);
    png(sub("only-images", "q.png"), 4, 3, 1, v_grad);
    check_refused(&ds, sub("only-images", NULL), NULL, FTN_EFORMAT, "nnU-Net", "beside their masks");
}

static int v_labels012(int x, int y) { (void)y; return x == 0 ? 1 : x == 1 ? 2 : 0; }
static int v_nonzero012(int x, int y) { return v_labels012(x, y) != 0; }
static int v_one2(int x, int y) { return x == 3 && y == 0 ? 2 : 0; }

static void test_nnunet(void)
{
    mk("nnunet/imagesTr");
    mk("nnunet/labelsTr");
    mk("nnunet/imagesTs");
    const char *json_v2 = "{\"channel_names\": {\"0\": \"US\"}, \"labels\": {\"background\": 0, \"lesion\": 1, "
                          "\"cyst\": 2}, \"numTraining\": 2, \"file_ending\": \".png\"}";
    write_text(sub("nnunet", "dataset.json"), json_v2);
    png(sub("nnunet/imagesTr", "case_001_0000.png"), 4, 3, 1, v_grad);
    png(sub("nnunet/imagesTr", "case_002_0000.png"), 4, 3, 3, v_grad);
    png(sub("nnunet/labelsTr", "case_001.png"), 4, 3, 1, v_labels012);
    png(sub("nnunet/labelsTr", "case_002.png"), 4, 3, 1, v_one2);
    png(sub("nnunet/imagesTs", "case_009_0000.png"), 4, 3, 1, v_grad);
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("nnunet", NULL), NULL, &ds));
    CHECK(ds.layout == FTN_LAYOUT_NNUNET && ds.count == 2 && ds.mask_nonzero, "layout %d, %d samples", ds.layout, ds.count);
    if (ds.count == 2) {
        CHECK(!strcmp(ds.samples[0].id, "case_001") && !strcmp(ds.samples[1].id, "case_002"));
        CHECK(ds.samples[1].channels == 3, "an RGB case_0000.png is colour");
        CHECK(mask_diff(&ds, 0, 4, 3, v_nonzero012) == 0, "labels 1 and 2 are lesion (their union)");
        CHECK(mask_diff(&ds, 1, 4, 3, v_one2) == 0, "a mask of label 2 alone is not empty");
    }
    CHECK(ds.n_notes == 1 && strstr(ds.notes[0], "2 foreground labels") && strstr(ds.notes[0], "lesion (1), cyst (2)"),
          "%s", ds.n_notes ? ds.notes[0] : "no note");
    ftn_dataset_free(&ds);

    /* a multi-channel case is refused naming it (skip_bad: dropped) */
    png(sub("nnunet/imagesTr", "case_003_0000.png"), 4, 3, 1, v_grad);
    png(sub("nnunet/imagesTr", "case_003_0001.png"), 4, 3, 1, v_grad);
    png(sub("nnunet/labelsTr", "case_003.png"), 4, 3, 1, v_labels012);
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "case case_003", "multi-channel");
    ftn_dataset_options o = {.skip_bad = 1};
    CHECK_OK(ftn_dataset_open(sub("nnunet", NULL), &o, &ds));
    CHECK(ds.count == 2 && ds.n_skipped == 1 && strstr(ds.skipped[0], "case_003"));
    /* numTraining says 2: the folder holds 3 cases */
    CHECK(ds.n_notes == 2 && strstr(ds.notes[1], "numTraining is 2 but imagesTr holds 3 cases"), "%s",
          ds.n_notes > 1 ? ds.notes[1] : "no second note");
    ftn_dataset_free(&ds);
    remove(sub("nnunet/imagesTr", "case_003_0001.png"));
    remove(sub("nnunet/imagesTr", "case_003_0000.png"));
    /* a label without a case */
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "case_003.png", "label has no image");
    remove(sub("nnunet/labelsTr", "case_003.png"));

    /* v1's labels, one foreground label: no note */
    write_text(sub("nnunet", "dataset.json"),
               "{\"labels\": {\"0\": \"background\", \"1\": \"lesion\"}, \"file_ending\": \".png\"}");
    CHECK_OK(ftn_dataset_open(sub("nnunet", NULL), NULL, &ds));
    CHECK(ds.count == 2 && ds.n_notes == 0);
    ftn_dataset_free(&ds);
    /* refused: another file format, no background, no lesion label, not JSON */
    write_text(sub("nnunet", "dataset.json"), "{\"labels\": {\"background\": 0, \"lesion\": 1}, \"file_ending\": \".nii.gz\"}");
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "dataset.json", "\".nii.gz\": only \".png\"");
    write_text(sub("nnunet", "dataset.json"), "{\"labels\": {\"lesion\": 1}, \"file_ending\": \".png\"}");
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "dataset.json", "no background 0");
    write_text(sub("nnunet", "dataset.json"), "{\"labels\": {\"background\": 0}, \"file_ending\": \".png\"}");
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "dataset.json", "no label above 0");
    write_text(sub("nnunet", "dataset.json"), "{\"labels\": ");
    check_refused(&ds, sub("nnunet", NULL), NULL, FTN_EFORMAT, "dataset.json", "not a JSON object");
    write_text(sub("nnunet", "dataset.json"), json_v2);
}

static void test_csv_repeated(void)
{
    mk("csvrep/imgs");
    png(sub("csvrep/imgs", "x.png"), 4, 3, 1, v_grad);
    png(sub("csvrep/imgs", "x_mask.png"), 4, 3, 1, v_left);
    png(sub("csvrep/imgs", "x_mask_1.png"), 4, 3, 1, v_top);
    png(sub("csvrep/imgs", "x_mask_2.png"), 4, 3, 1, v_corner);
    png(sub("csvrep/imgs", "y.png"), 4, 3, 1, v_grad);
    png(sub("csvrep/imgs", "y_mask.png"), 4, 3, 1, v_top);
    /* one line per mask, as a user writes it for BUSI; spelled three ways, one line twice */
    write_text(sub("csvrep", "list.csv"), "image,mask\nimgs/x.png,imgs/x_mask.png\n./imgs/x.png,imgs/x_mask_1.png\n"
                                          "imgs/y.png,imgs/y_mask.png\nimgs//x.png,imgs/x_mask_2.png\n"
                                          "imgs/x.png,imgs/x_mask.png\n");
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("csvrep", "list.csv"), NULL, &ds));
    CHECK(ds.count == 2, "%d samples: one per image", ds.count);
    if (ds.count == 2) {
        CHECK(!strcmp(ds.samples[0].id, "x") && !strcmp(ds.samples[1].id, "y"), "first lines' order");
        CHECK(ds.samples[0].n_masks == 3, "x: %d masks (the repeated line adds none)", ds.samples[0].n_masks);
        CHECK(mask_diff(&ds, 0, 4, 3, v_union3) == 0, "x: the union of its lines' masks");
        CHECK(mask_diff(&ds, 1, 4, 3, v_top) == 0);
    }
    CHECK(ds.n_notes == 1 && strstr(ds.notes[0], "list.csv: 1 image listed on several lines") &&
              strstr(ds.notes[0], "imgs/x.png (4 lines)"),
          "%s", ds.n_notes ? ds.notes[0] : "no note");
    ftn_dataset_free(&ds);
    /* extra mask columns merged; no note */
    write_text(sub("csvrep", "cols.csv"), "imgs/x.png,imgs/x_mask.png,imgs/x_mask_1.png,imgs/x_mask_2.png\n");
    CHECK_OK(ftn_dataset_open(sub("csvrep", "cols.csv"), NULL, &ds));
    CHECK(ds.count == 1 && ds.n_notes == 0 && mask_diff(&ds, 0, 4, 3, v_union3) == 0);
    ftn_dataset_free(&ds);

    /* two images of one stem in different folders: ids from their paths, a note */
    mk("csvrep/benign");
    mk("csvrep/malignant");
    png(sub("csvrep/benign", "p.png"), 4, 3, 1, v_grad);
    png(sub("csvrep/benign", "p_m.png"), 4, 3, 1, v_left);
    png(sub("csvrep/malignant", "p.png"), 4, 3, 1, v_grad);
    png(sub("csvrep/malignant", "p_m.png"), 4, 3, 1, v_top);
    write_text(sub("csvrep", "stems.csv"), "benign/p.png,benign/p_m.png\n./malignant/p.png,malignant/p_m.png\nimgs/y.png,imgs/y_mask.png\n");
    CHECK_OK(ftn_dataset_open(sub("csvrep", "stems.csv"), NULL, &ds));
    CHECK(ds.count == 3, "%d samples", ds.count);
    if (ds.count == 3)
        CHECK(!strcmp(ds.samples[0].id, "benign/p") && !strcmp(ds.samples[1].id, "malignant/p") && !strcmp(ds.samples[2].id, "y"),
              "ids %s %s %s", ds.samples[0].id, ds.samples[1].id, ds.samples[2].id);
    CHECK(ds.n_notes == 1 && strstr(ds.notes[0], "share a stem") && strstr(ds.notes[0], "malignant/p"), "%s",
          ds.n_notes ? ds.notes[0] : "no note");
    ftn_dataset_free(&ds);
    /* ids that stay equal (p.png and p.jpg in one folder) are refused, naming both images */
    write_text(sub("csvrep", "clash.csv"), "benign/p.png,benign/p_m.png\nbenign/p.jpg,benign/p_m.png\n");
    check_refused(&ds, sub("csvrep", "clash.csv"), NULL, FTN_EFORMAT, "benign/p.png and ", "benign/p.jpg: both have the sample id 'benign/p'");
}

static int v_half(int x, int y) { (void)y; return x < 2 ? 128 : 0; }
static int v_aa(int x, int y) { (void)y; return x == 0 ? 255 : x == 1 ? 100 : 0; }
static int v_col0(int x, int y) { (void)y; return x == 0; }

static void test_nonbinary(void)
{
    mk_images_masks("nonbin");
    static const char *names[5] = {"a_bin.png", "b_half.png", "c_lab.png", "d_grey.png", "e_one.png"};
    int (*masks[5])(int, int) = {v_left, v_half, v_labels012, v_aa, v_left01};
    for (int i = 0; i < 5; i++) {
        png(sub("nonbin/images", names[i]), 4, 3, 1, v_grad);
        png(sub("nonbin/masks", names[i]), 4, 3, 1, masks[i]);
    }
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(sub("nonbin", NULL), NULL, &ds));
    ftn_dataset_summary st;
    CHECK_OK(ftn_dataset_stats(&ds, &st));
    CHECK(st.nonbinary_masks == 3, "%d non-binary masks (want 3: 0/128, 0/1/2, 0/100/255)", st.nonbinary_masks);
    CHECK(strstr(st.nonbinary_examples, "b_half.png: values 0, 128; ") &&
              strstr(st.nonbinary_examples, "c_lab.png: values 0, 1, 2; ") &&
              strstr(st.nonbinary_examples, "d_grey.png: values 0, 100, 255"),
          "examples: %s", st.nonbinary_examples);
    CHECK(!strstr(st.nonbinary_examples, "a_bin") && !strstr(st.nonbinary_examples, "e_one"));
    CHECK(st.n_classes == 0, "no labels, no classes");
    /* the lesion rule is unchanged: above half the range (128 of 255 is lesion, 100 is not) */
    if (ds.count == 5) {
        CHECK(mask_diff(&ds, 1, 4, 3, v_half) == 0);
        CHECK(mask_diff(&ds, 3, 4, 3, v_col0) == 0, "0/100/255: only the 255 column");
    }
    ftn_dataset_free(&ds);
}

int main(void)
{
    snprintf(root, sizeof root, "%s", tl_tmpdir("dataset"));
    test_images_masks();
    test_bus_isic_union_suffix();
    test_csv();
    test_bad();
    test_empty_and_binary();
    test_resize();
    test_npy();
    test_side_by_side();
    test_nnunet();
    test_csv_repeated();
    test_nonbinary();
    return tl_finish();
}
