#!/bin/sh
# ftunet augment: K augmented pairs of the network size, their overlays and augment.json; the same
# seed gives the same files; preset none writes the samples as loaded; bad options are refused
# with one line naming the option or key.
# usage: sh tests/cli_augment.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
. "$(dirname "$0")/lib_cli.sh"
# PNG width x height from the IHDR chunk, and its colour type (0 grey, 2 RGB)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'; }
png_colour() { od -An -tu1 -j25 -N1 "$1" | tr -d ' '; }
count() { ls "$1" | wc -l | tr -d ' '; }

must "$FT" synth --kind ultrasound -n 3 -o "$T/data" --seed 2 --size 48x40
must "$FT" augment "$T/data" -o "$T/a" -n 5 --size 32x32 --seed 7
[ "$(count "$T/a/images")" -eq 5 ] && [ "$(count "$T/a/masks")" -eq 5 ] && [ "$(count "$T/a/overlays")" -eq 5 ] \
    && ok "5 pairs and overlays from 3 samples" || bad "files: $(ls -R "$T/a")"
all=1
for f in "$T"/a/images/*.png "$T"/a/masks/*.png "$T"/a/overlays/*.png; do [ "$(png_size "$f")" = 32x32 ] || all=0; done
[ $all -eq 1 ] && ok "every PNG is 32x32" || bad "sizes: $(for f in "$T"/a/*/*.png; do png_size "$f"; echo; done)"
[ "$(png_colour "$T/a/images/0004.png")" = 0 ] && [ "$(png_colour "$T/a/overlays/0004.png")" = 2 ] \
    && ok "grey images, RGB overlays" || bad "colour types"
grep -q '"p_flip_x":[[:space:]]*0.5' "$T/a/augment.json" && grep -q '"elastic_sigma":[[:space:]]*10' "$T/a/augment.json" \
    && ok "augment.json holds preset strong (the default)" || bad "augment.json: $(cat "$T/a/augment.json")"
grep -q '5 augmented pairs of 3 samples' "$T/out" && ok "summary line" || bad "stdout: $(cat "$T/out")"

# the same seed: the same bytes; another seed: other images
must "$FT" augment "$T/data" -o "$T/b" -n 5 --size 32x32 --seed 7
same=1
for f in images/0000.png images/0004.png masks/0003.png overlays/0002.png augment.json; do cmp -s "$T/a/$f" "$T/b/$f" || same=0; done
[ $same -eq 1 ] && ok "same seed, same files" || bad "a second run with seed 7 differs"
must "$FT" augment "$T/data" -o "$T/c" -n 5 --size 32x32 --seed 8 --augment-set p_rotate=1
differ=0
for i in 0000 0001 0002 0003 0004; do cmp -s "$T/a/images/$i.png" "$T/c/images/$i.png" || differ=1; done
[ $differ -eq 1 ] && ok "another seed, other images" || bad "seed 8 gave seed 7's images"

# preset none: the samples exactly as loaded (a 32x32 set at --size 32x32: the synth files)
must "$FT" synth --kind dermoscopy -n 2 -o "$T/derm" --seed 3 --size 32x32
must "$FT" augment "$T/derm" -o "$T/none" -n 2 --size 32x32 --channels 3 --augment none
cmp -s "$T/derm/images/0001.png" "$T/none/images/0001.png" && cmp -s "$T/derm/masks/0001.png" "$T/none/masks/0001.png" \
    && ok "--augment none writes the samples unchanged" || bad "--augment none changed a sample"
[ "$(png_colour "$T/none/images/0000.png")" = 2 ] && ok "--channels 3: RGB images" || bad "--channels 3"

# overrides are recorded
must "$FT" augment "$T/data" -o "$T/set" -n 1 --size 32x32 --augment light --augment-set rotate=45,border=zero,p_noise=1,noise=0.02
grep -q '"rotate":[[:space:]]*45' "$T/set/augment.json" && grep -q '"border":[[:space:]]*"zero"' "$T/set/augment.json" \
    && grep -q '"p_noise":[[:space:]]*1' "$T/set/augment.json" && ok "--augment-set recorded in augment.json" \
    || bad "augment.json: $(cat "$T/set/augment.json")"

# errors: one line, naming what is wrong
fails_cleanly "unknown preset" "$FT" augment "$T/data" -o "$T/e" -n 1 --augment medium
grep -qx "ftunet: augment: --augment medium: expected none, light or strong" "$T/err" && ok "the preset is named" || bad "$(cat "$T/err")"
fails_cleanly "unknown key" "$FT" augment "$T/data" -o "$T/e" -n 1 --augment-set rotat=5
grep -q '^ftunet: augment: --augment-set: rotat: unknown augmentation key (keys: p_flip_x' "$T/err" && ok "the key is named" || bad "$(cat "$T/err")"
fails_cleanly "value out of range" "$FT" augment "$T/data" -o "$T/e" -n 1 --augment-set rotate=500
grep -q 'rotate=500: expected a number from 0 to 180' "$T/err" && ok "the range is named" || bad "$(cat "$T/err")"
fails_cleanly "min above max" "$FT" augment "$T/data" -o "$T/e" -n 1 --augment-set scale_min=2
grep -q 'scale_min=2 is above scale_max=1.4' "$T/err" && ok "min above max is named" || bad "$(cat "$T/err")"
fails_cleanly "not KEY=VALUE" "$FT" augment "$T/data" -o "$T/e" -n 1 --augment-set rotate
fails_cleanly "-n 0" "$FT" augment "$T/data" -o "$T/e" -n 0
fails_cleanly "missing -n" "$FT" augment "$T/data" -o "$T/e"
fails_cleanly "missing -o" "$FT" augment "$T/data" -n 1
fails_cleanly "no DATA" "$FT" augment -o "$T/e" -n 1
fails_cleanly "--channels 2" "$FT" augment "$T/data" -o "$T/e" -n 1 --channels 2
fails_cleanly "--size 30x30" "$FT" augment "$T/data" -o "$T/e" -n 1 --size 30x30
fails_cleanly "missing data set" "$FT" augment "$T/nothing" -o "$T/e" -n 1
[ ! -e "$T/e" ] && ok "nothing written on an error" || bad "an error left $T/e"

echo "$fails failed"
[ "$fails" -eq 0 ]
