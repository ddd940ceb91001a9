/*
 * Whether this CPU can run the oneDNN engine's bf16 and Winograd precisions (as oneDNN sees it:
 * ONEDNN_MAX_CPU_ISA lowers what it uses).
 */
#include "engine/dnnl/internal.h"

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
    case dnnl_cpu_isa_avx512_mic: return "AVX-512 (Xeon Phi)";
    case dnnl_cpu_isa_avx512_mic_4ops: return "AVX-512 (Xeon Phi, 4ops)";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI, no BF16";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX512-BF16";
    case dnnl_cpu_isa_avx512_core_amx: return "AMX";
    default: return "no vector extensions oneDNN uses";
    }
}

ftn_status ftn_dnnl_bf16_check(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) != (unsigned)dnnl_cpu_isa_avx512_core_bf16)
        return ftn_fail(FTN_EUNSUPPORTED, "bf16 needs a CPU with AVX512-BF16 (this one has %s)", isa_name(isa));
    return FTN_OK;
}

ftn_status ftn_dnnl_winograd_check(void)
{
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core) != (unsigned)dnnl_cpu_isa_avx512_core)
        return ftn_fail(FTN_EUNSUPPORTED, "fp32-winograd needs a CPU with AVX-512 (this one has %s)", isa_name(isa));
    return FTN_OK;
}
