#include <string.h>

#include "core/error.h"
#include "networks/networks.h"

static const char *const model_names[] = { "unet", "attn-unet", "attn-unet-ds", "attn-unet-mi-ds", NULL };

const char *const *ftn_network_names(void) { return model_names; }

ftn_status ftn_network_build(const char *name, ftn_graph *g, int n, int c, int h, int w)
{
    if (c != 1 && c != 3) return ftn_fail(FTN_EINVAL, "model %s: %d input channels; 1 or 3 are supported", name, c);
    if (h <= 0 || w <= 0 || h % 16 || w % 16)
        return ftn_fail(FTN_EINVAL, "model %s: size %dx%d; height and width must be positive multiples of 16", name, h, w);
    if (n <= 0) return ftn_fail(FTN_EINVAL, "model %s: batch %d must be positive", name, n);
    int x = ftn_g_input(g, (ftn_shape){ n, c, h, w });
    if (!strcmp(name, "unet")) ftn_unet(g, x);
    else if (!strcmp(name, "attn-unet")) ftn_attn_unet(g, x);
    else if (!strcmp(name, "attn-unet-ds")) ftn_attn_unet_ds(g, x, 0);
    else if (!strcmp(name, "attn-unet-mi-ds")) ftn_attn_unet_ds(g, x, 1);
    else return ftn_fail(FTN_EINVAL, "unknown model '%s' (models: unet, attn-unet, attn-unet-ds, attn-unet-mi-ds)", name);
    return g->error;
}
