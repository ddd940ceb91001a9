#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

int cli_error(const char *what, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ftunet: %s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

int cli_lib_error(const char *what) { return cli_error(what, "%s", ftn_last_error()); }

/* Display columns of s[0..n): UTF-8 continuation bytes take none (±, ×, … are one column). */
static int columns(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

void cli_print_wrapped(FILE *f, const char *text, int col, int indent)
{
    int pad = 0; /* spaces to print before the next piece: none before the first */
    for (const char *line = text;;) {
        size_t len = strcspn(line, "\n"), lead = strspn(line, " ");
        if (lead > len) lead = len;
        /* a line that starts with spaces (an item, a command) keeps them on its continuations */
        int hang = indent + columns(line, lead);
        const char *p = line, *end = line + len;
        do {
            /* take words while they fit; one wider than the whole width goes alone, uncut */
            const char *q = p, *last = NULL;
            while (q < end) {
                const char *w = q + strspn(q, " ");
                if (w >= end) break;
                const char *we = w + strcspn(w, " \n");
                if (last && col + columns(p, (size_t)(we - p)) > CLI_HELP_WIDTH) break;
                last = q = we;
            }
            if (!last) last = end; /* an empty line */
            if (last > p) fprintf(f, "%*s", pad, "");
            fprintf(f, "%.*s\n", (int)(last - p), p);
            p = last + strspn(last, " ");
            pad = col = hang;
        } while (p < end);
        if (!line[len] || !line[len + 1]) break;
        line += len + 1;
        pad = col = indent;
    }
}

void cli_print_help(const cli_command *cmd)
{
    int col = printf("usage: ftunet %s ", cmd->name);
    cli_print_wrapped(stdout, cmd->usage, col, col);
    printf("\n");
    cli_print_wrapped(stdout, cmd->description, 0, 0);
    printf("\noptions:\n");
    for (const cli_option *o = cmd->options; o && o->name; o++) {
        char left[96];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        /* a long name and value puts its help on the next line, in the help column */
        if (strlen(left) > 28) printf("  %s\n%31s", left, "");
        else printf("  %-28s ", left);
        cli_print_wrapped(stdout, o->help, 31, 31);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
    if (cmd->examples && *cmd->examples) {
        printf("\nexample%s:\n  ", strchr(cmd->examples, '\n') ? "s" : "");
        cli_print_wrapped(stdout, cmd->examples, 2, 2);
    }
}

static cli_option *find(cli_command *cmd, const char *name, size_t len, char short_name)
{
    for (cli_option *o = cmd->options; o && o->name; o++) {
        if (short_name ? o->short_name == short_name : (strlen(o->name) == len && !strncmp(o->name, name, len)))
            return o;
    }
    return NULL;
}

int cli_parse(cli_command *cmd, int argc, char **argv, int *npos)
{
    int np = 0;
    char what[64];
    snprintf(what, sizeof what, "%s", cmd->name);
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { cli_print_help(cmd); return 2; }
        if (!strcmp(a, "--")) { while (++i < argc) argv[np++] = argv[i]; break; }
        cli_option *o = NULL;
        const char *inline_value = NULL;
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            o = find(cmd, a + 2, len, 0);
            if (eq) inline_value = eq + 1;
        } else if (a[0] == '-' && a[1] && a[1] != '-' && !a[2] && !(a[1] >= '0' && a[1] <= '9')) {
            o = find(cmd, NULL, 0, a[1]);
        } else {
            argv[np++] = a;
            continue;
        }
        if (!o) return cli_error(what, "unknown option %s (see ftunet %s --help)", a, cmd->name);
        if (o->metavar) {
            if (inline_value) o->value = inline_value;
            else if (i + 1 < argc) o->value = argv[++i];
            else return cli_error(what, "option --%s needs a value (%s)", o->name, o->metavar);
            /* an empty value is never meant: for a path it would surface later as
             * "<nothing>: No such file or directory" */
            if (!*o->value) {
                int path = !strcmp(o->metavar, "DIR") || !strcmp(o->metavar, "RUN") || !strcmp(o->metavar, "FILE");
                if (inline_value) return cli_error(what, "--%s: empty %s", o->name, path ? "path" : "value");
                return cli_error(what, "%s: empty %s", a, path ? "path" : "value");
            }
        } else {
            if (inline_value) return cli_error(what, "option --%s takes no value", o->name);
            o->value = "1";
        }
    }
    *npos = np;
    return 0;
}

const char *cli_get(const cli_command *cmd, const char *name)
{
    for (const cli_option *o = cmd->options; o && o->name; o++)
        if (!strcmp(o->name, name)) return o->value;
    return NULL;
}

int cli_int(const cli_command *cmd, const char *name, long lo, long hi, int *out)
{
    const char *v = cli_get(cmd, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return cli_error(cmd->name, "--%s %s: expected an integer from %ld to %ld", name, v, lo, hi);
    *out = (int)x;
    return 0;
}

int cli_u64(const cli_command *cmd, const char *name, uint64_t *out)
{
    const char *v = cli_get(cmd, name);
    if (!v) return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || v[0] == '-')
        return cli_error(cmd->name, "--%s %s: expected a non-negative integer", name, v);
    *out = x;
    return 0;
}

int cli_float(const cli_command *cmd, const char *name, double lo, double hi, float *out)
{
    const char *v = cli_get(cmd, name);
    if (!v) return 0;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi))
        return cli_error(cmd->name, "--%s %s: expected a number from %g to %g", name, v, lo, hi);
    *out = (float)x;
    return 0;
}

int cli_size(const cli_command *cmd, const char *name, int *h, int *w)
{
    const char *v = cli_get(cmd, name);
    if (!v) return 0;
    int a, b;
    char tail;
    if (sscanf(v, "%dx%d%c", &a, &b, &tail) != 2 || a <= 0 || b <= 0 || a > 16384 || b > 16384)
        return cli_error(cmd->name, "--%s %s: expected HxW (height x width), each a multiple of 16 from 16 to 16384, e.g. 128x128",
                         name, v);
    if (a % 16 || b % 16) {
        /* the networks halve the input four times; swapping H and W cannot fix a remainder, so
         * the message says which value is off and the nearest sizes that would do */
        int alo = a / 16 ? a / 16 * 16 : 16, ahi = (a + 15) / 16 * 16, blo = b / 16 ? b / 16 * 16 : 16, bhi = (b + 15) / 16 * 16;
        char off[96], near[96];
        if (a % 16 && b % 16)
            snprintf(off, sizeof off, "neither %d (height) nor %d (width) is, in either order", a, b);
        else
            snprintf(off, sizeof off, "%d (the %s) is not, and swapping them would not change that", a % 16 ? a : b,
                     a % 16 ? "height" : "width");
        if (alo == ahi && blo == bhi) snprintf(near, sizeof near, "%dx%d", ahi, bhi);
        else snprintf(near, sizeof near, "%dx%d or %dx%d", alo, blo, ahi, bhi);
        return cli_error(cmd->name, "--%s %s: HxW (height x width) must each be a multiple of 16: %s; nearest: %s", name, v,
                         off, near);
    }
    *h = a;
    *w = b;
    return 0;
}

int cli_engine_threads(const cli_command *cmd, ftn_engine *engine)
{
    const char *e = cli_get(cmd, "engine");
    if (e) {
        if (!strcmp(e, "ref")) *engine = FTN_ENGINE_REF;
        else if (!strcmp(e, "dnnl") || !strcmp(e, "onednn")) *engine = FTN_ENGINE_DNNL;
        else return cli_error(cmd->name, "--engine %s: expected dnnl or ref", e);
    } else if (ftn_engine_from_env(engine) != FTN_OK) {
        return cli_lib_error(cmd->name);
    }
    int threads = 0;
    if (cli_int(cmd, "threads", 1, 1024, &threads)) return 1;
    ftn_set_threads(threads);
    return 0;
}

int cli_precision(const cli_command *cmd, ftn_engine engine, const char *fallback, ftn_precision *out)
{
    const char *given = cli_get(cmd, "precision"), *name = given ? given : fallback;
    *out = FTN_PRECISION_FP32;
    if (name && ftn_precision_parse(name, out))
        return cli_error(cmd->name, "%s %s: expected fp32, fp32-winograd or bf16", given ? "--precision" : "the run's precision", name);
    if (ftn_precision_check(engine, *out)) return cli_lib_error(cmd->name);
    return 0;
}

double cli_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
