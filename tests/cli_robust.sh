#!/bin/sh
# Inputs that are not what a command expects are refused at once with one clean line:
# FIFOs (which would block a plain open() until a writer comes), empty path options, an empty
# data set folder, a 0/1 label mask. usage: sh tests/cli_robust.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
# Runs CMD under a 10-second timeout: a command that blocks is killed (exit 124) and fails.
fast() { timeout 10 "$@" </dev/null; }

must "$FT" synth --kind ultrasound -n 4 -o "$T/data" --seed 4 --size 32x32
must "$FT" init --model attn-unet --size 16x16 --seed 1 -o "$T/ck.safetensors"
mkfifo "$T/pipe.png" "$T/pipe.safetensors" "$T/pipe.csv" || bad "mkfifo"

# FIFOs: an image, a checkpoint, a data set CSV; each refused naming the path
fails_cleanly "predict: a FIFO image" fast "$FT" predict "$T/ck.safetensors" "$T/pipe.png" -o "$T/pred"
grep -q 'pipe.png: not a regular file' "$T/err" && ok "predict: the FIFO is named" || bad "predict FIFO: $(cat "$T/err")"
fails_cleanly "predict: a FIFO checkpoint" fast "$FT" predict "$T/pipe.safetensors" "$T/data/images/0000.png" -o "$T/pred"
grep -q 'pipe.safetensors: not a regular file' "$T/err" && ok "predict: the FIFO checkpoint is named" || bad "$(cat "$T/err")"
fails_cleanly "stats: a FIFO data set" fast "$FT" stats "$T/pipe.csv"
grep -q 'pipe.csv: not a folder or a regular' "$T/err" && ok "stats: the FIFO is named" || bad "stats FIFO: $(cat "$T/err")"
printf 'image,mask\n%s,%s\n' "$T/pipe.png" "$T/data/masks/0000.png" >"$T/list.csv"
fails_cleanly "stats: a CSV naming a FIFO" fast "$FT" stats "$T/list.csv"
grep -q 'pipe.png: not a regular file' "$T/err" && ok "stats: the CSV's FIFO is named" || bad "$(cat "$T/err")"

# empty path options
fails_cleanly "train: -o ''" fast "$FT" train "$T/data" -o ''
grep -qx 'ftunet: train: -o: empty path' "$T/err" && ok "train: -o '' message" || bad "train -o '': $(cat "$T/err")"
fails_cleanly "train: --output=" fast "$FT" train "$T/data" --output=
grep -qx 'ftunet: train: --output: empty path' "$T/err" && ok "train: --output= message" || bad "$(cat "$T/err")"
fails_cleanly "predict: -o ''" fast "$FT" predict "$T/ck.safetensors" "$T/data/images/0000.png" -o ''
fails_cleanly "init: -o ''" fast "$FT" init --model attn-unet --size 16x16 -o ''
fails_cleanly "train: --epochs ''" fast "$FT" train "$T/data" -o "$T/run" --epochs ''

# an empty data set folder
mkdir -p "$T/void/images" "$T/void/masks"
fails_cleanly "stats: empty folders" fast "$FT" stats "$T/void"
grep -q 'no image files' "$T/err" && ok "stats: empty folders message" || bad "empty folders: $(cat "$T/err")"

# a 0/1 label mask: the lesion is read, not an empty mask
mkdir -p "$T/bin/images" "$T/bin/masks"
cp "$T/data/images/0000.png" "$T/bin/images/a.png"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$T/bin/masks/a.png" <<'PY' || bad "python3: writing a 0/1 PNG"
import struct, sys, zlib
w = h = 32
rows = b"".join(b"\0" + bytes(1 if 8 <= x < 24 and 8 <= y < 24 else 0 for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
    must "$FT" stats "$T/bin"
    # 16×16 of 32×32: a quarter
    grep -q 'lesion area: *0.25' "$T/out" && ok "stats: a 0/1 mask" || bad "0/1 mask: $(cat "$T/out")"
else
    echo "skip: no python3 to write a 0/1 PNG"
fi

# a NaN input to forward gave NaN outputs and exit 0; now it is refused naming the image. The
# .npy (1×1×16×16 float32, first pixel $1: NaN or 0.5) is written by hand: a 128-byte header.
npy16() {
    printf '\223NUMPY\001\000\166\000'
    printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 16, 16), }"
    if [ "$1" = nan ]; then printf '\000\000\300\177'; else printf '\000\000\000\077'; fi
    i=1; while [ $i -lt 256 ]; do printf '\000\000\000\077'; i=$((i + 1)); done
}
npy16 half >"$T/half.npy" && npy16 nan >"$T/nan.npy"
must fast "$FT" forward "$T/ck.safetensors" "$T/half.npy" -o "$T/fwd-ok"
fails_cleanly "forward: a NaN input" fast "$FT" forward "$T/ck.safetensors" "$T/nan.npy" -o "$T/fwd-nan"
grep -q 'nan.npy: image 0 holds a non-finite value' "$T/err" && ok "forward: the NaN image is named" || bad "forward NaN: $(cat "$T/err")"

# an unknown loss named by the option it came from (the library's message names no option)
fails_cleanly "train: --loss xyz" fast "$FT" train "$T/data" -o "$T/run-loss" --loss xyz
grep -qx "ftunet: train: --loss xyz: expected dl, tl or ftl" "$T/err" && ok "train: --loss xyz message" || bad "--loss xyz: $(cat "$T/err")"

# masks with no lesion pixel anywhere: stats warns, train refuses before training (it trained to
# DSC 0 without a word). An .npy data set: 4 images of 16x16 at 0.5, masks all 0.
npy_4x16x16() { # $1: the float's 4 bytes as printf octal escapes
    printf '\223NUMPY\001\000\166\000'
    printf "%-117s\n" "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 16, 16), }"
    i=0; while [ $i -lt 1024 ]; do printf "$1"; i=$((i + 1)); done
}
mkdir -p "$T/blank"
npy_4x16x16 '\000\000\000\077' >"$T/blank/images.npy" && npy_4x16x16 '\000\000\000\000' >"$T/blank/masks.npy"
if "$FT" stats "$T/blank" >"$T/out" 2>"$T/err"; then
    grep -q 'empty masks: 4' "$T/out" && grep -q 'warning: every mask is empty' "$T/err" \
        && ok "stats: all-empty masks warned" || bad "stats all-empty: $(cat "$T/out" "$T/err")"
else bad "stats on all-empty masks failed: $(cat "$T/err")"; fi
fails_cleanly "train: all-empty masks" fast "$FT" train "$T/blank" -o "$T/run-blank" --size 16x16 --epochs 1 --batch 2
grep -q 'every mask of the training split (3 images) is empty' "$T/err" && [ ! -e "$T/run-blank/last.safetensors" ] \
    && ok "train: all-empty masks refused" || bad "train all-empty: $(cat "$T/err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
