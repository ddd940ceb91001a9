#!/bin/sh
# Peak RSS of a training run against the size of its data set (docs/PERFORMANCE.md, "Streaming
# data pipeline"): synthetic dermoscopy sets of SMALL and LARGE images at 192x256x3 on disk, one
# epoch of unet at 64x64 with --cache-mb CACHE, under /usr/bin/time -v (package `time`).
# usage: scripts/stream_rss.sh FTUNET [SMALL] [LARGE] [CACHE_MB]   (defaults 500 20000 256)
# The data sets go under ${TMPDIR:-/tmp} and are removed afterwards.
set -eu
ftunet=${1:?usage: stream_rss.sh FTUNET [SMALL] [LARGE] [CACHE_MB]}
small=${2:-500}
large=${3:-20000}
cache=${4:-256}
work=$(mktemp -d "${TMPDIR:-/tmp}/ftunet-rss-XXXXXX")
trap 'rm -rf "$work"' EXIT
for n in "$small" "$large"; do
    nice -n 10 "$ftunet" synth --kind dermoscopy -n "$n" -o "$work/data-$n" --size 192x256 >/dev/null
    /usr/bin/time -v nice -n 10 "$ftunet" train "$work/data-$n" -o "$work/run-$n" -m unet --size 64x64 --channels 3 \
        --epochs 1 --cache-mb "$cache" --test-split 0.01 2>"$work/time-$n.txt" >/dev/null
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time-$n.txt")
    echo "images $n  cache ${cache} MiB  peak RSS $((rss / 1024)) MiB"
    rm -rf "$work/data-$n" "$work/run-$n"
done
