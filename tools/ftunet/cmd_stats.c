/* ftunet stats: describe a data set. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "mask-suffix", 0, "SUFFIX", "an extra mask-name suffix tried first (e.g. _gt)", NULL },
    { "skip-bad", 0, NULL, "drop unreadable or unpaired samples (every file is decoded) and list them", NULL },
    { "max-pixels", 0, "N", "largest width x height accepted per image (default 100000000)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};


static int open_dataset(cli_command *cmd, const char *path, ftn_dataset *ds)
{
    ftn_dataset_options o = { cli_get(cmd, "mask-suffix"), cli_get(cmd, "skip-bad") != NULL, 0, 0 };
    o.verify = o.skip_bad;
    int maxp = 0;
    if (cli_int(cmd, "max-pixels", 1, 2000000000, &maxp)) return 1;
    o.max_pixels = (size_t)maxp;
    if (ftn_dataset_open(path, &o, ds)) return cli_lib_error("stats");
    return 0;
}

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("stats", "expected one DATA argument (see ftunet stats --help)");
    int threads = 0;
    if (cli_int(cmd, "threads", 1, 1024, &threads)) return 1;
    ftn_set_threads(threads);
    ftn_dataset ds;
    if (open_dataset(cmd, argv[0], &ds)) return 1;
    int rc = 0;
    ftn_dataset_summary s;
    if (ds.count == 0) {
        rc = cli_error("stats", "%s: no usable samples", argv[0]);
    } else if (ftn_dataset_stats(&ds, &s)) {
        rc = cli_lib_error("stats");
    } else {
        printf("data:        %s\n", ds.path);
        printf("layout:      %s\n", ftn_dataset_layout_name(ds.layout));
        printf("samples:     %d (%d greyscale, %d colour)\n", s.count, s.grey_images, s.colour_images);
        printf("width:       %d .. %d\n", s.min_width, s.max_width);
        printf("height:      %d .. %d\n", s.min_height, s.max_height);
        printf("lesion area: %.4f ± %.4f of the image (min %.4f, max %.4f; population std)\n", s.lesion_mean,
               s.lesion_std, s.lesion_min, s.lesion_max);
        printf("empty masks: %d\n", s.empty_masks);
        printf("full masks:  %d (all lesion)\n", s.full_masks);
        /* on stderr: a data set that cannot be trained on, or masks that look inverted */
        if (s.empty_masks == s.count)
            fprintf(stderr, "ftunet: stats: warning: every mask is empty (a mask pixel is lesion above half its "
                            "format's range, or at 1 in a 0/1 mask)\n");
        else if (s.empty_masks)
            fprintf(stderr, "ftunet: stats: warning: %d of %d masks are empty\n", s.empty_masks, s.count);
        if (s.full_masks)
            fprintf(stderr, "ftunet: stats: warning: %d of %d masks are all lesion (inverted masks?)\n", s.full_masks,
                    s.count);
        if (s.nonbinary_masks)
            fprintf(stderr, "ftunet: stats: warning: non-binary masks: %d, e.g. %s (read as lesion %s)\n",
                    s.nonbinary_masks, s.nonbinary_examples,
                    ds.mask_nonzero ? "wherever non-zero: labels > 0 merged" : "above half the range");
        if (s.n_classes) {
            printf("classes:     %d%s\n", s.n_classes + s.more_classes, s.more_classes ? " (the first listed)" : "");
            int wl = 5;
            for (int c = 0; c < s.n_classes; c++)
                if ((int)strlen(s.classes[c].label) > wl) wl = (int)strlen(s.classes[c].label);
            if (wl > 40) wl = 40;
            printf("  %-*s  %7s  %11s  %s\n", wl, "class", "samples", "empty masks", "lesion area (mean ± std)");
            for (int c = 0; c < s.n_classes; c++)
                printf("  %-*s  %7d  %11d  %.4f ± %.4f\n", wl, s.classes[c].label, s.classes[c].count,
                       s.classes[c].empty_masks, s.classes[c].lesion_mean, s.classes[c].lesion_std);
        }
    }
    for (int i = 0; i < ds.n_notes; i++) fprintf(stderr, "note: %s\n", ds.notes[i]);
    if (ds.n_skipped) {
        printf("skipped:     %d\n", ds.n_skipped);
        for (int i = 0; i < ds.n_skipped; i++) printf("  %s\n", ds.skipped[i]);
    }
    ftn_dataset_free(&ds);
    return rc;
}

cli_command cmd_stats = {
    "stats", "DATA [--skip-bad] [--mask-suffix S]",
    "Describe a data set: layout, sizes, lesion-area fractions and non-binary masks.",
    "Describe a data set: count, layout, size ranges, lesion-area fraction mean ± std, per class\n"
    "(subfolders of a side-by-side tree) and masks that are not binary.\n"
    "DATA: a folder images/+masks/ or original/+gt/, images.npy+masks.npy, ISIC's *_Input/+\n"
    "*_GroundTruth/, nnU-Net's dataset.json+imagesTr/+labelsTr/ (PNG), a tree of images beside\n"
    "their masks (BUSI: benign/x.png + benign/x_mask.png), or a CSV of image,mask[,mask...] lines\n"
    "(an image on several lines is one sample: its masks merged by union).",
    "ftunet stats data/bus_b\n"
    "ftunet stats pairs.csv --skip-bad --mask-suffix _gt",
    options, run,
};
