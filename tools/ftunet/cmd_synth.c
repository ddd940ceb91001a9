/* ftunet synth: write a synthetic lesion-segmentation data set (images/ + masks/). */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "kind", 'k', "ultrasound|dermoscopy", "what to draw (default ultrasound)", NULL },
    { "count", 'n', "N", "number of image/mask pairs", NULL },
    { "output", 'o', "DIR", "folder to write DIR/images and DIR/masks into (created if missing)", NULL },
    { "seed", 0, "S", "random seed (default 1)", NULL },
    { "size", 's', "HxW", "image size, height x width like train --size (default 192x256: 192 high, 256 wide)", NULL },
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc) return cli_error("synth", "unexpected argument '%s'", argv[0]);
    const char *dir = cli_get(cmd, "output");
    if (!dir) return cli_error("synth", "missing -o DIR");
    if (!cli_get(cmd, "count")) return cli_error("synth", "missing -n N");
    ftn_synth_kind kind = FTN_SYNTH_ULTRASOUND;
    if (cli_get(cmd, "kind") && ftn_synth_kind_parse(cli_get(cmd, "kind"), &kind))
        return cli_error("synth", "--kind %s: expected ultrasound or dermoscopy", cli_get(cmd, "kind"));
    int n = 0, w = FTN_SYNTH_DEFAULT_WIDTH, h = FTN_SYNTH_DEFAULT_HEIGHT;
    uint64_t seed = 1;
    if (cli_int(cmd, "count", 1, 1000000, &n) || cli_u64(cmd, "seed", &seed)) return 1;
    const char *size = cli_get(cmd, "size");
    if (size) {
        char tail;
        if (sscanf(size, "%dx%d%c", &h, &w, &tail) != 2 || w < 8 || h < 8 || w > 8192 || h > 8192)
            return cli_error("synth", "--size %s: expected HxW (height x width), each from 8 to 8192, e.g. 192x256",
                             size);
    }
    if (ftn_synth_write(dir, kind, n, seed, w, h)) return cli_lib_error("synth");
    printf("%s: %d %s images, %dx%d (HxW), seed %llu\n", dir, n, ftn_synth_kind_name(kind), h, w,
           (unsigned long long)seed);
    return 0;
}

cli_command cmd_synth = {
    "synth", "--kind ultrasound|dermoscopy -n N -o DIR [--seed S] [--size HxW]",
    "Write a synthetic lesion-segmentation data set (images/ + masks/).",
    "Write a synthetic lesion-segmentation data set (images/ + masks/).\n"
    "DIR/images/NNNN.png and DIR/masks/NNNN.png (0/255); the same files for the same kind,\n"
    "seed and size. --size is height x width, as everywhere in ftunet.",
    "ftunet synth --kind ultrasound -n 100 -o data/synth-bus\n"
    "ftunet synth --kind dermoscopy -n 50 -o data/synth-isic --size 192x256 --seed 2",
    options, run,
};
