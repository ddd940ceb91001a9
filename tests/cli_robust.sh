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
grep -qx "ftunet: train: --loss xyz: expected dl, tl, ftl or dice-bce" "$T/err" && ok "train: --loss xyz message" || bad "--loss xyz: $(cat "$T/err")"

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

# sizes are HxW everywhere: synth --size 32x64 is 32 high and 64 wide (it was 64 high, 32 wide);
# the PNG's IHDR holds width then height, big-endian
png_wh() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'; }
must "$FT" synth --kind dermoscopy -n 1 -o "$T/wide" --size 32x64
[ "$(png_wh "$T/wide/images/0000.png")" = 64x32 ] && [ "$(png_wh "$T/wide/masks/0000.png")" = 64x32 ] \
    && ok "synth: --size 32x64 is 32 high, 64 wide" || bad "synth --size 32x64 gave WxH $(png_wh "$T/wide/images/0000.png")"
grep -q '32x64 (HxW)' "$T/out" && ok "synth: prints HxW" || bad "synth output: $(cat "$T/out")"
"$FT" synth --help >"$T/out" 2>&1
grep -q -- '--size HxW' "$T/out" && grep -q 'height x width' "$T/out" && ok "synth --help: HxW" || bad "synth --help: $(cat "$T/out")"
fails_cleanly "synth: --size 4x64" fast "$FT" synth -n 1 -o "$T/x" --size 4x64
grep -q 'expected HxW (height x width)' "$T/err" && ok "synth: size message names HxW" || bad "$(cat "$T/err")"
# train --size not multiples of 16: the convention named, which value is off, that swapping
# would not help, and the nearest sizes that would
fails_cleanly "train: --size 500x375" fast "$FT" train "$T/data" -o "$T/run-size" --size 500x375
grep -qx 'ftunet: train: --size 500x375: HxW (height x width) must each be a multiple of 16: neither 500 (height) nor 375 (width) is, in either order; nearest: 496x368 or 512x384' "$T/err" \
    && ok "train: --size 500x375 message" || bad "--size 500x375: $(cat "$T/err")"
fails_cleanly "train: --size 512x375" fast "$FT" train "$T/data" -o "$T/run-size" --size 512x375
grep -qx 'ftunet: train: --size 512x375: HxW (height x width) must each be a multiple of 16: 375 (the width) is not, and swapping them would not change that; nearest: 512x368 or 512x384' "$T/err" \
    && ok "train: --size 512x375 message" || bad "--size 512x375: $(cat "$T/err")"
fails_cleanly "init: --size 8x16" fast "$FT" init --model attn-unet --size 8x16 -o "$T/x.safetensors"
grep -q '8 (the height) is not.*nearest: 16x16$' "$T/err" && ok "init: --size 8x16 message" || bad "--size 8x16: $(cat "$T/err")"
fails_cleanly "train: --size 128" fast "$FT" train "$T/data" -o "$T/run-size" --size 128
grep -q 'expected HxW (height x width)' "$T/err" && ok "train: --size 128 message" || bad "--size 128: $(cat "$T/err")"
[ ! -e "$T/run-size" ] && ok "train: no run folder for a bad size" || bad "train made $T/run-size for a bad --size"

echo "$fails failed"
[ "$fails" -eq 0 ]
