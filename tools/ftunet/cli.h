/* Command-line plumbing shared by the ftunet commands: options, errors, help. */
#ifndef FTN_CLI_H
#define FTN_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "ftunet.h"

typedef struct cli_option {
    const char *name;     /* long name without dashes: "seed" → --seed */
    char short_name;      /* 'o' → -o, or 0 */
    const char *metavar;  /* NULL for a flag */
    const char *help;
    const char *value;    /* filled by cli_parse: the value, "1" for a flag, or NULL */
} cli_option;

typedef struct cli_command {
    const char *name;
    const char *usage;    /* after "ftunet NAME " */
    const char *brief;    /* one complete sentence for `ftunet --help`'s list of commands */
    const char *description; /* the full description for `ftunet NAME --help`: '\n' ends a line or a
                              * paragraph; longer lines are wrapped at CLI_HELP_WIDTH columns */
    const char *examples; /* working command lines, '\n'-separated, shown under "examples:" */
    cli_option *options;  /* terminated by a zeroed entry */
    int (*run)(struct cli_command *cmd, int argc, char **argv); /* argv: positional arguments */
} cli_command;

/* Prints "ftunet: <what>: <why>" to stderr and returns 1 (the exit status). */
/* seconds on a monotonic clock, for throughput lines */
double cli_now_s(void);
int cli_error(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a failed library call: "ftunet: <what>: <ftn_last_error()>". */
int cli_lib_error(const char *what);

/* Parses argv (after the command name) into cmd->options; positional arguments are compacted
 * to the front of argv and counted in *npos. Returns 0, 1 on error (message printed), or 2
 * when --help was asked for (help printed). */
int cli_parse(cli_command *cmd, int argc, char **argv, int *npos);
void cli_print_help(const cli_command *cmd);
/* Help text is wrapped at this many columns, between words. */
#define CLI_HELP_WIDTH 100
/* Prints `text` to f starting at column `col` (where the cursor is), wrapped between words at
 * CLI_HELP_WIDTH columns; continuation lines start at column `indent`, and a line of `text` that
 * starts with spaces keeps them on its continuations too. Ends with a newline. */
void cli_print_wrapped(FILE *f, const char *text, int col, int indent);

const char *cli_get(const cli_command *cmd, const char *name);
/* Typed getters: return 0 and set *out (unchanged when the option is absent), or print an error
 * naming the option and return 1. */
int cli_int(const cli_command *cmd, const char *name, long lo, long hi, int *out);
int cli_u64(const cli_command *cmd, const char *name, uint64_t *out);
int cli_float(const cli_command *cmd, const char *name, double lo, double hi, float *out);
/* "128x128" → h=128, w=128 (HxW). */
int cli_size(const cli_command *cmd, const char *name, int *h, int *w);
/* Engine from --engine or FTUNET_ENGINE, threads from --threads (default: all cores). */
int cli_engine_threads(const cli_command *cmd, ftn_engine *engine);
/* --precision (or `fallback` when absent: a run's setting, NULL for fp32), checked against the
 * engine and this CPU. Returns 0, or 1 after printing an error. */
int cli_precision(const cli_command *cmd, ftn_engine engine, const char *fallback, ftn_precision *out);

#endif
