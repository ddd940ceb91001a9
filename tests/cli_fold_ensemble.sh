#!/bin/sh
# scripts/fold_ensemble.py on a tiny synthetic set: the run's test images are held out of every
# fold (links), each fold and the ensemble are scored with and without --tta, and a table results.
# usage: sh tests/cli_fold_ensemble.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2

. "$(dirname "$0")/lib_cli.sh"
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 0; }
S=$(dirname "$0")/../scripts/fold_ensemble.py
must "$FT" synth -n 12 -o "$T/data" --size 16x16 --seed 4
must "$FT" train "$T/data" -o "$T/run" --model unet --size 16x16 --epochs 1 --threads 1
must python3 "$S" "$FT" "$T/data" "$T/run" "$T/fe" -k 2 -- --model unet --size 16x16 --epochs 1 --threads 1
n_test=$(ls "$T/fe/test/images" | wc -l)
overlap=$(ls "$T/fe/test/images" "$T/fe/trainval/images" | sort | uniq -d | wc -l)
[ "$n_test" -eq 3 ] && [ "$(ls "$T/fe/trainval/images" | wc -l)" -eq 9 ] && [ "$overlap" -eq 0 ] \
    && ok "the run's 3 test images held out of the 9 the folds share" || bad "split: $n_test test, $overlap shared"
for row in '| run |' '| fold 1 |' '| fold 2 |' '| ensemble of 2 |' '| ensemble of 2 + tta |'; do
    grep -qF "$row" "$T/out" || bad "no row '$row': $(cat "$T/out")"
done
grep -q '"models":[[:space:]]*2' "$T/fe/eval/ensemble-of-2-tta/summary.json" && grep -q '"tta":[[:space:]]*"flips"' "$T/fe/eval/ensemble-of-2-tta/summary.json" \
    && ok "the ensemble's summary: 2 models, flips" || bad "ensemble summary"
[ "$fails" -eq 0 ] && echo "all fold-ensemble checks passed" || { echo "$fails failed"; exit 1; }
