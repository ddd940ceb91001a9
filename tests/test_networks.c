/* The four networks against docs/ARCHITECTURE.md: parameter counts, names, shapes, outputs, FLOPs. */
#include <math.h>
#include <string.h>

#include "ftunet.h"
#include "testlib.h"

static size_t count(const char *name, int c)
{
    ftn_model *m;
    if (ftn_model_create(name, c, 128, 128, &m) != FTN_OK) return 0;
    size_t n = ftn_model_param_count(m);
    ftn_model_free(m);
    return n;
}

static void check_tensor(ftn_model *m, const char *name, int d0, int d1, int d2, int d3)
{
    int i = ftn_model_tensor_find(m, name);
    CHECK(i >= 0, "%s missing", name);
    if (i < 0) return;
    int dims[4], nd;
    ftn_model_tensor(m, i, dims, &nd);
    int want[4] = { d0, d1, d2, d3 }, wn = d1 ? (d2 ? 4 : 2) : 1;
    CHECK(nd == wn, "%s ndim %d", name, nd);
    for (int k = 0; k < nd && k < wn; k++) CHECK(dims[k] == want[k], "%s dim %d is %d, want %d", name, k, dims[k], want[k]);
}

int main(void)
{
    /* The numbers of ARCHITECTURE.md. */
    CHECK(count("attn-unet-mi-ds", 1) == 5631463, "%zu", count("attn-unet-mi-ds", 1));
    CHECK(count("attn-unet-mi-ds", 3) == 5640103, "%zu", count("attn-unet-mi-ds", 3));
    CHECK(count("attn-unet-ds", 1) == 5295207, "%zu", count("attn-unet-ds", 1));
    CHECK(count("attn-unet", 1) == 846500, "%zu", count("attn-unet", 1));
    CHECK(count("unet", 1) == 7724513, "%zu", count("unet", 1));
    /* C=3 adds 2·(32·9) weights to enc1.conv1 (and 2·9·256 per pyramid conv... only the first
     * layer and pyramid convs see the input channels). */
    CHECK(count("unet", 3) == 7724513 + 2 * 32 * 9, "%zu", count("unet", 3));
    CHECK(count("attn-unet", 3) == 846500 + 2 * 32 * 9, "%zu", count("attn-unet", 3));

    ftn_model *m;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, 128, 128, &m));
    CHECK(ftn_model_output_count(m) == 4);
    CHECK(fabs(ftn_model_forward_flops(m) / 1e9 - 5.73) < 0.005, "%.4f GFLOP", ftn_model_forward_flops(m) / 1e9);
    /* names, shapes and concatenation order as the spec's tables */
    check_tensor(m, "enc1.conv1.weight", 32, 1, 3, 3);
    check_tensor(m, "enc2.conv1.weight", 64, 96, 3, 3);       /* cat[pyramid2 (64), pool(enc1) (32)] */
    check_tensor(m, "enc4.conv1.weight", 64, 384, 3, 3);
    check_tensor(m, "pyramid4.weight", 256, 1, 3, 3);
    check_tensor(m, "center.conv2.weight", 512, 512, 3, 3);
    check_tensor(m, "up1.weight", 512, 32, 3, 3);              /* transposed: [ci, co, k, k] */
    check_tensor(m, "attn1.theta.weight", 128, 64, 2, 2);
    check_tensor(m, "attn1.phi.weight", 128, 512, 1, 1);
    check_tensor(m, "attn1.up.weight", 128, 128, 3, 3);
    check_tensor(m, "attn1.psi.weight", 1, 128, 1, 1);
    check_tensor(m, "attn1.out.weight", 64, 64, 1, 1);
    check_tensor(m, "attn1.bn.running_var", 64, 0, 0, 0);
    check_tensor(m, "gating3.conv.weight", 96, 96, 1, 1);      /* gating3 reads cat1 */
    check_tensor(m, "attn3.phi.weight", 32, 96, 1, 1);
    check_tensor(m, "dec1.conv1.weight", 256, 96, 3, 3);
    check_tensor(m, "dec4.conv1.weight", 32, 64, 3, 3);
    check_tensor(m, "head4.weight", 1, 32, 1, 1);
    check_tensor(m, "head4.bias", 1, 0, 0, 0);
    /* parameter order, which is the order a seed initialises them in, whatever the compiler:
     * each gating signal and attention gate before the up-convolution beside it (the
     * reference's layer order) */
    static const char *const order[] = { "center.bn2.running_var", "gating1.conv.weight", "attn1.bn.running_var",
                                         "up1.weight", "up1.bias", "gating2.conv.weight", "attn2.bn.running_var",
                                         "up2.weight", "gating3.conv.weight", "attn3.bn.running_var", "up3.weight",
                                         "up4.weight", "dec1.conv1.weight" };
    for (size_t k = 1; k < sizeof order / sizeof order[0]; k++)
        CHECK(ftn_model_tensor_find(m, order[k - 1]) < ftn_model_tensor_find(m, order[k]), "%s after %s",
              order[k - 1], order[k]);
    ftn_model_free(m);

    CHECK_OK(ftn_model_create("unet", 3, 64, 96, &m));
    check_tensor(m, "up1.weight", 512, 256, 2, 2);
    check_tensor(m, "dec3.conv1.weight", 64, 128, 3, 3);
    CHECK(ftn_model_tensor_find(m, "dec3.conv2.weight") < 0);
    CHECK(ftn_model_tensor_find(m, "dec1.bn1.weight") < 0, "unet decoder has no BN");
    CHECK(ftn_model_tensor_find(m, "center.bn1.weight") < 0, "unet centre has no BN");
    ftn_model_free(m);
    CHECK_OK(ftn_model_create("unet", 1, 128, 128, &m));
    CHECK(fabs(ftn_model_forward_flops(m) / 1e9 - 5.71) < 0.01, "%.4f GFLOP", ftn_model_forward_flops(m) / 1e9);
    ftn_model_free(m);

    /* bad shapes are refused with a message */
    CHECK(ftn_model_create("unet", 1, 120, 128, &m) == FTN_EINVAL && strstr(ftn_last_error(), "16"));
    CHECK(ftn_model_create("unet", 2, 128, 128, &m) == FTN_EINVAL);
    CHECK(ftn_model_create("vnet", 1, 128, 128, &m) == FTN_EINVAL && strstr(ftn_last_error(), "vnet"));
    return tl_finish();
}
