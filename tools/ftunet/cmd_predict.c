/* ftunet predict: segment images with a checkpoint (or an ensemble); masks at each image's
 * original size, written under -o DIR mirroring the folders the images were found in. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "commands.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftunet_protocol.h"
#include "model_list.h"

static cli_option options[] = {
    { "output", 'o', "DIR", "folder for the masks (created if missing): DIR/NAME_mask.png (0/255), NAME as below", NULL },
    { "ensemble", 0, NULL, "average the probabilities of every checkpoint given (a cv folder: all its folds)", NULL },
    { "tta", 0, "none|flips", "test-time augmentation: flips averages the image and its 3 mirrors, each mirrored back (default none)", NULL },
    { "upsample", 0, "nearest|bilinear", "network map to the image's size before the threshold (default nearest, the paper's)", NULL },
    { "largest-component", 0, NULL, "keep only the largest 8-connected lesion of each mask", NULL },
    { "overlay", 0, NULL, "also write NAME_overlay.png: the image with the predicted lesion tinted and outlined", NULL },
    { "probabilities", 0, NULL, "also write NAME_prob.npy: float32 H×W probabilities at the original size", NULL },
    { "threshold", 0, "T", "probability threshold (default 0.5)", NULL },
    { "resize", 0, "nearest|area|bilinear", "how images are resized to the network's input (default nearest)", NULL },
    { "engine", 0, "dnnl|ref", "compute engine (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "precision", 0, "fp32|fp32-winograd|bf16", "inference precision (default fp32; bf16 needs AVX512-BF16)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { "max-pixels", 0, "N", "largest width x height accepted per image (default 100000000)", NULL },
    { 0 },
};

#define WHAT "predict"
#define MAX_DEPTH 16

/* ---- the inputs ------------------------------------------------------------------------------ */

typedef struct input {
    char *path; /* the image file */
    char *name; /* the outputs' name relative to DIR, without extension: "x", "sub/x" */
} input;

typedef struct input_list {
    input *v;
    int n, cap;
    const char *out_real; /* the output folder resolved (NULL: not there yet): never read from */
} input_list;

static void inputs_free(input_list *l)
{
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].name);
    }
    free(l->v);
}

static int add_input(input_list *l, const char *path, const char *name, size_t name_len)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        input *v = realloc(l->v, sizeof *v * (size_t)cap);
        if (!v) return cli_error(WHAT, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    char *p = strdup(path), *nm = malloc(name_len + 1);
    if (!p || !nm) {
        free(p);
        free(nm);
        return cli_error(WHAT, "out of memory");
    }
    memcpy(nm, name, name_len);
    nm[name_len] = 0;
    l->v[l->n++] = (input){ p, nm };
    return 0;
}

/* The image extensions the data set loader reads (any case). */
static int has_image_ext(const char *name)
{
    static const char *const ext[] = { ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp" };
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (!strcasecmp(dot, ext[i])) return 1;
    return 0;
}

/* The name without its extension. */
static size_t stem_len(const char *name)
{
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    const char *base = slash ? slash + 1 : name;
    return dot && dot > base ? (size_t)(dot - name) : strlen(name);
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The images under folder `dir` (at `rel` below the folder given, "" at its top), sorted by name;
 * hidden entries skipped, links followed, the output folder left out. */
static int walk(input_list *l, const char *dir, const char *rel, int depth)
{
    if (depth > MAX_DEPTH) return cli_error(WHAT, "%s: more than %d folders deep (a link loop?)", dir, MAX_DEPTH);
    char real[PATH_MAX];
    if (l->out_real && realpath(dir, real) && !strcmp(real, l->out_real)) return 0;
    DIR *d = opendir(dir);
    if (!d) return cli_error(WHAT, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, sizeof *nn * cap);
            if (!nn) { rc = cli_error(WHAT, "out of memory"); break; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) rc = cli_error(WHAT, "out of memory");
        else n++;
    }
    closedir(d);
    if (!rc && n > 1) qsort(names, n, sizeof *names, str_cmp); /* names is NULL when the folder is empty */
    for (size_t i = 0; i < n && !rc; i++) {
        char path[PATH_MAX], sub[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
            snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", names[i]) >= (int)sizeof sub) {
            rc = cli_error(WHAT, "%s/%s: path too long", dir, names[i]);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) continue; /* a dangling link */
        if (S_ISDIR(sb.st_mode)) rc = walk(l, path, sub, depth + 1);
        else if (has_image_ext(names[i])) rc = add_input(l, path, sub, stem_len(sub));
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

/* One input argument: an image file (named by its stem) or a folder (its images, named by their
 * path below it); with `as` (a list's line), named by that path instead: "as" for a file, "as/…"
 * for a folder's images. */
static int add_argument(input_list *l, const char *arg, const char *as)
{
    struct stat sb;
    if (stat(arg, &sb) != 0) return cli_error(WHAT, "%s: %s", arg, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        int before = l->n;
        if (walk(l, arg, as ? as : "", 0)) return 1;
        if (l->n == before) return cli_error(WHAT, "%s: no images in this folder (.png .jpg .jpeg .bmp .tif .tiff .webp)", arg);
        return 0;
    }
    /* a file named on its own is read whatever its name (the reader goes by its bytes) */
    const char *slash = strrchr(arg, '/'), *base = as && *as ? as : slash ? slash + 1 : arg;
    return add_input(l, arg, base, stem_len(base));
}

/* A list's relative line as an output name: its components without "" and "." ("./a//b.png" →
 * "a/b.png"); 0 when it has a ".." (it would name a file outside DIR). */
static int clean_relative(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 2 && !strncmp(s, "..", 2)) return 0;
        if (len && !(len == 1 && *s == '.')) {
            if (n + len + 2 > cap) return 0;
            if (n) out[n++] = '/';
            memcpy(out + n, s, len);
            out[n += len] = 0;
        }
        s += len + (e != NULL);
    }
    return 1;
}

/* @LIST: one image or folder per line, relative to the list's folder unless absolute; blank
 * lines and lines starting with '#' ignored. A relative line names its outputs by its path
 * ("a/x.png": DIR/a/x_mask.png), an absolute one as on the command line. */
static int add_list(input_list *l, const char *list)
{
    FILE *f = fopen(list, "r");
    if (!f) return cli_error(WHAT, "@%s: %s", list, strerror(errno));
    const char *slash = strrchr(list, '/');
    int dir_len = slash ? (int)(slash - list) : 0, rc = 0, lines = 0;
    char line[PATH_MAX], path[PATH_MAX];
    while (!rc && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            rc = cli_error(WHAT, "@%s: line %d is longer than %d characters", list, lines + 1, PATH_MAX - 2);
            break;
        }
        lines++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) line[--n] = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#') continue;
        if (*s == '/' || !slash) snprintf(path, sizeof path, "%s", s);
        else if (snprintf(path, sizeof path, "%.*s/%s", dir_len, list, s) >= (int)sizeof path) {
            rc = cli_error(WHAT, "@%s: line %d: path too long", list, lines);
            break;
        }
        char as[PATH_MAX];
        rc = add_argument(l, path, *s != '/' && clean_relative(s, as, sizeof as) ? as : NULL);
    }
    if (!rc && ferror(f)) rc = cli_error(WHAT, "@%s: read error", list);
    fclose(f);
    return rc;
}

typedef struct named { const char *name; int index; } named;
static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->index - y->index;
}

/* Two inputs with one output name would overwrite each other's masks: refused before any is
 * predicted. */
static int check_names(const input_list *l, const char *dir)
{
    named *v = malloc(sizeof *v * (size_t)(l->n ? l->n : 1));
    if (!v) return cli_error(WHAT, "out of memory");
    for (int i = 0; i < l->n; i++) v[i] = (named){ l->v[i].name, i };
    qsort(v, (size_t)l->n, sizeof *v, named_cmp);
    int rc = 0;
    for (int i = 1; i < l->n && !rc; i++)
        if (!strcmp(v[i - 1].name, v[i].name))
        {
            const input *a = &l->v[v[i - 1].index], *b = &l->v[v[i].index];
            /* images given on their own from two folders: naming their common folder instead keeps
             * the subfolders apart */
            const char *sa = strrchr(a->path, '/'), *sb = strrchr(b->path, '/');
            size_t da = sa ? (size_t)(sa - a->path) : 0, db = sb ? (size_t)(sb - b->path) : 0;
            int alone = !strchr(a->name, '/') && !strchr(b->name, '/') && (da != db || strncmp(a->path, b->path, da));
            rc = cli_error(WHAT, "%s and %s would both write %s/%s_mask.png%s", a->path, b->path, dir, v[i].name,
                           alone ? " (an image given on its own is named by its stem; give a folder holding both to "
                                   "keep their subfolders apart)" : "");
        }
    free(v);
    return rc;
}

/* ---- predicting ------------------------------------------------------------------------------- */

typedef struct job {
    const model_list *ms;
    const char *dir;
    ftn_predict_config cfg;
    size_t max_pixels;
    int overlay, probs;
    int progress;        /* stderr is a terminal: one updating line */
    int stdout_tty;      /* stdout is that terminal too: the line is cleared before a result */
} job;

/* DIR/NAME + suffix, its folder made. */
static int out_path(const job *j, const input *in, const char *suffix, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s%s", j->dir, in->name, suffix) >= (int)cap) return cli_error(WHAT, "%s: path too long", in->path);
    char *slash = strrchr(out, '/');
    *slash = 0;
    ftn_status s = ftn_mkdirs(out);
    *slash = '/';
    return s ? cli_lib_error(WHAT) : 0;
}

static int predict_one(const job *j, const input *in)
{
    ftn_image img;
    float *prob = NULL, *maskf = NULL;
    uint8_t *mask = NULL, *buf = NULL;
    int rc = 0;
    if (ftn_image_read_limit(in->path, j->max_pixels, &img)) return cli_lib_error(WHAT);
    size_t np = (size_t)img.width * img.height, area = 0;
    if (ftn_predict_ensemble(j->ms->s, j->ms->n, &img, &j->cfg, &prob)) {
        rc = cli_error(WHAT, "%s: %s", in->path, ftn_last_error());
        goto done;
    }
    mask = malloc(np);
    buf = malloc(np * 3);
    if (!mask || !buf) { rc = cli_error(WHAT, "%s: out of memory", in->path); goto done; }
    if (ftn_predict_mask(prob, img.height, img.width, &j->cfg, mask, &area)) { rc = cli_lib_error(WHAT); goto done; }
    for (size_t p = 0; p < np; p++) buf[p] = mask[p] ? 255 : 0;
    char out[PATH_MAX + 64], line[3 * PATH_MAX];
    if (out_path(j, in, "_mask.png", out, sizeof out)) { rc = 1; goto done; }
    if (ftn_image_write_png(out, img.width, img.height, 1, buf)) { rc = cli_lib_error(WHAT); goto done; }
    int len = snprintf(line, sizeof line, "%s: %dx%d, lesion %.2f%% -> %s", in->path, img.width, img.height,
                       100.0 * (double)area / (double)np, out);
    if (j->overlay) { /* the mask as written (after --largest-component), not the raw threshold */
        if (!(maskf = malloc(sizeof(float) * np))) { rc = cli_error(WHAT, "%s: out of memory", in->path); goto done; }
        for (size_t p = 0; p < np; p++) maskf[p] = mask[p];
        ftn_overlay_rgb(&img, maskf, 0.5f, NULL, buf);
        if (out_path(j, in, "_overlay.png", out, sizeof out)) { rc = 1; goto done; }
        if (ftn_image_write_png(out, img.width, img.height, 3, buf)) { rc = cli_lib_error(WHAT); goto done; }
        if (len < (int)sizeof line) len += snprintf(line + len, sizeof line - (size_t)len, ", %s", out);
    }
    if (j->probs) {
        int64_t dims[2] = { img.height, img.width };
        if (out_path(j, in, "_prob.npy", out, sizeof out)) { rc = 1; goto done; }
        if (ftn_npy_write_f32(out, 2, dims, prob)) { rc = cli_lib_error(WHAT); goto done; }
        if (len < (int)sizeof line) snprintf(line + len, sizeof line - (size_t)len, ", %s", out);
    }
    if (j->stdout_tty) fputs("\r\033[K", stderr);
    printf("%s\n", line);
    fflush(stdout);
done:
    free(buf);
    free(mask);
    free(maskf);
    free(prob);
    ftn_image_free(&img);
    return rc;
}

static int run(cli_command *cmd, int argc, char **argv)
{
    const char *dir = cli_get(cmd, "output");
    if (argc < 1) return cli_error(WHAT, "expected CHECKPOINT... and INPUT... (see ftunet predict --help)");
    if (!dir) return cli_error(WHAT, "missing -o DIR");
    job j = { .dir = dir, .cfg = ftn_predict_default() };
    int maxp = 0;
    ftn_engine engine;
    if (cli_float(cmd, "threshold", 0, 1, &j.cfg.threshold) || cli_int(cmd, "max-pixels", 1, 2000000000, &maxp) ||
        cli_engine_threads(cmd, &engine))
        return 1;
    j.max_pixels = (size_t)maxp;
    if (cli_get(cmd, "resize") && ftn_resize_parse(cli_get(cmd, "resize"), &j.cfg.resize))
        return cli_error(WHAT, "--resize %s: expected nearest, area or bilinear", cli_get(cmd, "resize"));
    if (cli_get(cmd, "tta") && ftn_tta_parse(cli_get(cmd, "tta"), &j.cfg.tta))
        return cli_error(WHAT, "--tta %s: expected none or flips", cli_get(cmd, "tta"));
    if (cli_get(cmd, "upsample") && ftn_upsample_parse(cli_get(cmd, "upsample"), &j.cfg.upsample))
        return cli_error(WHAT, "--upsample %s: expected nearest or bilinear", cli_get(cmd, "upsample"));
    j.cfg.largest_component = cli_get(cmd, "largest-component") != NULL;
    j.overlay = cli_get(cmd, "overlay") != NULL;
    j.probs = cli_get(cmd, "probabilities") != NULL;
    ftn_precision precision;
    if (cli_precision(cmd, engine, NULL, &precision)) return 1;

    /* models first: the leading arguments that are checkpoints or run / cv folders */
    model_list ms = { 0 };
    input_list in = { 0 };
    char out_real[PATH_MAX];
    int rc = 0, k = 0;
    for (; k < argc && !rc && argv[k][0] != '@' && model_list_is_model(argv[k]); k++) rc = model_list_add(&ms, WHAT, argv[k]);
    if (!rc && k == 0) {
        struct stat sb;
        rc = stat(argv[0], &sb) && argv[0][0] != '@'
                 ? cli_error(WHAT, "%s: %s", argv[0], strerror(errno))
                 : cli_error(WHAT, "%s is not a checkpoint: the arguments start with one or more models (a .safetensors "
                             "file, a run folder, a cross-validation folder), then the images", argv[0]);
    }
    if (!rc && ms.n > 1 && !cli_get(cmd, "ensemble"))
        rc = cli_error(WHAT, "%d checkpoints given (%s, %s%s): pass --ensemble to average them", ms.n, ms.paths[0],
                       ms.paths[1], ms.n > 2 ? ", ..." : "");
    if (!rc && k == argc) rc = cli_error(WHAT, "no images: give images, folders or @LIST after the checkpoint");
    in.out_real = realpath(dir, out_real) ? out_real : NULL;
    for (int i = k; i < argc && !rc; i++) {
        if (argv[i][0] == '@') rc = add_list(&in, argv[i] + 1);
        else if (model_list_is_model(argv[i]) && strrchr(argv[i], '.') && !strcasecmp(strrchr(argv[i], '.'), ".safetensors"))
            rc = cli_error(WHAT, "%s: a checkpoint among the images (checkpoints come first)", argv[i]);
        else rc = add_argument(&in, argv[i], NULL);
    }
    if (!rc && in.n == 0) rc = cli_error(WHAT, "no images in the list(s) given");
    if (!rc) rc = check_names(&in, dir);
    if (!rc) rc = model_list_open(&ms, WHAT, j.cfg.tta == FTN_TTA_FLIPS ? 4 : 1, engine, precision); /* batch 4: the four flips in one forward */
    if (!rc && ftn_mkdirs(dir)) rc = cli_lib_error(WHAT);
    if (!rc) {
        j.ms = &ms;
        j.progress = isatty(STDERR_FILENO);
        j.stdout_tty = j.progress && isatty(STDOUT_FILENO);
        double t0 = cli_now_s();
        for (int i = 0; i < in.n && !rc; i++) {
            rc = predict_one(&j, &in.v[i]);
            if (!rc && j.progress) {
                double t = cli_now_s() - t0;
                fprintf(stderr, "\r\033[Kpredict: %d/%d images, %.2f images/s", i + 1, in.n, t > 0 ? (i + 1) / t : 0.0);
                fflush(stderr);
            }
        }
        if (j.progress) fputs("\r\033[K", stderr);
        double t = cli_now_s() - t0;
        if (!rc)
            fprintf(stderr, "predicted %d image%s in %.2f s (%.2f images/s)\n", in.n, in.n == 1 ? "" : "s", t,
                    t > 0 ? in.n / t : 0.0);
    }
    inputs_free(&in);
    model_list_free(&ms);
    return rc;
}

cli_command cmd_predict = {
    "predict", "CHECKPOINT... INPUT... -o DIR [--ensemble] [--tta flips] [--upsample bilinear] [--largest-component]",
    "Segment images with a checkpoint or an ensemble, at each image's original size.",
    "Segment images with a checkpoint, at each image's original size.\n"
    "\n"
    "Arguments: the models first, then the inputs. Each leading argument that is a .safetensors\n"
    "file, a run folder (its best.safetensors) or a cross-validation folder (its\n"
    "fold-N/best.safetensors, one per fold) is a model; the first one that is not starts the inputs.\n"
    "More than one checkpoint needs --ensemble (their probabilities are averaged, each network\n"
    "resizing the image to its own input size). An input is an image file, a folder (its images,\n"
    ".png .jpg .jpeg .bmp .tif .tiff .webp in any case, searched recursively) or @LIST (a text\n"
    "file, one image or folder per line, relative to the list's folder; # comments).\n"
    "\n"
    "Outputs: DIR/NAME_mask.png (0/255), optionally NAME_overlay.png and NAME_prob.npy. NAME is an\n"
    "image file's stem, or for an image found in a folder its path below that folder without the\n"
    "extension, so scans/a/x.png and scans/b/x.png become DIR/a/x_mask.png and DIR/b/x_mask.png\n"
    "(a list's relative line: its path as written).\n"
    "One line per image on stdout; on stderr a progress line (on a terminal) and the throughput.",
    "ftunet predict runs/bus-ftl/best.safetensors scan.png -o out\n"
    "ftunet predict runs/bus-ftl/best.safetensors scans/ -o out --tta flips\n"
    "ftunet predict runs/bus-ftl scans/ -o out --upsample bilinear --overlay\n"
    "ftunet predict --ensemble runs/bus-cv5 other.safetensors @test.txt -o out --largest-component",
    options, run,
};
