/* The four networks of docs/ARCHITECTURE.md, as graphs, and the blocks they share. */
#ifndef FTN_NETWORKS_H
#define FTN_NETWORKS_H

#include "engine/graph.h"

/* The networks ftn_network_build knows, NULL-terminated (the public ftn_model_names). */
const char *const *ftn_network_names(void);
/* Builds `name` for an n×c×h×w input into an initialised, empty graph. */
ftn_status ftn_network_build(const char *name, ftn_graph *g, int n, int c, int h, int w);

/* Shared blocks (blocks.c). `name` is the parameter prefix. */
typedef enum { BLOCK_BN = 1, BLOCK_NO_BN = 0 } block_norm;
/* conv1 3×3 → [bn1] → ReLU → conv2 3×3 → [bn2] → ReLU */
int ftn_conv_block(ftn_graph *g, const char *name, int x, int co, block_norm norm);
/* conv1 3×3 → ReLU only ("1 conv" variant, no BN) */
int ftn_conv_single(ftn_graph *g, const char *name, int x, int co);
/* gatingK: conv 1×1 C→C → BN → ReLU */
int ftn_gating_signal(ftn_graph *g, const char *name, int x);
/* attnK(x, g, inter): additive attention gate; returns bn(out(up2x(a) ⊙ x)) */
int ftn_attention_gate(ftn_graph *g, const char *name, int x, int gate, int inter);
/* upT(ci→co): transposed conv 3×3, stride 2, pad 1, output pad 1 */
int ftn_up_transposed(ftn_graph *g, const char *name, int x, int co);
/* headK: conv 1×1 → 1 channel, then sigmoid */
int ftn_sigmoid_head(ftn_graph *g, const char *name, int x);

int ftn_unet(ftn_graph *g, int x);
int ftn_attn_unet(ftn_graph *g, int x);
int ftn_attn_unet_ds(ftn_graph *g, int x, int with_pyramid);

#endif
