/* ftunet init: write a freshly initialised network. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static cli_option options[] = {
    { "model", 'm', "NAME", "unet | attn-unet | attn-unet-ds | attn-unet-mi-ds (default attn-unet-mi-ds)", NULL },
    { "channels", 'c', "C", "input channels, 1 (greyscale) or 3 (RGB) (default 1)", NULL },
    { "size", 's', "HxW", "input size, multiples of 16 (default 128x128)", NULL },
    { "seed", 0, "S", "initialisation seed (default 1)", NULL },
    { "loss", 0, "dl|tl|ftl", "loss recorded in the checkpoint for training (default ftl)", NULL },
    { "output", 'o', "FILE", "checkpoint to write (.safetensors)", NULL },
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    (void)argv;
    if (argc) return cli_error("init", "unexpected argument '%s'", argv[0]);
    const char *model = cli_get(cmd, "model") ? cli_get(cmd, "model") : "attn-unet-mi-ds";
    const char *out = cli_get(cmd, "output");
    int channels = 1, h = 128, w = 128;
    uint64_t seed = 1;
    if (!out) return cli_error("init", "missing -o FILE.safetensors");
    if (cli_int(cmd, "channels", 1, 3, &channels) || cli_size(cmd, "size", &h, &w) || cli_u64(cmd, "seed", &seed)) return 1;
    ftn_loss_kind kind = FTN_LOSS_FOCAL_TVERSKY;
    if (cli_get(cmd, "loss") && ftn_loss_parse(cli_get(cmd, "loss"), &kind))
        return cli_error("init", "--loss %s: expected dl, tl or ftl", cli_get(cmd, "loss"));
    ftn_model *m;
    if (ftn_model_create(model, channels, h, w, &m)) return cli_lib_error("init");
    ftn_loss_config loss = ftn_loss_default(kind);
    ftn_model_set_loss(m, &loss);
    int rc = 0;
    if (ftn_model_init(m, seed) || ftn_model_save(m, out)) rc = cli_lib_error("init");
    else printf("%s: %s, %d×%d×%d, %zu parameters, seed %llu\n", out, model, channels, h, w,
                ftn_model_param_count(m), (unsigned long long)seed);
    ftn_model_free(m);
    return rc;
}

cli_command cmd_init = {
    "init", "--model NAME --channels C --size HxW --seed S -o FILE.safetensors",
    "Write a freshly initialised network (Glorot-normal weights) to a checkpoint.",
    "Write a freshly initialised network (Glorot-normal weights, as the reference) to a checkpoint.",
    "ftunet init --model attn-unet-mi-ds --channels 1 --size 128x128 --seed 1 -o init.safetensors",
    options, run,
};
