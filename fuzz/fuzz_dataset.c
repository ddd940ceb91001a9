/* libFuzzer target: the data set opener (src/data/dataset*.c: folder, CSV and .npy layouts) through
 * ftn_dataset_open, then loading every sample. The input's first byte picks the mode and options
 * (bits 0-1: mode; bit 2: skip_bad; bit 3: verify); the rest is, by mode:
 *   0  a CSV list, written to csv/list.csv beside small valid images it can name: a.png, a_mask.png
 *      (0/255), b.bmp, b_mask.png, c.png (another size), z.png (a 0/1 mask), e.txt (not an image);
 *   1  a folder layout, one line per file: "i<k><name>" creates <images>/<name>, "m<k><name>"
 *      <masks>/<name>, with content k (0-4: the files above, others empty); "s<suffix>" sets
 *      mask_suffix; "l<k>" picks the layout (0 images/masks, 1 original/gt, 2 X_Input/X_GroundTruth,
 *      3 side by side: images and masks in one tree, a name may hold one "class/" folder,
 *      4 nnU-Net's imagesTr/labelsTr); "j<text>" writes <root>/dataset.json;
 *   2  images.npy and masks.npy, split at the first "NPYSPLIT" (no split: the same bytes twice).
 * Pixel limit 256 × 256 per image. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "fuzz_common.h"
#include "io/image.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_BLOBS 5
static uint8_t *blob[N_BLOBS];
static size_t blob_len[N_BLOBS];
static const char *blob_name[N_BLOBS] = {"a.png", "a_mask.png", "b.bmp", "c.png", "z.png"};

static void slurp(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    *buf = malloc(1 << 16);
    if (!*buf) abort();
    *len = fread(*buf, 1, 1 << 16, f);
    fclose(f);
}

/* An 8×6 24-bit bottom-up BMP. */
static void write_bmp(const char *path)
{
    uint8_t b[54 + 6 * 24] = {'B', 'M'};
    uint32_t size = sizeof b, off = 54, hsz = 40, w = 8, h = 6;
    memcpy(b + 2, &size, 4);
    memcpy(b + 10, &off, 4);
    memcpy(b + 14, &hsz, 4);
    memcpy(b + 18, &w, 4);
    memcpy(b + 22, &h, 4);
    b[26] = 1;
    b[28] = 24;
    for (int i = 0; i < 6 * 24; i++) b[54 + i] = (uint8_t)(i * 7);
    fuzz_write(path, b, sizeof b, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mkdir(fuzz_path("csv"), 0755);
    uint8_t px[9 * 6];
    for (int i = 0; i < 9 * 6; i++) px[i] = (uint8_t)(i * 5);
    if (ftn_image_write_png(fuzz_path("csv/a.png"), 8, 6, 1, px)) abort();
    if (ftn_image_write_png(fuzz_path("csv/c.png"), 9, 6, 1, px)) abort();
    for (int i = 0; i < 8 * 6; i++) px[i] = i % 8 < 3 ? 255 : 0;
    if (ftn_image_write_png(fuzz_path("csv/a_mask.png"), 8, 6, 1, px)) abort();
    if (ftn_image_write_png(fuzz_path("csv/b_mask.png"), 8, 6, 1, px)) abort();
    for (int i = 0; i < 8 * 6; i++) px[i] = i % 8 < 3;
    if (ftn_image_write_png(fuzz_path("csv/z.png"), 8, 6, 1, px)) abort();
    write_bmp(fuzz_path("csv/b.bmp"));
    fuzz_write(fuzz_path("csv/e.txt"), (const uint8_t *)"text\n", 5, 0);
    for (int k = 0; k < N_BLOBS; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "csv/%s", blob_name[k]);
        slurp(fuzz_path(rel), &blob[k], &blob_len[k]);
    }
    return 0;
}

/* Everything a successfully opened data set promises. */
static void use(const ftn_dataset *ds)
{
    if (ds->count <= 0 || !ds->samples) abort();
    int n = ds->count < 16 ? ds->count : 16;
    for (int i = 0; i < n; i++) {
        const ftn_sample *s = &ds->samples[i];
        if (!s->id || !s->image_path || s->n_masks < 1 || s->width <= 0 || s->height <= 0) abort();
        ftn_image im, m;
        if (ftn_dataset_load(ds, i, &im, &m) != FTN_OK) continue; /* headers only were checked */
        if (im.width != s->width || im.height != s->height || m.width != im.width || m.height != im.height ||
            m.channels != 1)
            abort();
        for (size_t p = 0; p < (size_t)m.width * (size_t)m.height; p++)
            if (m.data[p] != 0.0f && m.data[p] != 1.0f) abort();
        ftn_image_free(&im);
        ftn_image_free(&m);
    }
    if (ds->count <= 16) {
        ftn_dataset_summary st;
        if (ftn_dataset_stats(ds, &st) == FTN_OK && (st.count != ds->count || st.lesion_min < 0 || st.lesion_max > 1))
            abort();
        float *x = NULL, *y = NULL;
        int *hw = NULL;
        if (ftn_dataset_load_tensors(ds, 1, 16, 16, FTN_RESIZE_AREA, &x, &y, &hw) == FTN_OK && (!x || !y || !hw))
            abort();
        free(x), free(y), free(hw);
    }
}

static void open_and_use(const char *path, const ftn_dataset_options *o)
{
    ftn_dataset ds;
    if (ftn_dataset_open(path, o, &ds) == FTN_OK) {
        use(&ds);
        ftn_dataset_free(&ds);
    } else if (ds.samples || ds.count || ds.path) {
        abort(); /* a refusal leaves the data set empty */
    }
}

/* Mode 1: one line per file. */
static void folders(const uint8_t *p, size_t n, ftn_dataset_options *o)
{
    static const char *layouts[5][2] = {{"images", "masks"}, {"original", "gt"},
                                        {"ISIC_Training_Input", "ISIC_Training_GroundTruth"}, {".", "."},
                                        {"imagesTr", "labelsTr"}};
    const char *root = fuzz_path("ds");
    fuzz_rm_tree(root);
    mkdir(root, 0755);
    char suffix[64] = "";
    int layout = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n') j++;
        const char *line = (const char *)p + i;
        size_t len = j - i;
        i = j + 1;
        if (len >= 2 && line[0] == 'l') layout = (unsigned char)line[1] % 5;
        if (len >= 1 && line[0] == 'j') {
            char js[8192];
            snprintf(js, sizeof js, "%s/dataset.json", root);
            struct stat sj;
            if (stat(js, &sj) != 0 || !S_ISDIR(sj.st_mode)) fuzz_write(js, (const uint8_t *)line + 1, len - 1, 0);
        }
        if (len >= 1 && line[0] == 's') snprintf(suffix, sizeof suffix, "%.*s", (int)(len - 1), line + 1);
        if (len < 3 || (line[0] != 'i' && line[0] != 'm')) continue;
        char name[256];
        size_t nl = len - 2 < 200 ? len - 2 : 200;
        memcpy(name, line + 2, nl);
        name[nl] = 0;
        /* one "class/" folder in the side-by-side layout, none elsewhere; no "." or ".." parts */
        char *slash = strchr(name, '/');
        if (strlen(name) != nl || !strcmp(name, ".") || !strcmp(name, "..")) continue;
        if (slash && (layout != 3 || strchr(slash + 1, '/') || slash == name || !slash[1] || name[0] == '.' ||
                      !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")))
            continue;
        char d[8192];
        snprintf(d, sizeof d, "%s/%s", root, layouts[layout][line[0] == 'm']);
        mkdir(d, 0755); /* (already there: fine) */
        if (slash) {
            snprintf(d, sizeof d, "%s/%s/%.*s", root, layouts[layout][line[0] == 'm'], (int)(slash - name), name);
            mkdir(d, 0755);
        }
        /* a name the tree already holds as a folder (or a folder name already a file): not written */
        struct stat sd;
        if (stat(d, &sd) != 0 || !S_ISDIR(sd.st_mode)) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s/%s", root, layouts[layout][line[0] == 'm'], name);
        if (stat(path, &sd) == 0 && S_ISDIR(sd.st_mode)) continue;
        int k = line[1] - '0';
        if (k >= 0 && k < N_BLOBS) fuzz_write(path, blob[k], blob_len[k], 0);
        else fuzz_write(path, NULL, 0, 0);
    }
    o->mask_suffix = suffix[0] ? suffix : NULL;
    open_and_use(root, o);
    fuzz_rm_tree(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    ftn_dataset_options o = {.skip_bad = (data[0] >> 2) & 1, .verify = (data[0] >> 3) & 1, .max_pixels = 256 * 256};
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0:
    case 3: {
        const char *csv = fuzz_path("csv/list.csv");
        fuzz_write(csv, p, n, 0);
        open_and_use(csv, &o);
        break;
    }
    case 1: folders(p, n, &o); break;
    case 2: {
        const char *root = fuzz_path("npy");
        mkdir(root, 0755);
        size_t cut = n, rest = 0;
        for (size_t i = 0; i + 8 <= n; i++)
            if (!memcmp(p + i, "NPYSPLIT", 8)) {
                cut = i;
                rest = i + 8;
                break;
            }
        fuzz_write(fuzz_path("npy/images.npy"), p, cut, 0);
        if (rest) fuzz_write(fuzz_path("npy/masks.npy"), p + rest, n - rest, 0);
        else fuzz_write(fuzz_path("npy/masks.npy"), p, n, 0);
        open_and_use(root, &o);
        break;
    }
    }
    return 0;
}
