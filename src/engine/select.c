/* Which engine, how many threads, which precision: the choices a session is created with, and
 * whether this CPU can run them (the precision check belongs to the engine that runs it). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "engine/graph.h"

/* ---- engines ---------------------------------------------------------------------------------- */
ftn_status ftn_engine_from_env(ftn_engine *engine)
{
    const char *v = getenv("FTUNET_ENGINE");
    if (!v || !*v || !strcmp(v, "dnnl") || !strcmp(v, "onednn")) *engine = FTN_ENGINE_DNNL;
    else if (!strcmp(v, "ref")) *engine = FTN_ENGINE_REF;
    else return ftn_fail(FTN_EINVAL, "FTUNET_ENGINE=%s: expected dnnl or ref", v);
    return FTN_OK;
}

const char *ftn_engine_name(ftn_engine engine) { return engine == FTN_ENGINE_REF ? "ref" : "dnnl"; }

void ftn_set_threads(int threads)
{
    if (threads > 0) omp_set_num_threads(threads);
}

int ftn_threads(void) { return omp_get_max_threads(); }

/* ---- precision -------------------------------------------------------------------------------- */
const char *ftn_precision_name(ftn_precision p)
{
    return p == FTN_PRECISION_BF16 ? "bf16" : p == FTN_PRECISION_FP32_WINOGRAD ? "fp32-winograd" : "fp32";
}

ftn_status ftn_precision_parse(const char *name, ftn_precision *p)
{
    if (name && (!strcmp(name, "fp32") || !strcmp(name, "f32"))) *p = FTN_PRECISION_FP32;
    else if (name && !strcmp(name, "bf16")) *p = FTN_PRECISION_BF16;
    else if (name && (!strcmp(name, "fp32-winograd") || !strcmp(name, "winograd"))) *p = FTN_PRECISION_FP32_WINOGRAD;
    else return ftn_fail(FTN_EINVAL, "precision '%s': expected fp32, fp32-winograd or bf16", name ? name : "(null)");
    return FTN_OK;
}

ftn_status ftn_precision_check(ftn_engine engine, ftn_precision p)
{
    if (p == FTN_PRECISION_FP32) return FTN_OK;
    if (p != FTN_PRECISION_BF16 && p != FTN_PRECISION_FP32_WINOGRAD) return ftn_fail(FTN_EINVAL, "precision: unknown value %d", (int)p);
    if (engine == FTN_ENGINE_REF)
        return ftn_fail(FTN_EUNSUPPORTED, "precision: %s needs the oneDNN engine (the reference engine is fp32 only)",
                        ftn_precision_name(p));
    return p == FTN_PRECISION_BF16 ? ftn_dnnl_bf16_check() : ftn_dnnl_winograd_check();
}

/* ---- engine options: the one place the environment is read for them ------------------------ */
ftn_engine_options ftn_engine_options_default(void)
{
    return (ftn_engine_options){ .fuse = true, .cat_in_place = true, .deconv_phases = true };
}

static ftn_status env_switch(const char *name, bool *on)
{
    const char *v = getenv(name);
    if (!v || !*v) return FTN_OK;
    if (!strcmp(v, "0")) *on = false;
    else if (!strcmp(v, "1")) *on = true;
    else return ftn_fail(FTN_EINVAL, "%s=%s: expected 0 or 1", name, v);
    return FTN_OK;
}

ftn_status ftn_engine_options_from_env(ftn_engine_options *o)
{
    *o = ftn_engine_options_default();
    FTN_TRY(env_switch("FTUNET_DNNL_FUSE", &o->fuse));
    FTN_TRY(env_switch("FTUNET_DNNL_CAT_IN_PLACE", &o->cat_in_place));
    FTN_TRY(env_switch("FTUNET_DNNL_DECONV_PHASES", &o->deconv_phases));
    if (!o->fuse) o->cat_in_place = false;
    return FTN_OK;
}
