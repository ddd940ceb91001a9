/* A data set's split constraints (ftunet_protocol.h, "splits"): group numbers from the sample ids
 * by a regular expression, stratum numbers from the samples' labels. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ftunet_protocol.h"

typedef struct named { const char *key; size_t len; int index; } named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    size_t l = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, l);
    if (c) return c;
    if (x->len != y->len) return (x->len > y->len) - (x->len < y->len);
    return (x->index > y->index) - (x->index < y->index);
}

/* Numbers equal keys alike, in ascending key order: out[names[i].index] = the key's number. */
static void number_keys(named *names, int n, int *out)
{
    qsort(names, (size_t)n, sizeof *names, cmp_named);
    int k = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || names[i].len != names[i - 1].len || memcmp(names[i].key, names[i - 1].key, names[i].len)) k++;
        out[names[i].index] = k;
    }
}

static ftn_status groups_by_regex(const ftn_dataset *ds, const char *re_text, int *group)
{
    regex_t re;
    int rc = regcomp(&re, re_text, REG_EXTENDED);
    if (rc) {
        char why[256];
        regerror(rc, &re, why, sizeof why);
        return ftn_fail(FTN_EINVAL, "group regex '%s': %s", re_text, why);
    }
    int n = ds->count;
    named *names = malloc(sizeof *names * (size_t)n);
    if (!names) {
        regfree(&re);
        return ftn_fail(FTN_ENOMEM, "group regex: out of memory");
    }
    ftn_status st = FTN_OK;
    for (int i = 0; i < n && st == FTN_OK; i++) {
        const char *id = ds->samples[i].id;
        regmatch_t m[10];
        if (regexec(&re, id, 10, m, 0)) {
            st = ftn_fail(FTN_EINVAL, "group regex '%s': does not match the id '%s' (%s)", re_text, id,
                          ds->samples[i].image_path ? ds->samples[i].image_path : ds->path);
            break;
        }
        int sub = 0; /* the first subexpression that matched, else the whole match */
        for (size_t k = 1; k < 10 && k <= re.re_nsub; k++)
            if (m[k].rm_so >= 0) {
                sub = (int)k;
                break;
            }
        names[i] = (named){id + m[sub].rm_so, (size_t)(m[sub].rm_eo - m[sub].rm_so), i};
    }
    if (st == FTN_OK) number_keys(names, n, group);
    free(names);
    regfree(&re);
    return st;
}

static ftn_status strata_by_label(const ftn_dataset *ds, int *stratum)
{
    int n = ds->count, labelled = 0;
    for (int i = 0; i < n; i++) labelled += ds->samples[i].label != NULL;
    if (!labelled)
        return ftn_fail(FTN_EINVAL, "stratify: %s has no classes (class subfolders of a side-by-side layout give them)",
                        ds->path);
    named *names = malloc(sizeof *names * (size_t)n);
    if (!names) return ftn_fail(FTN_ENOMEM, "stratify: out of memory");
    for (int i = 0; i < n; i++) {
        const char *l = ds->samples[i].label ? ds->samples[i].label : "";
        names[i] = (named){l, strlen(l), i};
    }
    number_keys(names, n, stratum);
    free(names);
    return FTN_OK;
}

ftn_status ftn_dataset_split_groups(const ftn_dataset *ds, const char *group_regex, int stratify, int **group,
                                    int **stratum)
{
    if (!ds || !group || !stratum) return ftn_fail(FTN_EINVAL, "split groups: missing argument");
    *group = NULL;
    *stratum = NULL;
    if (ds->count < 1) return ftn_fail(FTN_EINVAL, "split groups: empty data set");
    int *g = NULL, *s = NULL;
    ftn_status st = FTN_OK;
    if (group_regex && *group_regex) {
        if (!(g = malloc(sizeof(int) * (size_t)ds->count))) return ftn_fail(FTN_ENOMEM, "group regex: out of memory");
        st = groups_by_regex(ds, group_regex, g);
    }
    if (st == FTN_OK && stratify) {
        if (!(s = malloc(sizeof(int) * (size_t)ds->count))) st = ftn_fail(FTN_ENOMEM, "stratify: out of memory");
        else st = strata_by_label(ds, s);
    }
    if (st != FTN_OK) {
        free(g);
        free(s);
        return st;
    }
    *group = g;
    *stratum = s;
    return FTN_OK;
}
