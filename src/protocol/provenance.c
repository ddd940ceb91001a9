#include "protocol/provenance.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "core/fs.h"
#include "ftunet_commit.h" /* generated: FTUNET_COMMIT (cmake/git_describe.cmake) */
#include "protocol/run_folder.h"

const char *ftn_build_commit(void) { return FTUNET_COMMIT; }

/* The short names oneDNN's documentation uses for its ISA levels. */
static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* "model name" of /proc/cpuinfo (Linux x86), else "unknown". */
static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *v = strchr(line, ':');
        if (!v) break;
        for (v++; *v == ' ' || *v == '\t'; v++) {}
        snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
        break;
    }
    fclose(f);
}

static cJSON *session_json(const ftn_train_config *cfg, int resuming, int epochs_done)
{
    cJSON *s = cJSON_CreateObject();
    if (!s) return NULL;
    char buf[512];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm)) cJSON_AddStringToObject(s, "started", buf);
    cJSON_AddBoolToObject(s, "resumed", resuming != 0);
    cJSON_AddNumberToObject(s, "from_epoch", epochs_done);
    cJSON_AddStringToObject(s, "ftunet", FTUNET_VERSION_STRING);
    cJSON_AddStringToObject(s, "commit", ftn_build_commit());
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(s, "cpu", buf);
    cJSON_AddNumberToObject(s, "cpus_online", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(s, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(s, "engine", ftn_engine_name(cfg->engine));
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    cJSON_AddStringToObject(s, "onednn", buf);
    cJSON_AddStringToObject(s, "onednn_isa", isa_name(dnnl_get_effective_cpu_isa()));
    cJSON_AddStringToObject(s, "precision", ftn_precision_name(cfg->precision));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(s, "os", buf);
    }
    return s;
}

ftn_status ftn_run_provenance_write(const char *run_dir, const ftn_train_config *cfg, int resuming, int epochs_done)
{
    if (!run_dir || !cfg) return ftn_fail(FTN_EINVAL, "provenance: missing argument");
    char path[FTN_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", run_dir, FTN_RUN_PROVENANCE) >= (int)sizeof path)
        return ftn_fail(FTN_EINVAL, "%s: path too long", run_dir);
    cJSON *root = NULL;
    /* a resume keeps the sessions before it; an unreadable file is only history, so it starts over */
    if (resuming && ftn_json_read(path, 4u << 20, &root) == FTN_OK &&
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "sessions"))) {
        cJSON_Delete(root);
        root = NULL;
    }
    if (!root && (root = cJSON_CreateObject())) cJSON_AddArrayToObject(root, "sessions");
    cJSON *s = session_json(cfg, resuming, epochs_done);
    if (!root || !s) {
        cJSON_Delete(root), cJSON_Delete(s);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(root, "sessions"), s);
    ftn_status st = ftn_json_write(path, root);
    cJSON_Delete(root);
    return st;
}
