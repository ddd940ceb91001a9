/* The attention U-Nets (docs/ARCHITECTURE.md): `attn-unet`, `attn-unet-ds` and the paper's
 * `attn-unet-mi-ds` (input pyramid + attention gates + deep supervision). */
#include "networks/networks.h"

#define relu(x) ftn_g_relu(g, (x))
#define cat(a, b) ftn_g_concat2(g, (a), (b))
#define maxpool2(x) ftn_g_maxpool2(g, (x))
#define avgpool2(x) ftn_g_avgpool2(g, (x))

/* Each line builds one thing: C leaves the order of a call's arguments open, and the order in
 * which layers are built is the parameters' order, hence what a seed initialises. As the
 * reference builds them: an attention gate before the up-convolution it is concatenated with,
 * a max pooling before the pyramid convolution. */

/* The decoder's concatenations cat1..cat4 (out[0..3]), the same in every attention U-Net's table. */
static void attention_cats(ftn_graph *g, int enc1, int enc2, int enc3, int enc4, int center, int out[4])
{
    int attn1 = ftn_attention_gate(g, "attn1", enc4, ftn_gating_signal(g, "gating1", center), 128);
    int cat1 = cat(relu(ftn_up_transposed(g, "up1", center, 32)), attn1);
    int attn2 = ftn_attention_gate(g, "attn2", enc3, ftn_gating_signal(g, "gating2", cat1), 64);
    int cat2 = cat(relu(ftn_up_transposed(g, "up2", cat1, 64)), attn2);
    /* gating3 reads cat1, as the reference does */
    int attn3 = ftn_attention_gate(g, "attn3", enc2, ftn_gating_signal(g, "gating3", cat1), 32);
    int cat3 = cat(relu(ftn_up_transposed(g, "up3", cat2, 32)), attn3);
    int cat4 = cat(relu(ftn_up_transposed(g, "up4", cat3, 32)), enc1);
    out[0] = cat1, out[1] = cat2, out[2] = cat3, out[3] = cat4;
}

/* `attn-unet`: plain attention U-Net, no decoder blocks, one output. */
int ftn_attn_unet(ftn_graph *g, int x)
{
    int enc1 = ftn_conv_block(g, "enc1", x, 32, BLOCK_BN);
    int enc2 = ftn_conv_block(g, "enc2", maxpool2(enc1), 32, BLOCK_BN);
    int enc3 = ftn_conv_block(g, "enc3", maxpool2(enc2), 64, BLOCK_BN);
    int enc4 = ftn_conv_block(g, "enc4", maxpool2(enc3), 64, BLOCK_BN);
    int center = ftn_conv_block(g, "center", maxpool2(enc4), 128, BLOCK_BN);

    int cats[4];
    attention_cats(g, enc1, enc2, enc3, enc4, center, cats);

    int out1 = ftn_sigmoid_head(g, "head1", cats[3]);
    ftn_g_output(g, out1);
    return out1;
}

/* `attn-unet-ds` (with_pyramid = 0) and `attn-unet-mi-ds` (with_pyramid = 1). */
int ftn_attn_unet_ds(ftn_graph *g, int x, int with_pyramid)
{
    int enc1 = ftn_conv_block(g, "enc1", x, 32, BLOCK_BN);
    int enc2, enc3, enc4;
    if (with_pyramid) {
        int x2 = avgpool2(x), x3 = avgpool2(x2), x4 = avgpool2(x3);
        int pool1 = maxpool2(enc1);
        enc2 = ftn_conv_block(g, "enc2", cat(relu(ftn_g_conv(g, "pyramid2", x2, 64, 3, 1, 1)), pool1), 64, BLOCK_BN);
        int pool2 = maxpool2(enc2);
        enc3 = ftn_conv_block(g, "enc3", cat(relu(ftn_g_conv(g, "pyramid3", x3, 128, 3, 1, 1)), pool2), 128, BLOCK_BN);
        int pool3 = maxpool2(enc3);
        enc4 = ftn_conv_block(g, "enc4", cat(relu(ftn_g_conv(g, "pyramid4", x4, 256, 3, 1, 1)), pool3), 64, BLOCK_BN);
    } else {
        enc2 = ftn_conv_block(g, "enc2", maxpool2(enc1), 64, BLOCK_BN);
        enc3 = ftn_conv_block(g, "enc3", maxpool2(enc2), 128, BLOCK_BN);
        enc4 = ftn_conv_block(g, "enc4", maxpool2(enc3), 64, BLOCK_BN);
    }
    int center = ftn_conv_block(g, "center", maxpool2(enc4), 512, BLOCK_BN);

    int cats[4];
    attention_cats(g, enc1, enc2, enc3, enc4, center, cats);
    int cat1 = cats[0], cat2 = cats[1], cat3 = cats[2], cat4 = cats[3];

    int dec1 = ftn_conv_block(g, "dec1", cat1, 256, BLOCK_BN);
    int dec2 = ftn_conv_block(g, "dec2", cat2, 128, BLOCK_BN);
    int dec3 = ftn_conv_block(g, "dec3", cat3, 64, BLOCK_BN);
    int dec4 = ftn_conv_block(g, "dec4", cat4, 32, BLOCK_BN);
    ftn_g_output(g, ftn_sigmoid_head(g, "head1", dec1));
    ftn_g_output(g, ftn_sigmoid_head(g, "head2", dec2));
    ftn_g_output(g, ftn_sigmoid_head(g, "head3", dec3));
    int out4 = ftn_sigmoid_head(g, "head4", dec4);
    ftn_g_output(g, out4);
    return out4;
}
