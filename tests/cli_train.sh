#!/bin/sh
# ftunet train / cv / ablation end to end on a tiny synthetic set (reference engine, 32x32), and
# their errors. usage: sh tests/cli_train.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
lines() { wc -l <"$1" | tr -d ' '; }

# option errors need no data
mkdir -p "$T/nodata"
fails_cleanly "train: no -o" "$FT" train "$T/nodata"
fails_cleanly "train: bad --size" "$FT" train "$T/nodata" -o "$T/x" --size 30x30
fails_cleanly "train: bad --loss" "$FT" train "$T/nodata" -o "$T/x" --loss focal
fails_cleanly "train: --alpha with dl" "$FT" train "$T/nodata" -o "$T/x" --loss dl --alpha 0.3
fails_cleanly "train: bad --optimizer" "$FT" train "$T/nodata" -o "$T/x" --optimizer rmsprop
fails_cleanly "train: bad --epochs" "$FT" train "$T/nodata" -o "$T/x" --epochs 0
fails_cleanly "train: --resume --overwrite" "$FT" train "$T/nodata" -o "$T/x" --resume --overwrite
fails_cleanly "train: unknown option" "$FT" train "$T/nodata" -o "$T/x" --frobnicate
fails_cleanly "train: missing data" "$FT" train "$T/missing" -o "$T/x"
fails_cleanly "cv: no --folds/--repeats" "$FT" cv "$T/nodata" -o "$T/x"
fails_cleanly "cv: both" "$FT" cv "$T/nodata" -o "$T/x" --folds 2 --repeats 2
fails_cleanly "ablation: bad --rows" "$FT" ablation "$T/nodata" -o "$T/x" --rows 0,9

must "$FT" synth --kind ultrasound -n 8 -o "$T/data" --seed 3 --size 48x40

# train: 2 epochs at 32x32; 8 images = 2 test, 1 validation, 5 training
TR="--model attn-unet --size 32x32 --epochs 2 --batch 4 --threads 2"
must "$FT" train "$T/data" -o "$T/run" $TR
R=$T/run
for f in config.json log.csv state.json best.safetensors last.safetensors last.optim.safetensors test/metrics.csv test/summary.json; do
    [ -s "$R/$f" ] || bad "run folder lacks $f"
done
[ "$(lines "$R/log.csv")" -eq 3 ] && head -1 "$R/log.csv" | grep -qx 'epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds' \
    && ok "log.csv" || bad "log.csv: $(cat "$R/log.csv")"
grep -q '"test":' "$R/config.json" && grep -q '"mask_suffix":' "$R/config.json" && grep -q '"model":[[:space:]]*"attn-unet"' "$R/config.json" \
    && ok "config.json" || bad "config.json"
grep -q 'test (2 images): DSC .* ± ' "$T/out" && grep -q 'report: ' "$T/out" && ok "train prints the test metrics" || bad "train output: $(cat "$T/out")"

# an existing run is not replaced by accident; --resume with more epochs continues it
fails_cleanly "train: existing run" "$FT" train "$T/data" -o "$R" $TR
must "$FT" train "$T/data" -o "$R" $TR --epochs 3 --resume
[ "$(lines "$R/log.csv")" -eq 4 ] && grep -q '3 epochs (1 trained now)' "$T/out" && ok "resume to 3 epochs" || bad "resume: $(cat "$T/out")"
fails_cleanly "train: resume with other options" "$FT" train "$T/data" -o "$R" $TR --epochs 3 --resume --lr 0.1
must "$FT" train "$T/data" -o "$R" $TR --overwrite
[ "$(lines "$R/log.csv")" -eq 3 ] && ok "overwrite" || bad "overwrite"

# --bn-recalibrate changes what validation sees, never the training: the same losses epoch by
# epoch, other validation figures
must "$FT" train "$T/data" -o "$T/run-pbn" $TR --bn-recalibrate
grep -q '"bn_recalibrate":[[:space:]]*true' "$T/run-pbn/config.json" && grep -q '"bn_recalibrate":[[:space:]]*false' "$R/config.json" \
    && [ "$(cut -d, -f1-3 "$R/log.csv")" = "$(cut -d, -f1-3 "$T/run-pbn/log.csv")" ] \
    && [ "$(cut -d, -f4 "$R/log.csv")" != "$(cut -d, -f4 "$T/run-pbn/log.csv")" ] \
    && ok "train --bn-recalibrate" || bad "bn-recalibrate: $(cat "$R/log.csv" "$T/run-pbn/log.csv")"
fails_cleanly "train: resume without --bn-recalibrate" "$FT" train "$T/data" -o "$T/run-pbn" $TR --epochs 3 --resume

# --bn-debias (zero-debiased running statistics) likewise: the same training losses, other
# validation figures; and since its momentum follows the iteration, a run stopped after epoch 1
# and resumed ends with bit-identical weights and statistics to one that ran through
must "$FT" train "$T/data" -o "$T/run-zdb" $TR --bn-debias
grep -q '"bn_debias":[[:space:]]*true' "$T/run-zdb/config.json" && grep -q '"bn_debias":[[:space:]]*false' "$R/config.json" \
    && [ "$(cut -d, -f1-3 "$R/log.csv")" = "$(cut -d, -f1-3 "$T/run-zdb/log.csv")" ] \
    && [ "$(cut -d, -f4 "$R/log.csv")" != "$(cut -d, -f4 "$T/run-zdb/log.csv")" ] \
    && ok "train --bn-debias" || bad "bn-debias: $(cat "$R/log.csv" "$T/run-zdb/log.csv")"
must "$FT" train "$T/data" -o "$T/run-zdb2" $TR --bn-debias --epochs 1
must "$FT" train "$T/data" -o "$T/run-zdb2" $TR --bn-debias --resume
cmp -s "$T/run-zdb/last.safetensors" "$T/run-zdb2/last.safetensors" && ok "train --bn-debias: resume is bit-identical" \
    || bad "bn-debias: the resumed run differs"
fails_cleanly "train: --bn-debias with --bn-recalibrate" "$FT" train "$T/data" -o "$T/run-both" $TR --bn-debias --bn-recalibrate

# --select soft-dsc picks the checkpoint by the reference's soft batch DSC; training and the log
# are the same as the default's. With Dice loss on a one-output network that soft DSC is
# 1 − the validation loss, which checks the column against the loss's own arithmetic.
fails_cleanly "train: bad --select" "$FT" train "$T/data" -o "$T/x" --select best
SR="--model unet --loss dl --size 32x32 --epochs 4 --batch 2 --val-split 0.5 --threads 2"  # validation: batches of 2 and 1
must "$FT" train "$T/data" -o "$T/run-hard" $SR
must "$FT" train "$T/data" -o "$T/run-soft" $SR --select soft-dsc
# the best epoch by a column: the first epoch, then strictly better
best_by() { awk -F, -v c="$2" 'NR > 1 && (NR == 2 || $c + 0 > b) { b = $c + 0; e = $1 } END { print e }' "$1"; }
state_best() { sed -n 's/.*"best_epoch":[[:space:]]*\([0-9]*\).*/\1/p' "$1/state.json"; }
# state.json's best score is the column's value at the best epoch (the log rounds to 6 decimals)
state_score_is() {
    v=$(sed -n 's/.*"best_val_dsc":[[:space:]]*\([0-9.eE+-]*\).*/\1/p' "$1/state.json")
    awk -F, -v c="$2" -v e="$(state_best "$1")" -v v="$v" 'NR > 1 && $1 == e { d = $c - v; ok = d > -1e-6 && d < 1e-6 } END { exit !ok }' "$1/log.csv"
}
grep -q '"select":[[:space:]]*"soft-dsc"' "$T/run-soft/config.json" && grep -q '"select":[[:space:]]*"dsc"' "$T/run-hard/config.json" \
    && [ "$(cut -d, -f1-6 "$T/run-hard/log.csv")" = "$(cut -d, -f1-6 "$T/run-soft/log.csv")" ] \
    && awk -F, 'NR > 1 { d = $6 - (1 - $4); if (d < -2e-6 || d > 2e-6) bad = 1 } END { exit bad }' "$T/run-soft/log.csv" \
    && [ "$(state_best "$T/run-soft")" = "$(best_by "$T/run-soft/log.csv" 6)" ] \
    && [ "$(state_best "$T/run-hard")" = "$(best_by "$T/run-hard/log.csv" 5)" ] \
    && state_score_is "$T/run-soft" 6 && state_score_is "$T/run-hard" 5 \
    && grep -q 'val soft DSC' "$T/out" \
    && ok "train --select soft-dsc" || bad "select: $(cat "$T/run-hard/log.csv" "$T/run-soft/log.csv" "$T/run-soft/state.json")"
fails_cleanly "train: resume with another --select" "$FT" train "$T/data" -o "$T/run-soft" $SR --epochs 5 --resume
# a run begun before the val_soft_dsc column (and the select key) resumes in its own format
cut -d, -f1-5,7 "$T/run-hard/log.csv" >"$T/log-v1" && mv "$T/log-v1" "$T/run-hard/log.csv"
grep -v '"select"' "$T/run-hard/config.json" >"$T/config-v1" && mv "$T/config-v1" "$T/run-hard/config.json"
# (and, as such a run, no manifest in state.json: its top-level files are the epoch's)
awk '!d && /^\t"format":/ { sub(/,$/, "", l); d = 1 } !d && NR > 1 { print l } !d { l = $0 } END { print l; if (d) print "}" }' \
    "$T/run-hard/state.json" >"$T/state-v1" && mv "$T/state-v1" "$T/run-hard/state.json"
must "$FT" train "$T/data" -o "$T/run-hard" $SR --epochs 5 --resume
[ "$(lines "$T/run-hard/log.csv")" -eq 6 ] && head -1 "$T/run-hard/log.csv" | grep -qx 'epoch,lr,train_loss,val_loss,val_dsc,seconds' \
    && [ "$(awk -F, '{ print NF }' "$T/run-hard/log.csv" | sort -u)" = 6 ] \
    && ok "resume keeps a log without val_soft_dsc as it is" || bad "v1 resume: $(cat "$T/run-hard/log.csv")"
fails_cleanly "train: resume without --bn-debias" "$FT" train "$T/data" -o "$T/run-zdb" $TR --epochs 3 --resume

# the checkpoint works with the other commands
must "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/evalout"
[ -s "$T/evalout/summary.json" ] && grep -q 'resize nearest, fp32' "$T/out" && ok "eval of the best checkpoint" || bad "eval: $(cat "$T/out")"
fails_cleanly "eval: bad --precision" "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/e16" --precision fp16
fails_cleanly "eval: bf16 on the reference engine" "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/e16" --precision bf16
fails_cleanly "predict: bf16 on the reference engine" "$FT" predict "$R/best.safetensors" "$T/data/images/0000.png" -o "$T/p16" --precision bf16
# on the oneDNN engine bf16 inference runs where the CPU has AVX512-BF16, and is refused clearly elsewhere
if "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/e16" --precision bf16 --engine dnnl >"$T/out" 2>"$T/err"; then
    grep -q ', bf16$' "$T/out" && [ -s "$T/e16/summary.json" ] && ok "eval --precision bf16" || bad "eval bf16: $(cat "$T/out")"
    must "$FT" predict "$R/best.safetensors" "$T/data/images/0000.png" -o "$T/p16" --precision bf16 --engine dnnl
    [ -s "$T/p16/0000_mask.png" ] && ok "predict --precision bf16" || bad "predict bf16"
else
    grep -q 'AVX512-BF16' "$T/err" && ok "eval bf16 refused on this CPU: $(cat "$T/err")" || bad "eval bf16: $(cat "$T/err")"
    # training, too, is refused in one line before anything is written (an AVX2-only CPU)
    fails_cleanly "train --precision bf16 on this CPU" "$FT" train "$T/data" -o "$T/r16" --precision bf16 --engine dnnl --epochs 1 --size 32x32
    grep -q 'AVX512-BF16' "$T/err" && [ ! -e "$T/r16" ] && ok "train bf16: nothing written" || bad "train bf16: $(cat "$T/err"); $(ls "$T/r16" 2>&1)"
fi
must "$FT" predict "$R/best.safetensors" "$T/data/images/0000.png" -o "$T/pred"
[ -s "$T/pred/0000_mask.png" ] && ok "predict" || bad "predict"
# fp32-winograd: the oneDNN engine only; on an AVX-512 CPU eval gives the fp32 figures to
# Winograd's rounding (summary's mean DSC within 1e-3)
fails_cleanly "eval: fp32-winograd on the reference engine" "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/ew" --precision fp32-winograd
if "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/ew" --precision fp32-winograd --engine dnnl >"$T/out" 2>"$T/err"; then
    grep -q ', fp32-winograd$' "$T/out" && wline=yes || wline="no: $(cat "$T/out")"
    must "$FT" eval "$R/best.safetensors" "$T/data" --run "$R" -o "$T/ef" --precision fp32 --engine dnnl
    # the first "dsc" of summary.json is the mean's
    dw=$(awk '$1 == "\"dsc\":" { print $2; exit }' "$T/ew/summary.json" | tr -d ,)
    df=$(awk '$1 == "\"dsc\":" { print $2; exit }' "$T/ef/summary.json" | tr -d ,)
    [ "$wline" = yes ] && awk -v a="$dw" -v b="$df" 'BEGIN { d = a - b; exit !(a != "" && d * d < 1e-6) }' \
        && ok "eval --precision fp32-winograd: DSC $dw (fp32 $df)" || bad "eval fp32-winograd: DSC '$dw' against fp32 '$df'; its line names the precision: $wline"
else
    grep -q 'AVX-512' "$T/err" && ok "eval fp32-winograd refused on this CPU: $(cat "$T/err")" || bad "eval fp32-winograd: $(cat "$T/err")"
    fails_cleanly "train --precision fp32-winograd on this CPU" "$FT" train "$T/data" -o "$T/rw" --precision fp32-winograd --engine dnnl --epochs 1 --size 32x32
    grep -q 'AVX-512' "$T/err" && [ ! -e "$T/rw" ] && ok "train fp32-winograd: nothing written" || bad "train fp32-winograd: $(cat "$T/err"); $(ls "$T/rw" 2>&1)"
fi

# recalibrate: BN statistics re-estimated on the run's training split, into a new checkpoint
must "$FT" recalibrate "$R/best.safetensors" --run "$R" -o "$T/pbn.safetensors"
grep -q "on 5 images of the run's training split" "$T/out" && [ -s "$T/pbn.safetensors" ] && ! cmp -s "$R/best.safetensors" "$T/pbn.safetensors" \
    && ok "recalibrate" || bad "recalibrate: $(cat "$T/out")"
must "$FT" eval "$T/pbn.safetensors" "$T/data" --run "$R" -o "$T/evalpbn"
[ -s "$T/evalpbn/summary.json" ] && ok "eval of the recalibrated checkpoint" || bad "eval recalibrated"
must "$FT" recalibrate "$R/best.safetensors" "$T/data" -o "$T/pbn-all.safetensors" --batch 3
grep -q "on 8 images (batches of 3" "$T/out" && ok "recalibrate on a whole data set" || bad "recalibrate DATA: $(cat "$T/out")"
fails_cleanly "recalibrate: onto its input" "$FT" recalibrate "$R/best.safetensors" --run "$R" -o "$R/best.safetensors"
fails_cleanly "recalibrate: no data" "$FT" recalibrate "$R/best.safetensors" -o "$T/x.safetensors"
fails_cleanly "recalibrate: bad checkpoint" "$FT" recalibrate "$R/log.csv" --run "$R" -o "$T/x.safetensors"

# cv: 2 folds of 1 epoch; a rerun reuses the finished folds
CV="--model attn-unet --size 32x32 --epochs 1 --batch 4 --threads 2"
must "$FT" cv "$T/data" -o "$T/cv" --folds 2 $CV
[ -s "$T/cv/fold-1/test/summary.json" ] && [ -s "$T/cv/fold-2/test/summary.json" ] && [ -s "$T/cv/summary.json" ] \
    && grep -q '| DSC | Precision | Recall |' "$T/out" && ok "cv" || bad "cv: $(cat "$T/out")"
must "$FT" cv "$T/data" -o "$T/cv" --folds 2 $CV
[ "$(grep -c 'finished already' "$T/err")" -eq 2 ] && ok "cv reuses finished folds" || bad "cv rerun: $(cat "$T/err")"

# a finished fold is reused only with the options it was trained with
fails_cleanly "cv: finished folds, other options" "$FT" cv "$T/data" -o "$T/cv" --folds 2 $CV --lr 0.1

# repetition 2 of `cv --repeats --seed 5` is the run `train --seed 6`: same split, same result
must "$FT" cv "$T/data" -o "$T/cvr" --repeats 2 --seed 5 $CV
must "$FT" train "$T/data" -o "$T/seed6" --seed 6 $CV
[ -n "$(grep '"test":' "$T/seed6/config.json")" ] \
    && [ "$(grep '"test":' "$T/cvr/fold-2/config.json")" = "$(grep '"test":' "$T/seed6/config.json")" ] \
    && cmp -s "$T/cvr/fold-2/test/metrics.csv" "$T/seed6/test/metrics.csv" \
    && ok "cv repetition r = train --seed S+r" || bad "cv repetition 2 differs from train --seed 6"

# ablation: one row (attn-unet + DL), 1 repeat; then another row, and the table keeps both
AB="--epochs 1 --batch 4 --size 32x32 --threads 2"
must "$FT" ablation "$T/data" -o "$T/abl" --rows 4 $AB
grep -q '| Attn U-Net | DL | 1 | .* ± .* | 0.615 ± 0.020 |' "$T/abl/TABLE.md" && grep -q '32x32, fp32. ' "$T/abl/TABLE.md" && [ -s "$T/abl/attn-unet-dl/fold-1/test/summary.json" ] \
    && ok "ablation TABLE.md" || bad "ablation: $(cat "$T/abl/TABLE.md" 2>/dev/null) $(cat "$T/err")"
must "$FT" ablation "$T/data" -o "$T/abl" --rows 1 $AB
grep -q '| U-Net | DL | 1 | .* | 0.547 ± 0.040 |' "$T/abl/TABLE.md" && grep -q '| Attn U-Net | DL | 1 |' "$T/abl/TABLE.md" \
    && ok "ablation TABLE.md keeps the rows run before" || bad "ablation rows: $(cat "$T/abl/TABLE.md" 2>/dev/null)"
printf '{"runs": 3}' >"$T/abl/attn-unet-dl/summary.json"
fails_cleanly "ablation: malformed row summary" "$FT" ablation "$T/data" -o "$T/abl" --rows 1 $AB

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
