/* ftunet augment: write augmented samples of a data set as training would see them. */
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "output", 'o', "DIR", "folder for DIR/images, DIR/masks, DIR/overlays and DIR/augment.json", NULL },
    { "count", 'n', "K", "number of augmented pairs; pair i shows sample i mod N, epoch E + i / N", NULL },
    { "augment", 'a', "none|light|strong", "preset (default strong)", NULL },
    { "augment-set", 0, "KEY=VALUE[,...]", "override preset fields, e.g. rotate=45,p_rotate=1 (keys: ftunet_protocol.h)", NULL },
    { "size", 's', "HxW", "network input size, multiples of 16 (default 128x128)", NULL },
    { "channels", 'c', "C", "1 (greyscale) or 3 (RGB) (default 1)", NULL },
    { "resize", 0, "MODE", "image resampling: nearest | area | bilinear (default nearest, as train)", NULL },
    { "seed", 0, "S", "augmentation seed (default 1)", NULL },
    { "epoch", 0, "E", "epoch of the first pass over the samples (default 1)", NULL },
    { "mask-suffix", 0, "S", "extra mask-name suffix tried first (e.g. _gt)", NULL },
    { "skip-bad", 0, NULL, "drop unreadable or unpaired samples instead of failing", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};

static uint8_t to_byte(float v)
{
    float x = v < 0 ? 0 : v > 1 ? 1 : v;
    return (uint8_t)lrintf(x * 255.0f);
}

/* Writes pair k: the planar image (C×H×W) as DIR/images/NNNN.png, the mask as DIR/masks/NNNN.png
 * (0/255) and the image with the mask's outline as DIR/overlays/NNNN.png. */
static int write_pair(const char *dir, int k, const float *img, const float *mask, int ch, int h, int w, float *inter,
                      uint8_t *bytes)
{
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < ch; c++) inter[p * ch + c] = img[c * plane + p];
    char path[4096];
    for (size_t i = 0; i < plane * ch; i++) bytes[i] = to_byte(inter[i]);
    snprintf(path, sizeof path, "%s/images/%04d.png", dir, k);
    if (ftn_image_write_png(path, w, h, ch, bytes)) return cli_lib_error("augment");
    for (size_t p = 0; p < plane; p++) bytes[p] = mask[p] > 0.5f ? 255 : 0;
    snprintf(path, sizeof path, "%s/masks/%04d.png", dir, k);
    if (ftn_image_write_png(path, w, h, 1, bytes)) return cli_lib_error("augment");
    ftn_image view = { .width = w, .height = h, .channels = ch, .data = inter };
    ftn_overlay_rgb(&view, NULL, 0.5f, mask, bytes);
    snprintf(path, sizeof path, "%s/overlays/%04d.png", dir, k);
    if (ftn_image_write_png(path, w, h, 3, bytes)) return cli_lib_error("augment");
    return 0;
}

static int make_dirs(const char *dir)
{
    static const char *const sub[] = { "images", "masks", "overlays" };
    char path[4096];
    for (int i = 0; i < 3; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, sub[i]) >= (int)sizeof path)
            return cli_error("augment", "%s: path too long", dir);
        if (ftn_mkdirs(path)) return cli_lib_error("augment");
    }
    return 0;
}

static int write_config(const char *dir, const ftn_augment_config *cfg)
{
    char path[4096], *json;
    snprintf(path, sizeof path, "%s/augment.json", dir);
    if (ftn_augment_to_json(cfg, &json)) return cli_lib_error("augment");
    const void *chunks[2] = { json, "\n" };
    size_t sizes[2] = { strlen(json), 1 };
    int rc = ftn_write_file_atomic(path, chunks, sizes, 2) ? cli_lib_error("augment") : 0;
    free(json);
    return rc;
}

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("augment", "expected one DATA argument (see ftunet augment --help)");
    const char *dir = cli_get(cmd, "output"), *preset = cli_get(cmd, "augment");
    if (!dir) return cli_error("augment", "missing -o DIR");
    if (!cli_get(cmd, "count")) return cli_error("augment", "missing -n K");
    int count = 0, h = 128, w = 128, channels = 1, epoch = 1, threads = 0;
    uint64_t seed = 1;
    if (cli_int(cmd, "count", 1, 100000, &count) || cli_size(cmd, "size", &h, &w) ||
        cli_int(cmd, "channels", 1, 3, &channels) || cli_u64(cmd, "seed", &seed) ||
        cli_int(cmd, "epoch", 1, 1000000, &epoch) || cli_int(cmd, "threads", 1, 1024, &threads))
        return 1;
    if (channels == 2) return cli_error("augment", "--channels 2: expected 1 or 3");
    ftn_resize_mode mode = FTN_RESIZE_NEAREST;
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &mode)) return cli_lib_error("augment");
    ftn_augment_config cfg;
    if (ftn_augment_preset(preset ? preset : "strong", &cfg))
        return cli_error("augment", "--augment %s: expected none, light or strong", preset);
    const char *set = cli_get(cmd, "augment-set");
    if (set && ftn_augment_set_list(&cfg, set)) return cli_error("augment", "--augment-set: %s", ftn_last_error());
    ftn_set_threads(threads);

    ftn_dataset_options o = { .mask_suffix = cli_get(cmd, "mask-suffix"), .skip_bad = cli_get(cmd, "skip-bad") != NULL };
    o.verify = o.skip_bad;
    ftn_dataset ds;
    if (ftn_dataset_open(argv[0], &o, &ds)) return cli_lib_error("augment");
    int rc = 0, n = count < ds.count ? count : ds.count;
    float *images = NULL, *masks = NULL, *img = NULL, *scratch = NULL, *inter = NULL;
    uint8_t *bytes = NULL;
    size_t plane = (size_t)h * w, per = plane * (size_t)channels;
    if (ds.count == 0) { rc = cli_error("augment", "%s: no usable samples", argv[0]); goto done; }
    if (ftn_dataset_load_subset(&ds, NULL, n, channels, h, w, mode, &images, &masks, NULL)) {
        rc = cli_lib_error("augment");
        goto done;
    }
    img = malloc(sizeof(float) * (per + plane));
    scratch = malloc(sizeof(float) * ftn_augment_scratch_floats(channels, h, w));
    inter = malloc(sizeof(float) * per);
    bytes = malloc(3 * plane > per ? 3 * plane : per);
    if (!img || !scratch || !inter || !bytes) { rc = cli_error("augment", "out of memory"); goto done; }
    if ((rc = make_dirs(dir)) || (rc = write_config(dir, &cfg))) goto done;
    for (int k = 0; k < count; k++) {
        int s = k % n;
        float *mask = img + per;
        memcpy(img, images + (size_t)s * per, sizeof(float) * per);
        memcpy(mask, masks + (size_t)s * plane, sizeof(float) * plane);
        if (ftn_augment_sample(&cfg, seed, epoch + k / n, s, img, channels, h, w, mask, scratch)) {
            rc = cli_lib_error("augment");
            goto done;
        }
        if ((rc = write_pair(dir, k, img, mask, channels, h, w, inter, bytes))) goto done;
    }
    printf("%s: %d augmented pairs of %d samples of %s, %dx%dx%d, preset %s, seed %llu\n", dir, count, n, ds.path, h, w,
           channels, preset ? preset : "strong", (unsigned long long)seed);
done:
    free(images), free(masks), free(img), free(scratch), free(inter), free(bytes);
    ftn_dataset_free(&ds);
    return rc;
}

cli_command cmd_augment = {
    "augment", "DATA -o DIR -n K [--augment none|light|strong] [--augment-set KEY=VALUE,...] [--size HxW] [--channels C] [--seed S]",
    "Write augmented image/mask pairs of a data set, as training sees them.",
    "Write K augmented image/mask pairs of a data set at network size, as training sees them.\n"
    "DIR/images/NNNN.png, DIR/masks/NNNN.png (0/255), DIR/overlays/NNNN.png (the image with\n"
    "the mask's outline) and DIR/augment.json (every augmentation field). KEY: a field of\n"
    "ftn_augment_config (p_flip_x, p_rotate, rotate, scale_min, elastic_alpha, border, ...);\n"
    "an unknown key lists them all.",
    "ftunet augment data/bus_b -o aug -n 16\n"
    "ftunet augment data/bus_b -o aug-rot -n 8 --augment light --augment-set rotate=45,p_rotate=1",
    options, run,
};
