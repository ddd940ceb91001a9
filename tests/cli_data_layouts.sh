#!/bin/sh
# The data layouts beyond images/ + masks/ end to end: a BUSI look-alike tree (class subfolders,
# images beside their masks, names with spaces and parentheses, x_mask + x_mask_1 + x_mask_2, a
# "normal" class of empty masks) through `stats` (per class) and a tiny `train`; nnU-Net's raw
# layout; a CSV with one line per mask (merged, with a note); a non-binary mask reported.
# usage: sh tests/cli_data_layouts.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"

# a 32x32 24-bit BMP whose bottom $2 rows hold the byte $3 (an octal escape), the rest 0
le32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"; }
bmp32() {
    { printf 'BM'; le32 3126; le32 0; le32 54; le32 40; le32 32; le32 32; printf '\001\000\030\000'
      le32 0; le32 3072; le32 2835; le32 2835; le32 0; le32 0
      head -c $((96 * $2)) /dev/zero | tr '\000' "$3"
      head -c $((96 * (32 - $2))) /dev/zero; } >"$1"
}

must "$FT" synth --kind ultrasound -n 12 -o "$T/syn" --seed 5 --size 32x32
S=$T/syn

# BUSI as downloaded: Dataset_BUSI_with_GT/{benign,malignant,normal}/
B=$T/Dataset_BUSI_with_GT
mkdir -p "$B/benign" "$B/malignant" "$B/normal"
for i in 1 2 3 4 5; do
    cp "$S/images/000$((i - 1)).png" "$B/benign/benign ($i).png"
    cp "$S/masks/000$((i - 1)).png" "$B/benign/benign ($i)_mask.png"
done
cp "$S/masks/0005.png" "$B/benign/benign (1)_mask_1.png"
cp "$S/masks/0006.png" "$B/benign/benign (1)_mask_2.png"
for i in 1 2 3 4; do
    cp "$S/images/000$((i + 4)).png" "$B/malignant/malignant ($i).png"
    cp "$S/masks/000$((i + 4)).png" "$B/malignant/malignant ($i)_mask.png"
done
for i in 1 2 3; do
    cp "$S/images/$(printf %04d $((i + 8))).png" "$B/normal/normal ($i).png"
    bmp32 "$B/normal/normal ($i)_mask.bmp" 0 '\000'
done

must "$FT" stats "$B"
grep -q '^layout: *side-by-side' "$T/out" && grep -q '^samples: *12 ' "$T/out" && grep -q '^classes: *3' "$T/out" \
    && ok "stats: the BUSI tree is side-by-side, 12 samples, 3 classes" || bad "stats BUSI: $(cat "$T/out" "$T/err")"
grep -Eq '^  benign +5 +0 +0\.[0-9]+ ± ' "$T/out" && grep -Eq '^  malignant +4 +0 ' "$T/out" \
    && grep -Eq '^  normal +3 +3 +0\.0000 ± 0\.0000' "$T/out" \
    && ok "stats: per class (count, empty masks, lesion area)" || bad "stats per class: $(cat "$T/out")"
grep -q 'warning: 3 of 12 masks are empty' "$T/err" && ok "stats: the normal class's empty masks warned" \
    || bad "stats empty warning: $(cat "$T/err")"

# train end to end on it (tiny); the split names samples by their class-qualified ids
TR="--model attn-unet --size 32x32 --epochs 1 --batch 4 --threads 1"
must "$FT" train "$B" -o "$T/run" $TR
[ -s "$T/run/best.safetensors" ] && grep -q '"benign/benign (1)"' "$T/run/config.json" && grep -q 'test (3 images' "$T/out" \
    && ok "train on the BUSI tree" || bad "train BUSI: $(cat "$T/out" "$T/err")"

# a CSV with one line per mask, as written for BUSI: one sample per image, and a note
C=$T/list.csv
{ echo "image,mask"
  for f in "$B"/benign/*_mask*.png; do
      img=$(echo "$f" | sed 's/_mask\(_[0-9]*\)\{0,1\}\.png$/.png/')
      echo "\"$img\",\"$f\""
  done; } >"$C"
[ "$(wc -l <"$C")" -eq 8 ] || bad "the CSV has $(wc -l <"$C") lines, want 8"
must "$FT" stats "$C"
grep -q '^samples: *5 ' "$T/out" && grep -q '^note: .*list.csv: 1 image listed on several lines' "$T/err" \
    && grep -q 'benign (1).png (3 lines)' "$T/err" \
    && ok "stats: repeated CSV lines merged, with a note" || bad "stats CSV: $(cat "$T/out" "$T/err")"
"$FT" stats --help | grep -q 'several lines' && "$FT" train --help | grep -q 'several lines' \
    && ok "--help states the CSV rule" || bad "--help lacks the CSV rule"

# nnU-Net's raw layout, 2D PNG
N=$T/Dataset001_Lesion
mkdir -p "$N/imagesTr" "$N/labelsTr"
printf '{"channel_names": {"0": "US"}, "labels": {"background": 0, "lesion": 1}, "numTraining": 3, "file_ending": ".png"}\n' >"$N/dataset.json"
for i in 1 2 3; do
    cp "$S/images/000$i.png" "$N/imagesTr/case_00${i}_0000.png"
    cp "$S/masks/000$i.png" "$N/labelsTr/case_00$i.png"
done
must "$FT" stats "$N"
grep -q '^layout: *nnunet' "$T/out" && grep -q '^samples: *3 ' "$T/out" && ok "stats: nnU-Net" || bad "nnU-Net: $(cat "$T/out" "$T/err")"
cp "$S/images/0004.png" "$N/imagesTr/case_001_0001.png"
fails_cleanly "stats: a multi-channel nnU-Net case" "$FT" stats "$N"
grep -q 'case case_001 has 2 channel files' "$T/err" && ok "stats: the multi-channel case is named" || bad "$(cat "$T/err")"
rm "$N/imagesTr/case_001_0001.png"

# a 0/128 mask: counted, named, and the rule applied said
M=$T/halfmask
mkdir -p "$M/images" "$M/masks"
cp "$S/images/0000.png" "$M/images/h.png"
bmp32 "$M/masks/h.bmp" 8 '\200'
must "$FT" stats "$M"
grep -q 'warning: non-binary masks: 1, e.g. .*h.bmp: values 0, 128 (read as lesion above half the range)' "$T/err" \
    && ok "stats: a non-binary mask reported" || bad "non-binary: $(cat "$T/err")"

# nothing recognised: the message lists the layouts
mkdir -p "$T/plain"
cp "$S/images/0000.png" "$T/plain/a.png"
fails_cleanly "stats: a folder of images only" "$FT" stats "$T/plain"
grep -q "nnU-Net's dataset.json" "$T/err" && grep -q 'images beside their masks' "$T/err" \
    && ok "stats: the layouts are listed" || bad "$(cat "$T/err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
