#!/bin/sh
# ftunet bench --step-server (one timed step per line read), and --against-pytorch: the comparison
# script found from the build folder, run with Debian's python3-torch on a tiny size (skipped
# where /usr/bin/python3 has no torch); bad requests and a missing Python fail cleanly.
# usage: sh tests/cli_bench_pytorch.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
. "$(dirname "$0")/lib_cli.sh"

printf 'train fp32\ninfer fp32\ninfer fp32\nquit\n' | "$FT" bench --step-server --size 32x32 --batch 2 --threads 2 \
    >"$T/serve" 2>"$T/err" || bad "--step-server: $(cat "$T/err")"
if [ "$(head -1 "$T/serve")" = "ready fp32" ] && [ "$(grep -c '^fp32 infer [0-9.]*$' "$T/serve")" -eq 2 ] &&
   [ "$(grep -c '^fp32 train [0-9.]*$' "$T/serve")" -eq 1 ] && [ "$(wc -l <"$T/serve")" -eq 4 ]; then
    ok "--step-server: ready, then one timed line per request"
else bad "--step-server printed: $(cat "$T/serve")"; fi
echo 'train bf16' >"$T/req"
fails_cleanly "--step-server, a precision it has no session for" sh -c "\"$FT\" bench --step-server --size 32x32 --batch 2 <\"$T/req\""
echo 'forward fp32' >"$T/req"
fails_cleanly "--step-server, an unknown request" sh -c "\"$FT\" bench --step-server --size 32x32 --batch 2 <\"$T/req\""
fails_cleanly "--against-pytorch with --step-server" "$FT" bench --against-pytorch /usr/bin/python3 --step-server
fails_cleanly "--against-pytorch, --model all" "$FT" bench --against-pytorch /usr/bin/python3 --model all
fails_cleanly "--against-pytorch, no such Python" "$FT" bench --against-pytorch "$T/no-python" --size 32x32
fails_cleanly "positional arguments without --against-pytorch" "$FT" bench -- --modes fp32

if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    # two eager modes, one round: the script runs, measures both precisions and writes its JSON
    if "$FT" bench --against-pytorch /usr/bin/python3 --size 32x32 --batch 2 --threads 2 --steps 1 --json "$T/vs.json" \
        -- --modes fp32,bf16-autocast-channels_last >"$T/out" 2>"$T/err"; then
        cat "$T/out"
        if /usr/bin/python3 -c "
import json, sys
d = json.load(open('$T/vs.json'))
need = ['fp32_training', 'fp32_inference', 'bf16_training', 'bf16_inference', 'best_training', 'best_inference']
assert all(k in d['ratios'] and d['ratios'][k]['median'] > 0 for k in need), d['ratios']
assert d['input'] == [1, 32, 32] and d['batch'] == 2 and d['threads'] == 2, d
assert len(d['step_seconds']['training']) == 1 and len(d['step_seconds']['inference']) == 3
assert set(d['step_seconds']['training'][0]) == {'ftunet fp32', 'ftunet bf16', 'torch fp32', 'torch bf16-autocast-channels_last'}
assert d['blas'] != 'reference BLAS' and not d['not_measured'], d
"; then ok "--against-pytorch: ratios for both precisions, the BLAS named"; else bad "--against-pytorch JSON: $(cat "$T/vs.json")"; fi
    elif head -1 "$T/err" | grep -q "^ftunet: bench: bf16 needs a CPU with AVX512-BF16"; then
        # a CPU (or ONEDNN_MAX_CPU_ISA) without bf16: the step server refuses it (then the script
        # says that its server failed); fp32 alone still compares
        ok "--against-pytorch: bf16 refused on this CPU: $(cat "$T/err")"
        if "$FT" bench --against-pytorch /usr/bin/python3 --size 32x32 --batch 2 --threads 2 --steps 1 --json "$T/vs32.json" \
            -- --precision fp32 --modes fp32 >"$T/out" 2>"$T/err" && /usr/bin/python3 -c "
import json
d = json.load(open('$T/vs32.json'))
assert d['ratios']['fp32_training']['median'] > 0 and d['ratios']['fp32_inference']['median'] > 0, d['ratios']
assert set(d['step_seconds']['training'][0]) == {'ftunet fp32', 'torch fp32'}, d['step_seconds']
"; then ok "--against-pytorch, fp32 only: ratios"; else bad "--against-pytorch, fp32 only: $(cat "$T/err")"; fi
    else
        # Debian's reference BLAS without OpenBLAS is refused, with the reason
        if grep -q "reference BLAS" "$T/err"; then ok "--against-pytorch refuses the reference BLAS: $(cat "$T/err")"
        else bad "--against-pytorch failed: $(cat "$T/err")"; fi
    fi
    # Debian's reference BLAS, put first by LD_LIBRARY_PATH: refused before anything is measured
    REFBLAS=/usr/lib/x86_64-linux-gnu/blas
    if [ -e "$REFBLAS/libblas.so.3" ]; then
        if LD_LIBRARY_PATH=$REFBLAS "$FT" bench --against-pytorch /usr/bin/python3 --size 32x32 --batch 2 >"$T/out" 2>"$T/err"; then
            bad "--against-pytorch on the reference BLAS: measured it"
        elif grep -q "PyTorch is on the reference BLAS" "$T/err" && grep -q "reference BLAS" "$T/out"; then
            ok "--against-pytorch refuses the reference BLAS: $(cat "$T/err")"
        else bad "--against-pytorch on the reference BLAS: $(cat "$T/out" "$T/err")"; fi
    fi
    if "$FT" bench --against-pytorch /usr/bin/python3 --profile --size 32x32 --batch 2 --threads 2 --steps 1 \
        -- --precision fp32 >"$T/out" 2>"$T/err"; then
        cat "$T/out"
        if grep -q "^  3x3 convolutions, 32x32 out " "$T/out" && grep -q "^  batch normalisation " "$T/out" &&
           grep -q "^  optimizer " "$T/out" && grep -q "^  sum of the groups " "$T/out"; then
            ok "--against-pytorch --profile: both profiles in the same groups"
        else bad "--against-pytorch --profile printed: $(cat "$T/out")"; fi
    elif ! grep -q "reference BLAS" "$T/err"; then bad "--against-pytorch --profile failed: $(cat "$T/err")"; fi
else
    echo "SKIP (PyTorch part): /usr/bin/python3 has no torch (apt-get install python3-torch libopenblas0-pthread)"
fi

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
