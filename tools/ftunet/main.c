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

#ifndef FTUNET_VERSION /* CMake passes the project's version */
#define FTUNET_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: ftunet COMMAND [options]\n"
               "       ftunet COMMAND --help\n"
               "       ftunet --version\n\n"
               "Lesion segmentation with the focal Tversky loss and attention U-Nets\n"
               "(Abraham & Khan, ISBI 2019), on the CPU.\n\ncommands:\n");
    int width = 0;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if ((int)strlen(commands[i]->name) > width) width = (int)strlen(commands[i]->name);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  %-*s  ", width, commands[i]->name);
        cli_print_wrapped(f, commands[i]->brief, width + 4, width + 4);
    }
    fprintf(f, "\noptions:\n"
               "  -h, --help     show this help\n"
               "      --version  print the program's version (ftunet %s)\n"
               "\n'ftunet COMMAND --help' (or 'ftunet help COMMAND') prints a command's full description,\n"
               "its options and examples.\n"
               "Environment: FTUNET_ENGINE=dnnl|ref selects the compute engine (default dnnl).\n",
            FTUNET_VERSION);
}

static cli_command *lookup(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i]->name)) return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc < 3 || argv[1][0] == '-') { usage(stdout); return 0; }
        cli_command *c = lookup(argv[2]);
        if (!c) return cli_error(argv[2], "unknown command (see ftunet --help)");
        cli_print_help(c);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("ftunet %s\n", FTUNET_VERSION); return 0; }
    cli_command *c = lookup(argv[1]);
    if (c) {
        int npos = 0;
        int r = cli_parse(c, argc - 2, argv + 2, &npos);
        if (r == 2) return 0;
        if (r) return 1;
        return c->run(c, npos, argv + 2);
    }
    return cli_error(argv[1], "unknown command (see ftunet --help)");
}
