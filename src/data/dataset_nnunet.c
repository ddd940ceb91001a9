/* nnU-Net's raw layout, 2D PNG variant: dataset.json, imagesTr/CASE_0000.png (channel 0; an RGB
 * file for natural images) and labelsTr/CASE.png (integer labels: 0 background, 1, 2, ...).
 * dataset.json's "file_ending" must be ".png"; its "labels" (v2: name → value or region list;
 * v1: "value" → name) must hold background 0 and a label > 0. A lesion is any label > 0 (the
 * data set's mask_nonzero); several foreground labels are merged by union, with a note. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "data/dataset_internal.h"

#define JSON_MAX (64u << 20)

int ftn_dataset_is_nnunet(const char *dir)
{
    char *j = ftn_ds_join(dir, "dataset.json"), *i = ftn_ds_join(dir, "imagesTr"), *l = ftn_ds_join(dir, "labelsTr");
    struct stat sj;
    int yes = j && i && l && stat(j, &sj) == 0 && S_ISREG(sj.st_mode) && ftn_ds_is_dir(i) && ftn_ds_is_dir(l);
    free(j), free(i), free(l);
    return yes;
}

static int is_png(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcasecmp(path + n - 4, ".png");
}

/* 1 when s is a decimal integer ≥ 0 (v1's label keys), its value in *v. */
static int nonneg_int(const char *s, int *v)
{
    if (!s || !*s) return 0;
    long x = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || x > 1000000) return 0;
        x = x * 10 + (*p - '0');
    }
    *v = (int)x;
    return 1;
}

/* Reads dataset.json: checks file_ending and labels; notes the foreground labels when there are
 * several; *num_training: its "numTraining", or −1. */
static ftn_status read_json(const char *path, ftn_strvec *notes, int *num_training)
{
    uint8_t *data = NULL;
    size_t size = 0;
    *num_training = -1;
    FTN_TRY(ftn_read_file(path, JSON_MAX, &data, &size));
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    free(data);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return ftn_fail(FTN_EFORMAT, "%s: not a JSON object", path);
    }
    ftn_status st = FTN_OK;
    const cJSON *fe = cJSON_GetObjectItemCaseSensitive(j, "file_ending");
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(j, "numTraining");
    if (cJSON_IsNumber(nt)) *num_training = nt->valueint;
    char fg[768] = "";
    int n_fg = 0, background = 0;
    if (!cJSON_IsString(fe)) {
        st = ftn_fail(FTN_EFORMAT, "%s: no \"file_ending\" (nnU-Net v2's dataset.json names the files' format; only \".png\" is read)", path);
        goto done;
    }
    if (strcmp(fe->valuestring, ".png")) {
        st = ftn_fail(FTN_EFORMAT, "%s: \"file_ending\" is \"%.32s\": only \".png\" (nnU-Net's 2D PNG data sets) is read; "
                      "convert the cases to PNG or list them in a CSV", path, fe->valuestring);
        goto done;
    }
    if (!cJSON_IsObject(labels) || !labels->child) {
        st = ftn_fail(FTN_EFORMAT, "%s: no \"labels\" object (e.g. {\"background\": 0, \"lesion\": 1})", path);
        goto done;
    }
    for (const cJSON *e = labels->child; e; e = e->next) {
        const char *name = e->string ? e->string : "?";
        int v = -1, region = 0;
        if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble == (double)e->valueint) {
            v = e->valueint; /* v2: "lesion": 1 */
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) > 0) {
            region = 1; /* v2 region: "whole": [1, 2] */
            v = 1;
            for (const cJSON *x = e->child; x; x = x->next)
                if (!cJSON_IsNumber(x) || x->valuedouble <= 0) v = -1;
        } else if (cJSON_IsString(e) && nonneg_int(name, &v)) {
            name = e->valuestring; /* v1: "1": "lesion" */
        } else {
            v = -1;
        }
        if (v < 0) {
            st = ftn_fail(FTN_EFORMAT, "%s: labels: \"%.64s\" is not a label value ≥ 0 (or a list of labels > 0)", path,
                          e->string ? e->string : "?");
            goto done;
        }
        if (v == 0 && !region) {
            background = 1;
            continue;
        }
        size_t len = strlen(fg);
        if (len + 80 < sizeof fg)
            snprintf(fg + len, sizeof fg - len, "%s%.48s (%s%d%s)", n_fg ? ", " : "", name, region ? "region of " : "",
                     region ? cJSON_GetArraySize(e) : v, region ? " labels" : "");
        n_fg++;
    }
    if (!background) {
        st = ftn_fail(FTN_EFORMAT, "%s: labels: no background 0 (nnU-Net's labels map \"background\" to 0)", path);
        goto done;
    }
    if (!n_fg) {
        st = ftn_fail(FTN_EFORMAT, "%s: labels: no label above 0, so no lesion", path);
        goto done;
    }
    if (n_fg > 1) {
        char note[1024];
        snprintf(note, sizeof note, "%s: %d foreground labels, %s, all read as lesion (a lesion pixel is any label > 0: "
                 "their union)", path, n_fg, fg);
        st = ftn_ds_add_skipped(notes, note);
    }
done:
    cJSON_Delete(j);
    return st;
}

/* One file of imagesTr: case name and channel, from CASE_NNNN.png. */
typedef struct nn_image { char *path, *case_name; int channel; } nn_image;

static int cmp_nn_image(const void *a, const void *b)
{
    const nn_image *x = a, *y = b;
    int c = strcmp(x->case_name, y->case_name);
    return c ? c : (x->channel > y->channel) - (x->channel < y->channel);
}

/* A label file's stem and its index in the label list, sorted by stem for lookup. */
typedef struct stem_ix { const char *stem; int k; } stem_ix;

static int cmp_stem_ix(const void *a, const void *b)
{
    return strcmp(((const stem_ix *)a)->stem, ((const stem_ix *)b)->stem);
}

/* A problem with one case or file: an error, or with skip_bad an entry of skipped. */
static ftn_status bad(const ftn_dataset_options *opt, ftn_strvec *skipped)
{
    if (!opt->skip_bad) return FTN_EFORMAT;
    return ftn_ds_add_skipped(skipped, ftn_last_error());
}

ftn_status ftn_dataset_open_nnunet(const char *path, const ftn_dataset_options *opt, ftn_sample **samples, int *count,
                                   ftn_strvec *skipped, ftn_strvec *notes)
{
    char *json = ftn_ds_join(path, "dataset.json"), *idir = ftn_ds_join(path, "imagesTr"),
         *ldir = ftn_ds_join(path, "labelsTr");
    ftn_strvec imgs = {0}, labs = {0}, lstems = {0};
    nn_image *v = NULL;
    stem_ix *lix = NULL;
    ftn_sample *s = NULL;
    int *used = NULL;
    int nv = 0, ns = 0, num_training = -1, n_cases = 0;
    ftn_status st = FTN_OK;
    if (!json || !idir || !ldir) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if ((st = read_json(json, notes, &num_training)) != FTN_OK) goto done;
    if ((st = ftn_ds_list_images(idir, &imgs)) != FTN_OK || (st = ftn_ds_list_images(ldir, &labs)) != FTN_OK) goto done;
    v = calloc((size_t)imgs.n + 1, sizeof *v);
    s = calloc((size_t)imgs.n + 1, sizeof *s);
    used = calloc((size_t)labs.n + 1, sizeof *used);
    if (!v || !s || !used) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    /* imagesTr: CASE_NNNN.png */
    for (int i = 0; i < imgs.n && st == FTN_OK; i++) {
        if (!is_png(imgs.v[i])) continue;
        char *stem = ftn_ds_stem_of(imgs.v[i]);
        if (!stem) {
            st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t len = strlen(stem);
        int ok = len > 5 && stem[len - 5] == '_';
        for (size_t k = len - 4; ok && k < len; k++) ok = isdigit((unsigned char)stem[k]) != 0;
        if (!ok) {
            free(stem);
            ftn_fail(FTN_EFORMAT, "%s: not an nnU-Net image name (CASE_0000.png: the case, then its channel)", imgs.v[i]);
            st = bad(opt, skipped);
            continue;
        }
        v[nv].channel = atoi(stem + len - 4);
        stem[len - 5] = 0;
        v[nv].case_name = stem;
        v[nv].path = imgs.v[i];
        imgs.v[i] = NULL;
        nv++;
    }
    if (st != FTN_OK) goto done;
    if (nv > 1) qsort(v, (size_t)nv, sizeof *v, cmp_nn_image);
    /* labelsTr: CASE.png, looked up by case */
    for (int i = 0; i < labs.n && st == FTN_OK; i++) {
        if (!is_png(labs.v[i])) continue;
        if (ftn_strvec_push(&lstems, ftn_ds_stem_of(labs.v[i]))) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    if (st != FTN_OK) goto done;
    {
        /* lstems[k] is the stem of the k-th .png label; labs keeps only those, in the same order */
        int k = 0;
        for (int i = 0; i < labs.n; i++) {
            if (!is_png(labs.v[i])) {
                free(labs.v[i]);
                continue;
            }
            labs.v[k++] = labs.v[i];
        }
        labs.n = k;
    }
    lix = calloc((size_t)lstems.n + 1, sizeof *lix);
    if (!lix) {
        st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int k = 0; k < lstems.n; k++) lix[k] = (stem_ix){lstems.v[k], k};
    if (lstems.n > 1) qsort(lix, (size_t)lstems.n, sizeof *lix, cmp_stem_ix);
    for (int a = 0; a < nv && st == FTN_OK;) {
        int b = a + 1;
        while (b < nv && !strcmp(v[b].case_name, v[a].case_name)) b++;
        const char *cn = v[a].case_name;
        n_cases++;
        stem_ix key = {cn, 0};
        const stem_ix *hit = lstems.n ? bsearch(&key, lix, (size_t)lstems.n, sizeof *lix, cmp_stem_ix) : NULL;
        int lab = hit ? hit->k : -1;
        if (lab >= 0) used[lab] = 1;
        if (b - a > 1 || v[a].channel != 0) {
            if (v[a].channel != 0)
                ftn_fail(FTN_EFORMAT, "%s: case %s has no channel 0 file %s_0000.png", v[a].path, cn, cn);
            else if (v[a + 1].channel == 0)
                ftn_fail(FTN_EFORMAT, "%s and %s: two channel 0 files for case %s", v[a].path, v[a + 1].path, cn);
            else
                ftn_fail(FTN_EFORMAT, "%s: case %s has %d channel files (%s_0000.png, %s_%04d.png, ...): multi-channel "
                         "nnU-Net cases are not read (one image file per case; an RGB %s_0000.png is read as colour)",
                         v[a + 1].path, cn, b - a, cn, cn, v[a + 1].channel, cn);
            st = bad(opt, skipped);
        } else if (lab < 0) {
            ftn_fail(FTN_EFORMAT, "%s: no label %s/%s.png for case %s", v[a].path, ldir, cn, cn);
            st = bad(opt, skipped);
        } else {
            ftn_sample *x = &s[ns++];
            x->image_path = v[a].path;
            v[a].path = NULL;
            x->id = strdup(cn);
            if (!x->id || ftn_ds_sample_add_mask(x, labs.v[lab])) st = ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
            labs.v[lab] = NULL;
        }
        a = b;
    }
    for (int k = 0; k < labs.n && st == FTN_OK; k++) {
        if (used[k]) continue;
        ftn_fail(FTN_EFORMAT, "%s: label has no image %s/%s_0000.png", labs.v[k], idir, lstems.v[k]);
        st = bad(opt, skipped);
    }
    if (st == FTN_OK && num_training >= 0 && num_training != n_cases) {
        char note[1024];
        snprintf(note, sizeof note, "%s: numTraining is %d but imagesTr holds %d case%s", json, num_training, n_cases,
                 n_cases == 1 ? "" : "s");
        st = ftn_ds_add_skipped(notes, note);
    }
    if (st == FTN_OK) {
        *samples = s;
        *count = ns;
        s = NULL;
        ns = 0;
    }
done:
    for (int i = 0; s && i < ns; i++) ftn_ds_sample_free(&s[i]);
    free(s);
    for (int i = 0; v && i < nv; i++) free(v[i].path), free(v[i].case_name);
    free(v);
    free(lix);
    free(used);
    ftn_strvec_free(&imgs);
    ftn_strvec_free(&labs);
    ftn_strvec_free(&lstems);
    free(json), free(idir), free(ldir);
    return st;
}
