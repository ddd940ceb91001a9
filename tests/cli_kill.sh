#!/bin/sh
# A training run killed (SIGKILL) at every rename, link, unlink, mkdir, rmdir and fsync it makes
# (strace's fault injection), then resumed: every resume must end bit-identical to the
# uninterrupted run (last.safetensors, best.safetensors, log.csv without its seconds column),
# either continuing from the last committed epoch or, where none was committed yet, starting
# cleanly. Never a divergence (a resume that ran but ended elsewhere), never a dead run (a
# resume that refused), and no temporary files or stale epoch folders left behind.
# usage: sh tests/cli_kill.sh PATH/TO/ftunet SCRATCH_DIR
# Every point of epoch 2's save is tried and every FTUNET_KILL_STRIDE-th of the others (before the
# first save, epochs 1 and 3, the test; default 2; 1: all of them).
set -u
FT=$1
T=$2
if ! command -v strace >/dev/null 2>&1; then echo "skip: strace is not installed (scripts/install-deps.sh)"; exit 77; fi
if ! strace -f -o /dev/null true >/dev/null 2>&1; then echo "skip: strace cannot trace here (ptrace not permitted)"; exit 77; fi
. "$(dirname "$0")/lib_cli.sh"
export FTUNET_ENGINE=${FTUNET_ENGINE:-dnnl}  # one thread: deterministic, and ~0.5 s a run
STRIDE=${FTUNET_KILL_STRIDE:-2}
CALLS=rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,fsync,fdatasync
A="--model attn-unet --size 32x32 --epochs 3 --batch 4 --threads 1"

must "$FT" synth --kind ultrasound -n 6 -o "$T/data" --seed 3 --size 32x32
D=$T/data
# the uninterrupted run, traced: the kill points and the reference results
must strace -f -qq -y -o "$T/trace" -e trace=$CALLS "$FT" train "$D" -o "$T/ref" $A
[ -s "$T/ref/last.safetensors" ] || { echo "FAIL: the reference run did not finish"; exit 1; }
cut -d, -f1-6 "$T/ref/log.csv" >"$T/ref.log"

# kill points: "name n epoch" per traced call that did something (n: the call's number among
# calls of that name, failed ones included, as strace counts them; epoch: the epoch whose save
# began last, by its RUN/epochs/NNNN.tmp folder, 0 before the first)
awk '
    / resumed>/ { next }
    {
        name = $2; sub(/\(.*/, "", name)
        if (name == "" || name ~ /^[+-]/) next
        n[name]++
        if (match($0, /epochs\/[0-9]+\.tmp/)) { v = substr($0, RSTART + 7, RLENGTH - 11) + 0; if (v > ep) ep = v }
        if ($0 ~ /= -1 E/) next  # refused (EEXIST, ENOENT): nothing changed on disk
        print name, n[name], ep + 0
    }' "$T/trace" >"$T/points"
# epoch 2's save in full, the other points every STRIDE-th
awk -v s="$STRIDE" '$3 == 2 || (NR % s) == 0' "$T/points" >"$T/chosen"
n_all=$(wc -l <"$T/points" | tr -d ' ')
n_ep2=$(awk '$3 == 2' "$T/points" | wc -l | tr -d ' ')
n_try=$(wc -l <"$T/chosen" | tr -d ' ')
echo "kill points: $n_all calls that change the run folder, $n_ep2 of them in epoch 2's save; trying $n_try (all of epoch 2's, every ${STRIDE}-th of the rest)"

tried=0 same=0 restart=0 diverged=0 dead=0 unkilled=0 left=0
while read -r name n ep; do
    R=$T/k
    rm -rf "$R"
    strace -f -qq -o /dev/null -e trace="$name" -e inject="$name":signal=SIGKILL:when="$n" \
        "$FT" train "$D" -o "$R" $A >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 137 ]; then unkilled=$((unkilled + 1)); echo "not killed at $name #$n (exit $rc)"; continue; fi
    tried=$((tried + 1))
    what="$name #$n (epoch $ep)"
    if ! "$FT" train "$D" -o "$R" $A --resume >"$T/out" 2>"$T/err"; then
        dead=$((dead + 1)); echo "DEAD after a kill at $what: $(cat "$T/err")"; continue
    fi
    cut -d, -f1-6 "$R/log.csv" >"$T/k.log"
    if cmp -s "$R/last.safetensors" "$T/ref/last.safetensors" && cmp -s "$R/best.safetensors" "$T/ref/best.safetensors" \
        && cmp -s "$T/k.log" "$T/ref.log"; then
        if grep -q '(3 trained now)' "$T/out"; then restart=$((restart + 1)); else same=$((same + 1)); fi
    else
        diverged=$((diverged + 1)); echo "DIVERGED after a kill at $what: $(head -1 "$T/out")"
    fi
    junk=$(find "$R" -name '*.tmp*' | head -3)
    if [ -n "$junk" ]; then left=$((left + 1)); echo "left behind after a kill at $what: $junk"; fi
done <"$T/chosen"

echo "kill matrix: $tried points tried, $same identical resumes, $restart clean restarts, $diverged divergences, $dead dead runs, $left with files left behind"
[ "$tried" -gt 0 ] || bad "no kill point was tried"
[ "$unkilled" -eq 0 ] || bad "$unkilled points did not kill the run"
[ "$diverged" -eq 0 ] || bad "$diverged resumes diverged from the uninterrupted run"
[ "$dead" -eq 0 ] || bad "$dead resumes refused"
[ "$left" -eq 0 ] || bad "$left resumes left temporary files behind"
[ "$same" -gt 0 ] && [ "$restart" -gt 0 ] && ok "killed and resumed at $tried points" || bad "expected both resumes and restarts"
[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all kill checks passed"
