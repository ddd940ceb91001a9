#!/bin/sh
# ftunet train's options beyond the paper's protocol (--recipe, --schedule, --warmup, --nesterov,
# --weight-decay, --optimizer adamw, --loss dice-bce, --ds-weights, --augment) end to end on a
# tiny synthetic set (reference engine, 32x32), their errors, and bench --augment.
# usage: sh tests/cli_recipe.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"

# option errors need no data
mkdir -p "$T/nodata"
fails_cleanly "train: bad --recipe" "$FT" train "$T/nodata" -o "$T/x" --recipe nnunet
fails_cleanly "train: bad --schedule" "$FT" train "$T/nodata" -o "$T/x" --schedule step
fails_cleanly "train: --min-lr with inverse-time" "$FT" train "$T/nodata" -o "$T/x" --min-lr 0.001
fails_cleanly "train: --min-lr above --lr" "$FT" train "$T/nodata" -o "$T/x" --schedule cosine --min-lr 0.1
fails_cleanly "train: --nesterov with adam" "$FT" train "$T/nodata" -o "$T/x" --optimizer adam --nesterov
fails_cleanly "train: --bce-weight with ftl" "$FT" train "$T/nodata" -o "$T/x" --bce-weight 2
fails_cleanly "train: --alpha with dice-bce" "$FT" train "$T/nodata" -o "$T/x" --loss dice-bce --alpha 0.3
fails_cleanly "train: --alpha under the strong recipe (dice-bce)" "$FT" train "$T/nodata" -o "$T/x" --recipe strong --alpha 0.3
fails_cleanly "train: bad --ds-weights" "$FT" train "$T/nodata" -o "$T/x" --ds-weights 1,x
fails_cleanly "train: all-zero --ds-weights" "$FT" train "$T/nodata" -o "$T/x" --ds-weights 0,0,0,0
fails_cleanly "train: bad --augment" "$FT" train "$T/nodata" -o "$T/x" --augment heavy
fails_cleanly "train: bad --augment-set" "$FT" train "$T/nodata" -o "$T/x" --augment-set rotate=300
fails_cleanly "train: bad --optimizer" "$FT" train "$T/nodata" -o "$T/x" --optimizer lamb
fails_cleanly "train: negative --weight-decay" "$FT" train "$T/nodata" -o "$T/x" --weight-decay -1
fails_cleanly "bench: bad --augment" "$FT" bench --augment heavy

must "$FT" synth --kind ultrasound -n 8 -o "$T/data" --seed 3 --size 48x40
# 8 images = 2 test, 1 validation, 5 training: 2 updates per epoch at batch 4
TR="--model attn-unet-ds --size 32x32 --batch 4 --threads 2"
key() { grep -q "\"$2\":[[:space:]]*$3" "$1/config.json"; }

# --recipe strong: config.json says so; the lr column is the poly schedule's at each epoch's first
# update (T = 4 updates: 0.01, 0.01 * 0.5^0.9 = 0.0053588673)
must "$FT" train "$T/data" -o "$T/strong" $TR --epochs 2 --recipe strong
S=$T/strong
key "$S" recipe '"strong"' && key "$S" schedule '"poly"' && key "$S" nesterov true && key "$S" momentum 0.99 \
    && key "$S" weight_decay 3e-05 && key "$S" loss '"dice-bce"' && key "$S" schedule_epochs 2 \
    && grep -q '"p_elastic":[[:space:]]*0.2' "$S/config.json" \
    && ok "train --recipe strong: config.json" || bad "strong config: $(cat "$S/config.json")"
[ "$(cut -d, -f2 "$S/log.csv" | tail -2 | tr '\n' ' ')" = "0.01 0.0053588673 " ] \
    && ok "train --recipe strong: the lr column is the poly schedule's" || bad "strong lr: $(cat "$S/log.csv")"

# the options override the recipe's
must "$FT" train "$T/data" -o "$T/over" $TR --epochs 1 --recipe strong --loss ftl --augment none --schedule inverse-time --no-nesterov
O=$T/over
key "$O" recipe '"strong"' && key "$O" loss '"ftl"' && key "$O" nesterov false && key "$O" schedule '"inverse-time"' \
    && grep -q '"p_flip_x":[[:space:]]*0,' "$O/config.json" && ! grep -q '"schedule_epochs"' "$O/config.json" \
    && ok "train: explicit options override --recipe" || bad "override: $(cat "$O/config.json")"

# --augment strong: a run stopped after 1 epoch and resumed ends bit-identical to one that ran
# through (and trains otherwise than without augmentation); resuming without it is refused
must "$FT" train "$T/data" -o "$T/aug" $TR --epochs 2 --augment strong
must "$FT" train "$T/data" -o "$T/aug2" $TR --epochs 1 --augment strong
must "$FT" train "$T/data" -o "$T/aug2" $TR --epochs 2 --augment strong --resume
cmp -s "$T/aug/last.safetensors" "$T/aug2/last.safetensors" && cmp -s "$T/aug/last.optim.safetensors" "$T/aug2/last.optim.safetensors" \
    && ok "train --augment strong: resume is bit-identical" || bad "augment: the resumed run differs"
fails_cleanly "train: resume without --augment" "$FT" train "$T/data" -o "$T/aug" $TR --epochs 3 --resume
fails_cleanly "train: resume with another --augment-set" "$FT" train "$T/data" -o "$T/aug" $TR --epochs 3 --resume --augment strong --augment-set p_flip_x=0
must "$FT" train "$T/data" -o "$T/plain" $TR --epochs 2
cmp -s "$T/aug/last.safetensors" "$T/plain/last.safetensors" && bad "--augment strong trained as without" || ok "--augment strong changes training"
# --augment none (and --recipe paper) are the default's bytes
must "$FT" train "$T/data" -o "$T/none" $TR --epochs 2 --augment none --recipe paper
cmp -s "$T/none/last.safetensors" "$T/plain/last.safetensors" && cmp -s "$T/none/last.optim.safetensors" "$T/plain/last.optim.safetensors" \
    && ok "train --augment none --recipe paper = the default" || bad "augment none differs from the default"

# poly over --schedule-epochs: 1 epoch now of a 2-epoch schedule, resumed, is the 2-epoch run;
# resuming it to more epochs would stretch the schedule: refused, naming schedule_epochs
P="--schedule poly --nesterov --momentum 0.95 --weight-decay 1e-4 --loss dice-bce --bce-weight 0.5 --ds-weights 0.1,0.2,0.3,0.4"
must "$FT" train "$T/data" -o "$T/poly" $TR --epochs 2 $P
must "$FT" train "$T/data" -o "$T/poly2" $TR --epochs 1 --schedule-epochs 2 $P
must "$FT" train "$T/data" -o "$T/poly2" $TR --epochs 2 --resume $P
cmp -s "$T/poly/last.safetensors" "$T/poly2/last.safetensors" && key "$T/poly" bce_weight 0.5 \
    && grep -q '"ds_weights":[[:space:]]*\[0.1, 0.2, 0.3, 0.4\]' "$T/poly/config.json" \
    && ok "train --schedule poly --schedule-epochs: resume is bit-identical" || bad "poly resume: $(cat "$T/poly/config.json")"
fails_cleanly "train: resume stretching the poly schedule" "$FT" train "$T/data" -o "$T/poly" $TR --epochs 3 --resume $P
grep -q 'schedule_epochs' "$T/err" && ok "  (names schedule_epochs)" || bad "stretch: $(cat "$T/err")"
fails_cleanly "train: --ds-weights for another output count" "$FT" train "$T/data" -o "$T/x" $TR --epochs 1 --ds-weights 1,1,1

# AdamW with warm-up and cosine: the lr column starts at lr / 2 (1 warm-up epoch of 2 updates)
must "$FT" train "$T/data" -o "$T/adamw" $TR --epochs 2 --optimizer adamw --warmup 1 --schedule cosine
key "$T/adamw" optimizer '"adamw"' && key "$T/adamw" weight_decay 0.01 && key "$T/adamw" warmup 1 \
    && [ "$(cut -d, -f2 "$T/adamw/log.csv" | tail -2 | tr '\n' ' ')" = "0.0005 0.001 " ] \
    && ok "train --optimizer adamw --warmup 1 --schedule cosine" || bad "adamw: $(cat "$T/adamw/log.csv")"

# bench --augment: the assembly's share of a training step, in the output and the JSON
if "$FT" bench --model attn-unet --size 32x32 --batch 2 --steps 2 --peak-size 256 --augment strong --json "$T/b.json" >"$T/out" 2>"$T/err"; then
    grep -q 'batch assembly + augmentation (strong): .* ms per batch of 2 = .* % of a training step' "$T/out" \
        && awk '$1 == "\"augment_step_fraction\":" { v = $2 + 0 } END { exit !(v > 0 && v < 10) }' "$T/b.json" \
        && ok "bench --augment strong: $(grep 'batch assembly' "$T/out")" || bad "bench --augment: $(cat "$T/out")"
else
    bad "bench --augment failed: $(cat "$T/err")"
fi

[ "$fails" -eq 0 ] && echo "all passed" || echo "$fails failed"
[ "$fails" -eq 0 ]
