#!/bin/sh
# make demo: synthesise a small ultrasound-like set, train the paper's attn-unet-mi-ds on it with
# the paper's protocol (scaled down), evaluate on the held-out test images, print the report path.
# usage: sh scripts/demo.sh PATH/TO/ftunet
# Sized for a few minutes on 2 cores with the oneDNN engine (attn-unet-mi-ds at 64x64 is about
# 1.4 GFLOP per image forward, ~4.3 GFLOP per training image; 64 images give 42 training, 6
# validation and 16 test images). BN's running statistics follow the reference (momentum 0.99,
# running variance starting at 1) and need several hundred steps to forget their start — the
# first layer's true variance is ~1e-3 — so the demo takes ~900 small steps rather than fewer
# large ones: before that, inference-mode predictions are poor whatever the training loss. Tune here:
N_IMAGES=64
IMAGE_SIZE=96x128   # synthesised images, height x width (the network resizes them)
NET_SIZE=64x64      # network input, height x width, multiples of 16
EPOCHS=80
BATCH=4
THREADS=2
OUT=demo
set -eu
FT=${1:-build/ftunet}
if ! "$FT" synth --help >/dev/null 2>&1; then
    echo "demo: this build of ftunet has no 'synth' command" >&2
    exit 1
fi
"$FT" synth --kind ultrasound -n "$N_IMAGES" --size "$IMAGE_SIZE" --seed 1 -o "$OUT/data"
echo "demo: training attn-unet-mi-ds for $EPOCHS epochs at $NET_SIZE ($THREADS threads, ${FTUNET_ENGINE:-dnnl} engine)"
start=$(date +%s)
"$FT" train "$OUT/data" -o "$OUT/run" --model attn-unet-mi-ds --loss ftl --size "$NET_SIZE" --epochs "$EPOCHS" \
    --batch "$BATCH" --threads "$THREADS" --overwrite
echo "demo: done in $(( $(date +%s) - start )) s; report: $OUT/run/report.html"
