#!/bin/sh
# ftunet train / cv / ablation: --skip-bad drops a PNG cut short behind an intact header before any
# training (every file decoded once up front, listed as `stats --skip-bad` lists it), and a data
# set too small for a test image says which --test-split was in force and why it gave none.
# usage: sh tests/cli_train_checks.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
TR="--model attn-unet --size 32x32 --epochs 1 --batch 4 --threads 2"

# a PNG cut to 300 bytes: its header (and so the header check) intact, its pixels gone
must "$FT" synth --kind ultrasound -n 8 -o "$T/data" --seed 3 --size 48x40
head -c 300 "$T/data/images/0003.png" >"$T/cut.png" && mv "$T/cut.png" "$T/data/images/0003.png"
must "$FT" stats "$T/data" --skip-bad
grep -A1 '^skipped: ' "$T/out" >"$T/stats.skipped"
grep -q '^  .*0003.png: ' "$T/stats.skipped" && ok "stats --skip-bad drops the cut PNG" || bad "stats: $(cat "$T/out")"

must "$FT" train "$T/data" -o "$T/run" $TR --skip-bad
grep -A1 '^skipped: ' "$T/err" >"$T/train.skipped"
cmp -s "$T/stats.skipped" "$T/train.skipped" && ok "train --skip-bad lists the cut PNG as stats does" \
    || bad "train --skip-bad: stderr was: $(cat "$T/err")"
grep -q '"0003"' "$T/run/config.json" && bad "the cut PNG is in the split: $(cat "$T/run/config.json")" || ok "train: the cut PNG is in no split"
grep -q 'test (2 images)' "$T/out" && ok "train --skip-bad: 7 images, 2 tested" || bad "train: $(cat "$T/out")"
# the run resumes with the same data set (the same sample dropped, the same split)
must "$FT" train "$T/data" -o "$T/run" $TR --skip-bad --epochs 2 --resume
grep -q '2 epochs (1 trained now)' "$T/out" && ok "train --skip-bad --resume" || bad "resume: $(cat "$T/out")"

must "$FT" cv "$T/data" -o "$T/cv" $TR --skip-bad --folds 2
grep -A1 '^skipped: ' "$T/err" >"$T/cv.skipped"
cmp -s "$T/stats.skipped" "$T/cv.skipped" && [ "$(grep -c '^skipped: ' "$T/err")" -eq 1 ] \
    && ok "cv --skip-bad: the cut PNG listed once, both folds run" || bad "cv --skip-bad: stderr was: $(cat "$T/err")"
cat "$T/cv/fold-1/config.json" "$T/cv/fold-2/config.json" | grep -q '"0003"' && bad "cv: the cut PNG is in a fold" || ok "cv: the cut PNG is in no fold"

must "$FT" ablation "$T/data" -o "$T/abl" --size 32x32 --epochs 1 --batch 4 --threads 2 --rows 4 --skip-bad
grep -A1 '^skipped: ' "$T/err" >"$T/abl.skipped"
cmp -s "$T/stats.skipped" "$T/abl.skipped" && ok "ablation --skip-bad" || bad "ablation --skip-bad: stderr was: $(cat "$T/err")"

# one image: 0.25 of it rounds to no test image, and the message says so (not "--test-split 0")
must "$FT" synth --kind ultrasound -n 1 -o "$T/one" --seed 3 --size 32x32
must "$FT" train "$T/one" -o "$T/run1" $TR
grep -q 'no test images (--test-split 0.25 of 1 image rounds to 0)' "$T/out" && ok "one image: the split in force" \
    || bad "one image: $(cat "$T/out")"
must "$FT" train "$T/one" -o "$T/run0" $TR --test-split 0
grep -q 'no test images (--test-split 0);' "$T/out" && ok "--test-split 0" || bad "--test-split 0: $(cat "$T/out")"

[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all train checks passed"
