/* `unet`: the baseline (docs/ARCHITECTURE.md, "unet"). Encoder with BN, decoder without, 2×2
 * transposed convolutions without activation, one sigmoid output. */
#include "networks/networks.h"

int ftn_unet(ftn_graph *g, int x)
{
    int enc1 = ftn_conv_block(g, "enc1", x, 32, BLOCK_BN);
    int enc2 = ftn_conv_block(g, "enc2", ftn_g_maxpool2(g, enc1), 64, BLOCK_BN);
    int enc3 = ftn_conv_block(g, "enc3", ftn_g_maxpool2(g, enc2), 128, BLOCK_BN);
    int enc4 = ftn_conv_block(g, "enc4", ftn_g_maxpool2(g, enc3), 256, BLOCK_BN);
    int center = ftn_conv_block(g, "center", ftn_g_maxpool2(g, enc4), 512, BLOCK_NO_BN);

    int up1 = ftn_g_deconv(g, "up1", center, 256, 2, 2, 0, 0);
    int dec1 = ftn_conv_block(g, "dec1", ftn_g_concat2(g, up1, enc4), 256, BLOCK_NO_BN);
    int up2 = ftn_g_deconv(g, "up2", dec1, 128, 2, 2, 0, 0);
    int dec2 = ftn_conv_block(g, "dec2", ftn_g_concat2(g, up2, enc3), 128, BLOCK_NO_BN);
    int up3 = ftn_g_deconv(g, "up3", dec2, 64, 2, 2, 0, 0);
    int dec3 = ftn_conv_single(g, "dec3", ftn_g_concat2(g, up3, enc2), 64);
    int up4 = ftn_g_deconv(g, "up4", dec3, 32, 2, 2, 0, 0);
    int dec4 = ftn_conv_block(g, "dec4", ftn_g_concat2(g, up4, enc1), 32, BLOCK_NO_BN);

    int out1 = ftn_sigmoid_head(g, "head1", dec4);
    ftn_g_output(g, out1);
    return out1;
}
