#!/bin/sh
# ftunet predict on folders (nested subfolders mirrored under -o), lists, ensembles of checkpoints
# and cross-validation folders, --tta, --upsample, --largest-component, the throughput line, and
# bad inputs failing with one line; train --init's fine-tuned run predicted.
# usage: sh tests/cli_predict.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'; }

must "$FT" synth --kind ultrasound -n 5 -o "$T/data" --seed 5 --size 40x30
must "$FT" init --model attn-unet --size 32x32 --seed 2 -o "$T/a.safetensors"
must "$FT" init --model attn-unet --size 48x48 --seed 3 -o "$T/b.safetensors"
# scans/x.png, scans/one/x.png, scans/one/two/x.PNG: one stem three times, plus files that are not images
S="$T/scans"
mkdir -p "$S/one/two" "$S/.hidden"
cp "$T/data/images/0000.png" "$S/x.png"
cp "$T/data/images/0001.png" "$S/one/x.png"
cp "$T/data/images/0002.png" "$S/one/two/x.PNG"
cp "$T/data/images/0003.png" "$S/.hidden/y.png"
echo "not an image" >"$S/one/notes.txt"

# a folder: every image below it, each mask under the same subfolder of DIR
must "$FT" predict "$T/a.safetensors" "$S" -o "$T/pred" --threads 2
[ -f "$T/pred/x_mask.png" ] && [ -f "$T/pred/one/x_mask.png" ] && [ -f "$T/pred/one/two/x_mask.png" ] &&
    [ "$(png_size "$T/pred/one/two/x_mask.png")" = 30x40 ] && ok "predict: subfolders mirrored" || bad "predict folder: $(find "$T/pred")"
[ "$(find "$T/pred" -type f | wc -l)" -eq 3 ] && ok "predict: hidden files and non-images skipped" || bad "outputs: $(find "$T/pred" -type f)"
grep -Eq '^predicted 3 images in [0-9.]+ s \([0-9.]+ images/s\)$' "$T/err" && ok "predict: throughput line" || bad "throughput: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] && ok "predict: nothing per image on stderr (not a terminal)" || bad "stderr: $(cat "$T/err")"
[ "$(wc -l <"$T/out")" -eq 3 ] && grep -q "one/two/x.PNG: 30x40, lesion .* -> $T/pred/one/two/x_mask.png" "$T/out" \
    && ok "predict: one line per image on stdout" || bad "stdout: $(cat "$T/out")"
# the same masks as predicting the file on its own
must "$FT" predict "$T/a.safetensors" "$S/one/x.png" -o "$T/single"
cmp -s "$T/single/x_mask.png" "$T/pred/one/x_mask.png" && ok "predict: the folder's mask is the file's" || bad "folder vs file masks"

# the output folder inside the input folder is not read back
must "$FT" predict "$T/a.safetensors" "$S" -o "$S/pred"
must "$FT" predict "$T/a.safetensors" "$S" -o "$S/pred"
[ "$(find "$S/pred" -type f | wc -l)" -eq 3 ] && ok "predict: the output folder is skipped" || bad "re-read outputs: $(find "$S/pred")"
rm -rf "$S/pred"

# @list: relative to the list's folder, named by the line's path
printf '# test images\none/x.png\n\n  one/two  \n' >"$S/list.txt"
must "$FT" predict "$T/a.safetensors" @"$S/list.txt" -o "$T/listed"
[ -f "$T/listed/one/x_mask.png" ] && [ -f "$T/listed/one/two/x_mask.png" ] && [ "$(find "$T/listed" -type f | wc -l)" -eq 2 ] \
    && ok "predict @list" || bad "predict @list: $(find "$T/listed")"
rm "$S/list.txt"

# --tta, --upsample, --largest-component, --ensemble: files, and they change the result
must "$FT" predict "$T/a.safetensors" "$S" -o "$T/plain" --probabilities
must "$FT" predict "$T/a.safetensors" "$S" -o "$T/tta" --tta flips --probabilities
[ -f "$T/tta/one/two/x_mask.png" ] && ! cmp -s "$T/tta/x_prob.npy" "$T/plain/x_prob.npy" && ok "predict --tta flips" || bad "--tta flips"
must "$FT" predict "$T/a.safetensors" "$S" -o "$T/bil" --upsample bilinear --probabilities
[ -f "$T/bil/x_mask.png" ] && ! cmp -s "$T/bil/x_prob.npy" "$T/plain/x_prob.npy" && ok "predict --upsample bilinear" || bad "--upsample"
must "$FT" predict "$T/a.safetensors" "$S" -o "$T/lcc" --largest-component --overlay
[ -f "$T/lcc/one/x_mask.png" ] && [ -f "$T/lcc/one/x_overlay.png" ] && ok "predict --largest-component" || bad "--largest-component"
must "$FT" predict --ensemble "$T/a.safetensors" "$T/b.safetensors" "$S" -o "$T/ens" --probabilities --tta flips
[ -f "$T/ens/one/two/x_mask.png" ] && ! cmp -s "$T/ens/x_prob.npy" "$T/tta/x_prob.npy" && ok "predict --ensemble (two sizes)" || bad "--ensemble"
# an ensemble of a checkpoint with itself is that checkpoint
must "$FT" predict --ensemble "$T/a.safetensors" "$T/a.safetensors" "$S" -o "$T/self" --probabilities
cmp -s "$T/self/x_prob.npy" "$T/plain/x_prob.npy" && ok "predict: an ensemble of one checkpoint twice" || bad "self-ensemble differs"
# a cross-validation folder is its folds; a run folder its best.safetensors
mkdir -p "$T/cv/fold-1" "$T/cv/fold-2" "$T/run"
cp "$T/a.safetensors" "$T/cv/fold-1/best.safetensors"
cp "$T/b.safetensors" "$T/cv/fold-2/best.safetensors"
cp "$T/a.safetensors" "$T/run/best.safetensors"
must "$FT" predict --ensemble "$T/cv" "$S" -o "$T/cvout" --probabilities --tta flips
cmp -s "$T/cvout/x_prob.npy" "$T/ens/x_prob.npy" && ok "predict: a cv folder is the ensemble of its folds" || bad "cv folder"
must "$FT" predict "$T/run" "$S" -o "$T/runout" --probabilities
cmp -s "$T/runout/x_prob.npy" "$T/plain/x_prob.npy" && ok "predict: a run folder is its best checkpoint" || bad "run folder"
"$FT" predict --help >"$T/help" 2>&1
grep -q -- '--ensemble' "$T/help" && grep -q '^examples:' "$T/help" && grep -q 'fold-N/best.safetensors' "$T/help" \
    && ok "predict --help: the rule and examples" || bad "help: $(cat "$T/help")"

# bad inputs: one line, nothing written
fails_cleanly "predict: two checkpoints without --ensemble" "$FT" predict "$T/a.safetensors" "$T/b.safetensors" "$S" -o "$T/bad"
grep -q -- '--ensemble' "$T/err" || bad "the message does not name --ensemble: $(cat "$T/err")"
fails_cleanly "predict: a cv folder without --ensemble" "$FT" predict "$T/cv" "$S" -o "$T/bad"
fails_cleanly "predict: no checkpoint first" "$FT" predict "$S" -o "$T/bad"
fails_cleanly "predict: a missing input" "$FT" predict "$T/a.safetensors" "$T/none.png" -o "$T/bad"
fails_cleanly "predict: a missing checkpoint" "$FT" predict "$T/none.safetensors" "$S" -o "$T/bad"
fails_cleanly "predict: no inputs" "$FT" predict "$T/a.safetensors" -o "$T/bad"
fails_cleanly "predict: a missing list" "$FT" predict "$T/a.safetensors" @"$T/none.txt" -o "$T/bad"
fails_cleanly "predict: a checkpoint after the inputs" "$FT" predict "$T/a.safetensors" "$S" "$T/b.safetensors" -o "$T/bad"
mkdir -p "$T/empty"
fails_cleanly "predict: a folder without images" "$FT" predict "$T/a.safetensors" "$T/empty" -o "$T/bad"
fails_cleanly "predict: two images of one stem" "$FT" predict "$T/a.safetensors" "$S/x.png" "$S/one/x.png" -o "$T/bad"
grep -q 'would both write .*give a folder holding both' "$T/err" || bad "collision message: $(cat "$T/err")"
fails_cleanly "predict: --tta flip" "$FT" predict "$T/a.safetensors" "$S" -o "$T/bad" --tta flip
fails_cleanly "predict: --upsample cubic" "$FT" predict "$T/a.safetensors" "$S" -o "$T/bad" --upsample cubic
mkdir -p "$T/cv/fold-3"
fails_cleanly "predict: an unfinished cv fold" "$FT" predict --ensemble "$T/cv" "$S" -o "$T/bad"
grep -q 'fold-3' "$T/err" || bad "unfinished fold message: $(cat "$T/err")"
echo "not a png" >"$T/broken.png"
fails_cleanly "predict: an unreadable image" "$FT" predict "$T/a.safetensors" "$T/broken.png" -o "$T/bad"
[ ! -e "$T/bad/x_mask.png" ] && ok "predict: nothing written by the refused runs" || bad "refused runs wrote files"

# fine-tuning: train --init starts from a checkpoint (config.json names it), then predict with the run
must "$FT" train "$T/data" -o "$T/ft" --init "$T/a.safetensors" --model attn-unet --size 32x32 --epochs 1 --batch 4 \
    --lr 1e-12 --test-split 0 --val-split 0
grep -q '"init":' "$T/ft/config.json" && grep -q "\"path\":[[:space:]]*\"$T/a.safetensors\"" "$T/ft/config.json" \
    && ok "train --init: config.json records the checkpoint" || bad "config.json: $(cat "$T/ft/config.json")"
must "$FT" predict "$T/ft" "$S" -o "$T/ftpred"
[ -f "$T/ftpred/one/two/x_mask.png" ] && ok "predict with the fine-tuned run" || bad "predict after train --init"
fails_cleanly "train --init: another model" "$FT" train "$T/data" -o "$T/ft2" --init "$T/a.safetensors" --model unet \
    --size 32x32 --epochs 1 --test-split 0 --val-split 0
grep -q 'a checkpoint of attn-unet with 1 channel; this model is unet' "$T/err" || bad "mismatch message: $(cat "$T/err")"
fails_cleanly "train --resume without the run's --init" "$FT" train "$T/data" -o "$T/ft" --model attn-unet --size 32x32 \
    --epochs 2 --batch 4 --lr 1e-12 --test-split 0 --val-split 0 --resume

[ "$fails" -eq 0 ] && echo "all predict checks passed" || { echo "$fails failed"; exit 1; }
