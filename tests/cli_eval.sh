#!/bin/sh
# ftunet synth / init / eval / predict / stats / report on a tiny synthetic set, and their errors.
# usage: sh tests/cli_eval.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
lines() { wc -l <"$1" | tr -d ' '; }
# PNG width and height from the IHDR chunk
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $3 * 256 + $4, $7 * 256 + $8 }'; }

must "$FT" synth --kind ultrasound -n 6 -o "$T/data" --seed 5 --size 48x64
[ "$(ls "$T/data/images" | wc -l)" -eq 6 ] && [ "$(png_size "$T/data/images/0003.png")" = 64x48 ] && ok synth || bad "synth files"
must "$FT" synth --kind dermoscopy -n 2 -o "$T/derm" --size 30x40
[ "$(png_size "$T/derm/masks/0001.png")" = 40x30 ] && ok "synth dermoscopy" || bad "synth dermoscopy"
mkdir -p "$T/run"
must "$FT" init --model attn-unet-mi-ds --size 32x32 --seed 2 -o "$T/run/best.safetensors"
fails_cleanly "grads: bad --precision" "$FT" grads "$T/run/best.safetensors" x.npy m.npy -o "$T/g.safetensors" --precision fp8
fails_cleanly "grads: bf16 on the reference engine" "$FT" grads "$T/run/best.safetensors" x.npy m.npy -o "$T/g.safetensors" --precision bf16 --engine ref

# eval: every sample, default output folder next to the checkpoint
must "$FT" eval "$T/run/best.safetensors" "$T/data" --batch 4 --threads 2
grep -q 'DSC .* ± ' "$T/out" && grep -q 'IoU' "$T/out" && ok "eval prints mean ± std" || bad "eval output: $(cat "$T/out")"
[ "$(wc -l <"$T/run/eval-data/metrics.csv")" -eq 7 ] && head -1 "$T/run/eval-data/metrics.csv" | grep -qx 'id,dsc,precision,recall,iou,gt_empty,hd95,asd' \
    && ok "eval metrics.csv" || bad "eval metrics.csv"
grep -q '"n":[[:space:]]*6' "$T/run/eval-data/summary.json" && ok "eval summary.json" || bad "summary.json: $(cat "$T/run/eval-data/summary.json")"
# no empty mask: the printed figures as ever (no lesion-only or empty lines), zero counts in the JSON
! grep -q -e 'lesion images' -e 'empty ground truth' -e "paper's protocol" "$T/out" && grep -q '"n_empty":[[:space:]]*0,' "$T/run/eval-data/summary.json" \
    && grep -q '"n_lesion":[[:space:]]*6,' "$T/run/eval-data/summary.json" && ok "eval without empty masks: output unchanged" || bad "eval: $(cat "$T/out")"

# a run folder as training leaves it; eval --run scores only its test ids
cat >"$T/run/config.json" <<JSON
{"model": "attn-unet-mi-ds", "channels": 1, "height": 32, "width": 32, "loss": "ftl", "alpha": 0.7, "beta": 0.3,
 "gamma": 1.3333, "epochs": 5, "batch": 4, "lr": 0.01, "momentum": 0.9, "decay": 1e-6, "optimizer": "sgd",
 "seed": 2, "resize": "nearest", "threshold": 0.5, "test_split": 0.25, "val_split": 0.15, "data": "$T/data",
 "mask_suffix": "", "train": ["0000", "0001"], "val": ["0003"], "test": ["0002", "0004", "0005"]}
JSON
cat >"$T/run/log.csv" <<CSV
epoch,lr,train_loss,val_loss,val_dsc,seconds
1,0.01,0.91,0.93,0.00,1.5
2,0.01,0.84,0.88,0.34,1.4
3,0.01,0.77,0.83,0.41,1.4
4,0.01,0.72,0.81,0.47,1.5
5,0.01,0.69,0.80,0.46,1.4
CSV
must "$FT" eval "$T/run/best.safetensors" "$T/data" --run "$T/run" -o "$T/run/test"
grep -q '3 images, split test' "$T/out" && [ "$(wc -l <"$T/run/test/metrics.csv")" -eq 4 ] && \
    [ "$(sed -n 2p "$T/run/test/metrics.csv" | cut -d, -f1)" = 0002 ] && ok "eval --run: the test ids" || bad "eval --run: $(cat "$T/out")"

# eval beyond the protocol: a run folder as the checkpoint, flips, bilinear, the largest component
must "$FT" eval "$T/run" "$T/data" --run "$T/run" --tta flips --upsample bilinear --largest-component -o "$T/run/eval-tta"
grep -q 'prediction: tta flips, upsample bilinear, largest component only' "$T/out" && grep -q '3 images, split test' "$T/out" \
    && grep -q '"tta":[[:space:]]*"flips"' "$T/run/eval-tta/summary.json" && grep -q '"largest_component":[[:space:]]*true' "$T/run/eval-tta/summary.json" \
    && ok "eval --tta flips --upsample bilinear --largest-component" || bad "eval --tta: $(cat "$T/out") $(cat "$T/run/eval-tta/summary.json")"
grep -q 'scored 3 images in .* images/s' "$T/err" && ok "eval: a throughput line" || bad "eval throughput: $(cat "$T/err")"
! grep -q '"predict"' "$T/run/test/summary.json" && ok "eval: the protocol's summary has no predict object" || bad "protocol summary has predict"
# an ensemble of one checkpoint twice scores as that checkpoint alone
cp "$T/run/best.safetensors" "$T/twin.safetensors"
must "$FT" eval --ensemble "$T/run/best.safetensors" "$T/data" --tta flips -o "$T/ens1"
must "$FT" eval --ensemble "$T/run/best.safetensors" "$T/twin.safetensors" "$T/data" --tta flips -o "$T/ens2"
cmp -s "$T/ens1/metrics.csv" "$T/ens2/metrics.csv" && grep -q '"models":[[:space:]]*2' "$T/ens2/summary.json" && grep -q 'ensemble of 2' "$T/out" \
    && ok "eval --ensemble of a checkpoint twice = alone" || bad "eval --ensemble: $(cat "$T/out")"
fails_cleanly "eval: two checkpoints without --ensemble" "$FT" eval "$T/run/best.safetensors" "$T/twin.safetensors" "$T/data"
grep -q 'pass --ensemble' "$T/err" || bad "the error does not say --ensemble: $(cat "$T/err")"
fails_cleanly "eval: bad --tta" "$FT" eval "$T/run/best.safetensors" "$T/data" --tta rotate
fails_cleanly "eval: bad --upsample" "$FT" eval "$T/run/best.safetensors" "$T/data" --upsample cubic
fails_cleanly "eval: a folder that is no run" "$FT" eval "$T/data" "$T/data" --ensemble

# predict: masks at the original size, overlay and probabilities
must "$FT" predict "$T/run/best.safetensors" "$T/data/images/0000.png" "$T/derm/images/0001.png" -o "$T/pred" --overlay --probabilities
[ "$(png_size "$T/pred/0000_mask.png")" = 64x48 ] && [ "$(png_size "$T/pred/0000_overlay.png")" = 64x48 ] && \
    [ "$(png_size "$T/pred/0001_mask.png")" = 40x30 ] && ok "predict sizes" || bad "predict sizes"
[ "$(od -An -tu1 -j25 -N1 "$T/pred/0000_mask.png" | tr -d ' ')" = 0 ] && [ "$(od -An -tu1 -j25 -N1 "$T/pred/0000_overlay.png" | tr -d ' ')" = 2 ] \
    && ok "predict: grey mask, RGB overlay" || bad "predict colour types"
# .npy: 128-byte header + 64·48 float32
[ "$(wc -c <"$T/pred/0000_prob.npy")" -eq $((128 + 64 * 48 * 4)) ] && ok "predict probabilities" || bad "prob.npy size"

# stats
must "$FT" stats "$T/data"
grep -q 'samples: *6' "$T/out" && grep -q 'width: *64 .. 64' "$T/out" && grep -q 'lesion area: .* ± ' "$T/out" \
    && ok stats || bad "stats: $(cat "$T/out")"

# report
must "$FT" report "$T/run"
R=$T/run/report.html
for s in 'Test metrics' 'Training curves' '<svg' 'Precision–recall' 'Best (highest DSC)' 'Worst (lowest DSC)' \
         'data:image/png;base64,' 'Configuration' 'gamma'; do
    grep -q "$s" "$R" || { bad "report lacks '$s'"; rfail=1; }
done
grep -q -e 'src="http' -e 'href="http' -e 'url(' "$R" && { bad "report has external resources"; rfail=1; }
[ "${rfail:-0}" -eq 0 ] && ok "report sections"
# axes of data that never goes below zero (losses, DSC from 0) start at zero, not below
grep -q 'class="tick" text-anchor="end">-' "$R" && bad "report: a negative tick on a chart of non-negative data" || ok "report: y axes from zero"
# a run without a test folder or log still gets a report, saying what is missing
mkdir -p "$T/run2" && cp "$T/run/config.json" "$T/run2/"
must "$FT" report "$T/run2"
grep -q 'No test metrics yet' "$T/run2/report.html" && grep -q 'No training log' "$T/run2/report.html" && \
    grep -q 'No precision' "$T/run2/report.html" && ok "report with parts missing" || bad "report with parts missing"
# a log with the soft DSC column (runs since --select): both curves, and each one's best epoch
mkdir -p "$T/run3" && cp "$T/run/config.json" "$T/run3/" && cat >"$T/run3/log.csv" <<CSV
epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds
1,0.01,0.91,0.93,0.00,0.07,1.5
2,0.01,0.84,0.88,0.34,0.52,1.4
3,0.01,0.77,0.83,0.41,0.49,1.4
CSV
must "$FT" report "$T/run3"
grep -q 'best validation DSC 0.4100 at epoch 3; best validation soft DSC 0.5200 at epoch 2' "$T/run3/report.html" \
    && grep -q 'validation soft DSC' "$T/run3/report.html" && ! grep -q 'soft DSC' "$T/run/report.html" \
    && ok "report: the soft DSC curve" || bad "report: soft DSC: $(grep -o 'best validation[^<]*' "$T/run3/report.html")"

# errors
fails_cleanly "eval: missing checkpoint" "$FT" eval "$T/nope.safetensors" "$T/data"
fails_cleanly "eval: missing data" "$FT" eval "$T/run/best.safetensors" "$T/nodata"
fails_cleanly "eval: bad option" "$FT" eval --bogus "$T/run/best.safetensors" "$T/data"
fails_cleanly "eval: bad threshold" "$FT" eval "$T/run/best.safetensors" "$T/data" --threshold 2
fails_cleanly "eval: bad resize" "$FT" eval "$T/run/best.safetensors" "$T/data" --resize cubic
fails_cleanly "eval: --split without --run" "$FT" eval "$T/run/best.safetensors" "$T/data" --split test
fails_cleanly "predict: missing image" "$FT" predict "$T/run/best.safetensors" "$T/none.png" -o "$T/pred2"
fails_cleanly "predict: no -o" "$FT" predict "$T/run/best.safetensors" "$T/data/images/0000.png"
fails_cleanly "stats: missing data" "$FT" stats "$T/nodata"
fails_cleanly "synth: bad kind" "$FT" synth --kind xray -n 2 -o "$T/x"
fails_cleanly "synth: bad size" "$FT" synth -n 2 -o "$T/x" --size 64
fails_cleanly "report: missing run" "$FT" report "$T/norun"
# a corrupt image: an error naming it, or skipped with --skip-bad
cp -r "$T/data" "$T/bad"
head -c 60 "$T/data/images/0001.png" >"$T/bad/images/0001.png"
fails_cleanly "eval: corrupt image" "$FT" eval "$T/run/best.safetensors" "$T/bad" -o "$T/badeval"
grep -q '0001.png' "$T/err" || bad "the error does not name the corrupt file"
[ -e "$T/badeval/metrics.csv" ] && bad "a failed eval wrote metrics"
fails_cleanly "predict: corrupt image" "$FT" predict "$T/run/best.safetensors" "$T/bad/images/0001.png" -o "$T/pred3"
must "$FT" eval "$T/run/best.safetensors" "$T/bad" --skip-bad -o "$T/badeval"
grep -q '5 images' "$T/out" && ok "eval --skip-bad" || bad "eval --skip-bad: $(cat "$T/out")"
must "$FT" stats "$T/bad" --skip-bad
grep -q 'samples: *5' "$T/out" && grep -q 'skipped: *1' "$T/out" && grep -q '0001.png' "$T/out" && ok "stats --skip-bad" \
    || bad "stats --skip-bad: $(cat "$T/out")"

# empty ground truths (BUSI's normal images): masks 0001 and 0004 replaced by black 24-bit BMPs
le() { v=$1; k=$2; while [ "$k" -gt 0 ]; do printf "\\$(printf %03o $((v & 255)))"; v=$((v >> 8)); k=$((k - 1)); done; }
bmp_black() {
    row=$(( ($1 * 3 + 3) / 4 * 4 )); size=$((row * $2))
    { printf BM; le $((54 + size)) 4; le 0 4; le 54 4; le 40 4; le "$1" 4; le "$2" 4; le 1 2; le 24 2; le 0 4; le $size 4
      le 2835 4; le 2835 4; le 0 4; le 0 4; head -c $size /dev/zero; } >"$3"
}
cp -r "$T/data" "$T/edata"
wh=$(png_size "$T/data/masks/0001.png")
for i in 0001 0004; do rm "$T/edata/masks/$i.png" && bmp_black "${wh%x*}" "${wh#*x}" "$T/edata/masks/$i.bmp"; done
must "$FT" stats "$T/edata"
grep -q 'empty' "$T/out" && ok "two empty masks made" || bad "empty masks: $(cat "$T/out")"
must "$FT" eval "$T/run/best.safetensors" "$T/edata" -o "$T/ee"
grep -q "all 6 images (the paper's protocol)" "$T/out" && grep -q 'lesion images only (4): DSC .* ± ' "$T/out" \
    && grep -q 'empty ground truth (2): false-positive rate ' "$T/out" && [ "$(cut -d, -f6 "$T/ee/metrics.csv" | grep -c '^1$')" -eq 2 ] \
    && grep -q '"n_empty":[[:space:]]*2,' "$T/ee/summary.json" && grep -q '"lesion_mean":' "$T/ee/summary.json" \
    && ok "eval: lesion images and empty ground truths apart" || bad "eval with empty masks: $(cat "$T/out")"
# HD95 and ASD: nan wherever a mask is empty (so on both empty ground truths), left out of the
# means and counted in the line eval prints
nnan=$(tail -n +2 "$T/ee/metrics.csv" | cut -d, -f7 | grep -c '^nan$')
[ "$(tail -n +2 "$T/ee/metrics.csv" | awk -F, '$6 == 1 && $7 != "nan"' | wc -l)" -eq 0 ] && [ "$nnan" -ge 2 ] \
    && grep -q "HD95 and ASD over $((6 - nnan)) of the 6 images: undefined for" "$T/out" && grep -q '"n_surface":[[:space:]]*'$((6 - nnan)) "$T/ee/summary.json" \
    && ok "eval: HD95 and ASD undefined on empty masks, counted ($nnan)" || bad "eval HD95 with empty masks: $(cat "$T/out")"
must "$FT" eval "$T/run/best.safetensors" "$T/edata" -o "$T/ex" --exclude-empty
grep -q ': 4 images, threshold' "$T/out" && grep -q 'excluded 2 images with an empty mask' "$T/out" && [ "$(lines "$T/ex/metrics.csv")" -eq 5 ] \
    && ! grep -q -e '^0001,' -e '^0004,' "$T/ex/metrics.csv" && ! grep -q 'lesion images only (' "$T/out" \
    && ok "eval --exclude-empty" || bad "eval --exclude-empty: $(cat "$T/out")"
# with --run: of its test ids 0002 0004 0005, 0004 goes
mkdir -p "$T/ee" && sed "s|\"data\": \"$T/data\"|\"data\": \"$T/edata\"|" "$T/run/config.json" >"$T/ee/config.json"
must "$FT" eval "$T/run/best.safetensors" "$T/edata" --run "$T/ee" -o "$T/ee/t" --exclude-empty
grep -q '2 images, split test' "$T/out" && grep -q 'excluded 1 image with' "$T/out" && ok "eval --run --exclude-empty" || bad "eval --run --exclude-empty: $(cat "$T/out")"
printf 'images/0001.png,masks/0001.bmp\nimages/0004.png,masks/0004.bmp\n' >"$T/edata/empty.csv"
fails_cleanly "eval --exclude-empty: nothing left" "$FT" eval "$T/run/best.safetensors" "$T/edata/empty.csv" --exclude-empty -o "$T/ecsv"
# train --exclude-empty: dropped before the split, in config.json, and checked on --resume
TR="--model attn-unet --size 32x32 --batch 4 --threads 2"
must "$FT" train "$T/edata" -o "$T/etrain" $TR --epochs 1 --exclude-empty
grep -q 'excluded: *2 images with an empty mask' "$T/err" && grep -q '"exclude_empty":[[:space:]]*true' "$T/etrain/config.json" \
    && grep -q '"excluded":[[:space:]]*\["0001",[[:space:]]*"0004"\]' "$T/etrain/config.json" \
    && ! sed -n '/"train":/,$p' "$T/etrain/config.json" | grep -q -e '"0001"' -e '"0004"' \
    && ok "train --exclude-empty" || bad "train --exclude-empty: $(cat "$T/err") $(cat "$T/etrain/config.json")"
fails_cleanly "train: resume without --exclude-empty" "$FT" train "$T/edata" -o "$T/etrain" $TR --epochs 2 --resume
grep -q 'exclude_empty differs' "$T/err" || bad "the refusal does not name exclude_empty"
must "$FT" train "$T/edata" -o "$T/etrain" $TR --epochs 2 --resume --exclude-empty
grep -q '2 epochs (1 trained now)' "$T/out" && ok "train --exclude-empty resumes" || bad "resume: $(cat "$T/out") $(cat "$T/err")"
# without it the empty masks stay; the test line says which figure is which when they are tested
must "$FT" train "$T/edata" -o "$T/ekeep" $TR --epochs 1 --test-split 0.5 --seed 4
if sed -n '/"test":/,$p' "$T/ekeep/config.json" | grep -q -e '"0001"' -e '"0004"'; then
    grep -q "test (3 images, all: the paper's protocol): DSC" "$T/out" && grep -q 'test, lesion images only (.): DSC' "$T/out" \
        && grep -q 'test, empty ground truth (.): false-positive rate' "$T/out" && ok "train: the test line with empty masks" \
        || bad "train test line: $(cat "$T/out")"
else
    grep -q 'test (3 images): DSC' "$T/out" && ! grep -q 'lesion images only' "$T/out" && ok "train: the test line without empty masks" \
        || bad "train test line: $(cat "$T/out")"
fi
# the report of that run: best and worst among the lesion images only
R=$T/ekeep/report.html
if sed -n '/<h3>Best (highest DSC) of the lesion images/,/<h3>Empty ground truth\|<h2>Configuration/p' "$R" | grep -q -e '<b>0001</b>' -e '<b>0004</b>'; then
    bad "report: an empty ground truth among the best or worst cases"
else
    grep -q "mean, all 3 images (the paper's protocol)" "$R" && grep -q '<h3>Best (highest DSC) of the lesion images' "$R" \
        && grep -q 'Empty ground truth: 1 of the 3 test images' "$R" && ok "report: best and worst of the lesion images" \
        || bad "report: the empty ground truths apart"
fi

echo "$fails failed"
[ "$fails" -eq 0 ]
