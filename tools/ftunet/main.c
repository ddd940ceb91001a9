/* ftunet: the command-line program. Dispatches to one command per file (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static cli_command *const commands[] = {
    &cmd_synth, &cmd_stats, &cmd_augment,
    &cmd_train, &cmd_cv, &cmd_ablation,
    &cmd_eval, &cmd_predict, &cmd_report, &cmd_recalibrate,
    &cmd_bench, &cmd_init, &cmd_forward, &cmd_grads,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: ftunet COMMAND [options]\n\n"
               "Lesion segmentation with the focal Tversky loss and attention U-Nets\n"
               "(Abraham & Khan, ISBI 2019), on the CPU.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) /* the summary's first line */
        fprintf(f, "  %-10s %.*s\n", commands[i]->name, (int)strcspn(commands[i]->summary, "\n"), commands[i]->summary);
    fprintf(f, "\n'ftunet COMMAND --help' describes each command's options.\n"
               "Environment: FTUNET_ENGINE=dnnl|ref selects the compute engine (default dnnl).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("ftunet 0.1.0\n"); return 0; }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        cli_command *c = commands[i];
        if (strcmp(argv[1], c->name)) continue;
        int npos = 0;
        int r = cli_parse(c, argc - 2, argv + 2, &npos);
        if (r == 2) return 0;
        if (r) return 1;
        return c->run(c, npos, argv + 2);
    }
    return cli_error(argv[1], "unknown command (see ftunet --help)");
}
