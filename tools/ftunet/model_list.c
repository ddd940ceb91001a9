#include "model_list.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int model_list_is_model(const char *arg)
{
    const char *dot = strrchr(arg, '.');
    if (dot && !strcasecmp(dot, ".safetensors")) return 1;
    struct stat sb;
    if (stat(arg, &sb) != 0 || !S_ISDIR(sb.st_mode)) return 0;
    char p[4096];
    snprintf(p, sizeof p, "%s/best.safetensors", arg);
    if (access(p, F_OK) == 0) return 1;
    snprintf(p, sizeof p, "%s/fold-1", arg);
    return access(p, F_OK) == 0;
}

void model_list_free(model_list *ms)
{
    for (int i = ms->n - 1; ms->s && i >= 0; i--) ftn_session_free(ms->s[i]);
    for (int i = 0; ms->m && i < ms->n; i++) ftn_model_free(ms->m[i]);
    ftn_paths_free(ms->paths, ms->n);
    free(ms->m);
    free(ms->s);
    memset(ms, 0, sizeof *ms);
}

int model_list_add(model_list *ms, const char *what, const char *arg)
{
    char **p;
    int n;
    if (ftn_checkpoint_paths(arg, &p, &n)) return cli_lib_error(what);
    char **all = realloc(ms->paths, sizeof *all * (size_t)(ms->n + n));
    if (!all) {
        ftn_paths_free(p, n);
        return cli_error(what, "out of memory");
    }
    memcpy(all + ms->n, p, sizeof *p * (size_t)n);
    free(p);
    ms->paths = all;
    ms->n += n;
    return 0;
}

int model_list_open(model_list *ms, const char *what, int batch, ftn_engine engine, ftn_precision precision)
{
    ms->m = calloc((size_t)ms->n, sizeof *ms->m);
    ms->s = calloc((size_t)ms->n, sizeof *ms->s);
    if (!ms->m || !ms->s) return cli_error(what, "out of memory");
    for (int i = 0; i < ms->n; i++) {
        if (ftn_model_load(ms->paths[i], &ms->m[i]) || ftn_session_create_ex(ms->m[i], batch, engine, precision, &ms->s[i]) ||
            (i > 0 && ftn_session_share_memory(ms->s[i], ms->s[0])))
            return cli_lib_error(what);
    }
    return 0;
}
