#!/bin/sh
# ftunet bench on a tiny size: the JSON has every field with positive numbers, --profile names
# conv, two precisions are compared step by step, and bad options or paths fail cleanly.
# usage: sh tests/cli_bench.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
. "$(dirname "$0")/lib_cli.sh"

if "$FT" bench --size 32x32 --rgb --batch 2 --steps 1 --peak-size 512 --json "$T/out.json" --profile >"$T/out" 2>"$T/err"; then
    ok "bench ran"
else
    bad "bench failed: $(cat "$T/err")"
fi
cat "$T/out"
# "key": <number> with the number > 0 (cJSON writes one key per line)
positive() {
    v=$(awk -v k="\"$1\":" '$1 == k { print $2; exit }' "$T/out.json" | tr -d ',')
    if [ -n "$v" ] && awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }'; then ok "$1 = $v"; else bad "$1 missing or not positive ('$v')"; fi
}
for k in peak_gflops threads height width batch steps params forward_gflop_per_image \
         train_images_per_s train_step_s train_gflops train_peak_gflops train_peak_ratio train_start_peak_ratio \
         infer_images_per_s infer_batch_s infer_gflops infer_peak_gflops infer_peak_ratio infer_start_peak_ratio \
         peak_rss_session_mib peak_rss_infer_mib peak_rss_train_mib forward_s backward_s; do
    positive "$k"
done
# the ratios: GF/s over the probe's rate between that phase's steps, and over the start's best of 5
num() { awk -v k="\"$1\":" '$1 == k { print $2; exit }' "$T/out.json" | tr -d ','; }
for ph in train infer; do
    if awk -v g="$(num ${ph}_gflops)" -v p="$(num ${ph}_peak_gflops)" -v r="$(num ${ph}_peak_ratio)" \
           -v p0="$(num peak_gflops)" -v r0="$(num ${ph}_start_peak_ratio)" \
           'BEGIN { d = g / p - r; d0 = g / p0 - r0; exit !(d * d < 1e-12 && d0 * d0 < 1e-12) }'; then
        ok "$ph ratios consistent"
    else bad "$ph: ${ph}_peak_ratio is not ${ph}_gflops / ${ph}_peak_gflops (or the start ratio not over peak_gflops)"; fi
done
# --rgb: the second size's cost per image against the first's, 192·256 / 32² = 48 times the pixels
[ "$(num pixels_ratio)" = 48 ] && ok "pixels_ratio 48" || bad "pixels_ratio '$(num pixels_ratio)', expected 48"
positive train_work_per_image_ratio
positive infer_work_per_image_ratio
grep -q '3x192x256 per image against 1x32x32 (at the probes.* rates; linear: x48.00): training x' "$T/out" \
    && ok "pixel scaling line" || bad "no pixel scaling line"
grep -q '"model":[[:space:]]*"attn-unet-mi-ds"' "$T/out.json" && ok "json model" || bad "json lacks the model name"
grep -q '"op":[[:space:]]*"conv"' "$T/out.json" && ok "json profile has conv" || bad "json profile lacks conv"
# per layer: every op of the network in the table and the JSON, and their times add up to the
# per-kind ones (the same measurements, charged twice)
grep -q '"layer":[[:space:]]*"enc1.conv1"' "$T/out.json" && grep -q '"layer":[[:space:]]*"head4"' "$T/out.json" \
    && ok "json layers" || bad "json profile lacks the layers"
grep -Eq '^ +118 +dec4.conv1 +conv +32x32x32 ' "$T/out" && grep -Eq 'relu after up4 +relu' "$T/out" \
    && ok "layer table" || bad "layer table lacks dec4.conv1 (op 118) or the ReLU after up4"
if awk '$1 == "\"seconds\":" { k += $2 } $1 == "\"seconds_forward\":" || $1 == "\"seconds_backward\":" { l += $2 }
        END { d = k - l; exit !(k > 0 && d * d <= 1e-12 * k * k) }' "$T/out.json"; then ok "layer times add up to the kinds'"
else bad "per-layer times do not add up to the per-kind ones"; fi
grep -q 'forward *conv' "$T/out" && grep -q 'backward *conv' "$T/out" && ok "profile mentions conv" || bad "--profile output lacks conv"
grep -q 'fp32 peak' "$T/out" && ok "peak printed" || bad "no peak line"

# two precisions: back to back, then step by step on one model (median and range of the pairs'
# ratios in the table and the JSON); bf16 needs AVX512-BF16, else both must be refused in one line
if "$FT" bench --size 32x32 --batch 2 --steps 3 --peak-size 256 --precision both --json "$T/both.json" >"$T/both" 2>"$T/e3"; then
    cat "$T/both"
    grep -Eq 'bf16 / fp32 \(step by step, one model; median of 3 pairs and range\): training x[0-9.]+ \(x[0-9.]+-x[0-9.]+\), inference x[0-9.]+ \(x[0-9.]+-x[0-9.]+; 9 pairs\)' "$T/both" \
        && ok "step-by-step line" || bad "no step-by-step comparison line"
    jn() { awk -v k="\"$1\":" '$1 == k { print $2; exit }' "$T/both.json" | tr -d ','; }
    if awk -v n="$(jn interleaved_train_pairs)" -v m="$(jn interleaved_infer_pairs)" -v a="$(jn interleaved_train_ratio_min)" \
           -v b="$(jn interleaved_train_ratio)" -v c="$(jn interleaved_train_ratio_max)" -v d="$(jn interleaved_infer_ratio_min)" \
           -v e="$(jn interleaved_infer_ratio)" -v f="$(jn interleaved_infer_ratio_max)" -v g="$(jn back_to_back_train_ratio)" \
           'BEGIN { exit !(n == 3 && m == 9 && a > 0 && a <= b && b <= c && d > 0 && d <= e && e <= f && g > 0) }'; then
        ok "json comparisons: 3 and 9 pairs, min <= median <= max"
    else bad "json comparisons missing or inconsistent: $(grep -A16 comparisons "$T/both.json")"; fi
    grep -q '"against":[[:space:]]*"fp32"' "$T/both.json" && ok "json comparison against fp32" || bad "json comparison lacks 'against'"
elif grep -q 'AVX512-BF16' "$T/e3" && [ "$(wc -l <"$T/e3")" -eq 1 ] && [ ! -s "$T/both" ] && [ ! -e "$T/both.json" ]; then
    ok "bf16 refused on this CPU, nothing printed or written: $(cat "$T/e3")"
else
    bad "bench --precision both failed: $(cat "$T/e3")"
fi

# --json into a folder that cannot take it fails in one line before any run (the file itself is
# written at the end, to a temporary name renamed into place)
if "$FT" bench --size 32x32 --batch 1 --steps 1 --peak-size 64 --json "$T/no/such/dir/out.json" >"$T/o4" 2>"$T/e4"; then
    bad "bench --json into a missing folder succeeded"
elif [ "$(wc -l <"$T/e4")" -eq 1 ] && grep -q 'no/such/dir' "$T/e4" && ! grep -q 'GF/img' "$T/o4"; then
    ok "unwritable --json, before the runs: $(cat "$T/e4")"
else bad "unwritable --json: stderr: $(cat "$T/e4"); stdout: $(cat "$T/o4")"; fi

# --channels 3 at a size of one's choice: the session is built for that input
if "$FT" bench --size 32x48 --channels 3 --batch 1 --steps 1 --peak-size 64 --json "$T/c3.json" >"$T/o5" 2>"$T/e5"; then
    if grep -q '"channels":[[:space:]]*3' "$T/c3.json" && grep -q '"width":[[:space:]]*48' "$T/c3.json" && grep -q '3x32x48' "$T/o5"
    then ok "--channels 3 measured 3x32x48"; else bad "--channels 3: not 3x32x48 in $(cat "$T/o5")"; fi
else bad "bench --channels 3 failed: $(cat "$T/e5")"; fi

# errors: one line on stderr, non-zero exit
for args in "--model nosuch" "--size 30x30" "--batch 0" "--channels 2" "--channels 4"; do
    # shellcheck disable=SC2086
    if "$FT" bench $args --peak-size 64 >"$T/o2" 2>"$T/e2"; then bad "bench $args succeeded"
    elif [ "$(wc -l <"$T/e2")" -eq 1 ]; then ok "bench $args: $(cat "$T/e2")"
    else bad "bench $args: stderr: $(cat "$T/e2")"; fi
done

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
