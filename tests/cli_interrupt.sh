#!/bin/sh
# Interrupting training and resuming it with `ftunet train --resume RUN` alone: SIGINT (exit 130)
# and SIGTERM (143) stop a run after the current step and save the epoch in progress; the resume
# ends byte-identical (cmp) to a run never interrupted: last and best checkpoints, optimiser state,
# log.csv without its seconds column, test metrics. Deterministic points come from the test hook
# FTUNET_TEST_INTERRUPT=K[:TERM] (the command raises the signal itself after its K-th step; see
# tools/ftunet/signals.h); one run is sent a real `kill -INT` from here. Then: --epochs with
# --resume extends a run and says so (poly keeps its length), fewer epochs than done are
# refused, options given beside --resume RUN are checked, a run of before the newer config.json
# keys resumes, and a kill -9 at every file operation of a mid-epoch save (strace's fault
# injection) leaves a run that resumes to the same end.
# usage: sh tests/cli_interrupt.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
. "$(dirname "$0")/lib_cli.sh"
export FTUNET_ENGINE=${FTUNET_ENGINE:-dnnl}
unset FTUNET_TEST_INTERRUPT
A="--model attn-unet --size 32x32 --epochs 3 --batch 2 --threads 1"  # 6 training images: 3 steps an epoch

must "$FT" synth --kind ultrasound -n 10 -o "$T/data" --seed 3 --size 32x32
D=$T/data
must "$FT" train "$D" -o "$T/ref" $A
cut -d, -f1-6 "$T/ref/log.csv" >"$T/ref.log"

# same RUN: RUN ends as the reference did (the seconds of log.csv aside)
same() {
    cut -d, -f1-6 "$2/log.csv" >"$T/cmp.log"
    for f in last.safetensors best.safetensors last.optim.safetensors test/metrics.csv; do
        cmp -s "$1/$f" "$2/$f" || { bad "$3: $f differs from the uninterrupted run's"; return; }
    done
    cmp -s "$T/ref.log" "$T/cmp.log" || { bad "$3: log.csv differs: $(cat "$T/cmp.log")"; return; }
    [ ! -e "$2/partial" ] || { bad "$3: partial/ left behind"; return; }
    ok "$3: byte-identical to the uninterrupted run"
}
# interrupted RUN RC WHAT CMD...: CMD exits RC and says where it stopped and how to go on
interrupted() {
    r=$1 want=$2 what=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then bad "$what: exit $rc, expected $want: $(tail -2 "$T/err")"; return; fi
    if grep -q "continue with: ftunet train --resume $r\$" "$T/err"; then ok "$what: exit $rc, $(grep -o 'interrupted [^;]*' "$T/err")"
    else bad "$what: no resume line: $(tail -2 "$T/err")"; fi
}

# SIGINT after step 4 (epoch 2, step 1 of 3): the finished epoch 1 stays the run's visible state
R=$T/int
interrupted "$R" 130 "SIGINT mid-epoch" env FTUNET_TEST_INTERRUPT=4 "$FT" train "$D" -o "$R" $A
grep -q 'interrupted at epoch 2, step 1 of 3 (saved)' "$T/err" && ok "stopped after the step it came in" || bad "where: $(tail -1 "$T/err")"
[ "$(wc -l <"$R/log.csv")" -eq 2 ] && [ -d "$R/partial/0002-0001" ] && ok "log.csv has epoch 1 only, epoch 2 in partial/" \
    || bad "after the interruption: $(ls "$R") / $(cat "$R/log.csv")"
cp -a "$R" "$T/int.saved"
# resumed, interrupted again one step later (a second mid-epoch save replacing the first), resumed
interrupted "$R" 130 "SIGINT again after a resume" env FTUNET_TEST_INTERRUPT=1 "$FT" train --resume "$R"
grep -q 'epoch 2, step 2 of 3' "$T/err" && [ -d "$R/partial/0002-0002" ] && [ ! -e "$R/partial/0002-0001" ] \
    && ok "the second save replaced the first" || bad "second save: $(tail -1 "$T/err"); $(ls "$R/partial")"
must "$FT" train --resume "$R"
same "$T/ref" "$R" "SIGINT twice, --resume RUN alone"

# SIGTERM, and an interruption in epoch 1, before anything was committed
R=$T/term
interrupted "$R" 143 "SIGTERM in epoch 1" env FTUNET_TEST_INTERRUPT=2:TERM "$FT" train "$D" -o "$R" $A
must "$FT" train --resume "$R"
same "$T/ref" "$R" "SIGTERM at epoch 1 step 2, resumed"
# between epochs: after the last step of epoch 1 the epoch is finished and committed first
R=$T/edge
interrupted "$R" 130 "SIGINT at an epoch's last step" env FTUNET_TEST_INTERRUPT=3 "$FT" train "$D" -o "$R" $A
grep -q 'interrupted after epoch 1 of 3 (saved)' "$T/err" && ok "an epoch's last step: the epoch is committed" \
    || bad "last step: $(tail -1 "$T/err")"
must "$FT" train --resume "$R"
same "$T/ref" "$R" "SIGINT at an epoch boundary, resumed"

# a real kill -INT at some point of a longer run (wherever it lands: a step, validation, a save)
B="--model attn-unet --size 32x32 --epochs 6 --batch 2 --threads 1"
must "$FT" synth --kind ultrasound -n 30 -o "$T/data30" --seed 4 --size 32x32
must "$FT" train "$T/data30" -o "$T/ref30" $B
R=$T/kill
"$FT" train "$T/data30" -o "$R" $B >"$T/kout" 2>"$T/kerr" &
pid=$!
i=0
while ! grep -q 'epoch 1/6' "$T/kerr" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
rc=$?
if [ "$rc" -eq 130 ] && grep -q "continue with: ftunet train --resume $R" "$T/kerr"; then
    ok "kill -INT: exit 130, $(grep -o 'interrupted [^;]*' "$T/kerr")"
else bad "kill -INT: exit $rc: $(tail -2 "$T/kerr")"; fi
must "$FT" train --resume "$R"
cut -d, -f1-6 "$T/ref30/log.csv" >"$T/ref30.log"; cut -d, -f1-6 "$R/log.csv" >"$T/kill.log"
cmp -s "$T/ref30/last.safetensors" "$R/last.safetensors" && cmp -s "$T/ref30/best.safetensors" "$R/best.safetensors" \
    && cmp -s "$T/ref30/last.optim.safetensors" "$R/last.optim.safetensors" && cmp -s "$T/ref30.log" "$T/kill.log" \
    && ok "kill -INT, resumed: byte-identical" || bad "kill -INT, resumed: differs from the uninterrupted run"

# options beside --resume RUN are the run's: another is refused naming it
fails_cleanly "--resume RUN with another --lr" "$FT" train --resume "$T/ref" --lr 0.1
grep -q 'lr differs' "$T/err" || bad "the refusal names lr: $(cat "$T/err")"
fails_cleanly "--resume of a folder that is no run" "$FT" train --resume "$T/data"
must "$FT" train --resume "$T/ref" --model attn-unet --size 32x32 --batch 2
ok "--resume RUN with the run's own options"

# --epochs with --resume: extends, says so, config.json records it; fewer than done is refused
R=$T/ext
must "$FT" train "$D" -o "$R" $A --epochs 2
must "$FT" train --resume "$R" --epochs 3
grep -q "extending $R from 2 to 3 epochs" "$T/err" && ok "extension said: $(grep extending "$T/err")" || bad "no extension line: $(cat "$T/err")"
grep -q '"epochs":	3,' "$R/config.json" && ok "config.json records 3 epochs" || bad "config.json: $(grep epochs "$R/config.json")"
same "$T/ref" "$R" "2 epochs extended to 3"
fails_cleanly "--resume --epochs below the epochs done" "$FT" train --resume "$R" --epochs 2
grep -q '3 epochs done already' "$T/err" || bad "the refusal says why: $(cat "$T/err")"
# poly: the schedule keeps its recorded length; the epochs past it run at --min-lr (here 0)
P="--schedule poly"
must "$FT" train "$D" -o "$T/poly" $A --epochs 2 $P
must "$FT" train --resume "$T/poly" --epochs 3
grep -q 'poly schedule keeps its length of 2 epochs' "$T/err" && ok "poly extension said: $(grep poly "$T/err")" \
    || bad "poly extension: $(cat "$T/err")"
grep -q '"schedule_epochs":	2,' "$T/poly/config.json" || bad "config.json's schedule_epochs changed"
[ "$(sed -n 4p "$T/poly/log.csv" | cut -d, -f2)" = 0 ] && ok "epoch 3 past the schedule at lr 0" || bad "epoch 3's lr: $(sed -n 4p "$T/poly/log.csv")"
must "$FT" train "$D" -o "$T/poly3" $A --epochs 3 $P --schedule-epochs 2
cmp -s "$T/poly/last.safetensors" "$T/poly3/last.safetensors" && ok "= a 3-epoch run with --schedule-epochs 2" \
    || bad "poly extension differs from --schedule-epochs 2 --epochs 3"

# a run of before the newer config.json keys (precision, recipe, augment, init, skip_bad, ...)
R=$T/old
must "$FT" train "$D" -o "$R" $A --epochs 2
awk 'BEGIN { split("precision select bn_recalibrate bn_debias recipe schedule warmup nesterov weight_decay ds_weights augment group_regex stratify exclude_empty init skip_bad cache_mb loader_threads", k, " "); for (i in k) drop["\"" k[i] "\":"] = 1 }
     skip && /^\t}/ { skip = 0; next }
     skip { next }
     { key = $1 } key in drop { if ($0 ~ /{$/) skip = 1; next }
     { print }' "$R/config.json" >"$T/old.json" && mv "$T/old.json" "$R/config.json"
grep -q '"augment"\|"precision"\|"init"' "$R/config.json" && bad "the old-style config.json still has new keys"
must "$FT" train --resume "$R" --epochs 3
same "$T/ref" "$R" "an old-style run resumed with --resume RUN --epochs 3"

# kill -9 during a mid-epoch save, at each file operation it makes (strace's fault injection):
# the run resumes (from the previous commit) to the same end
if ! command -v strace >/dev/null 2>&1 || ! strace -f -o /dev/null true >/dev/null 2>&1; then
    echo "skip: the kill -9 matrix needs strace (scripts/install-deps.sh) and ptrace"
else
    CALLS=rename,renameat,renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,fsync,fdatasync
    # kill points of a traced command: "name n" of each call from the first line matching $1
    points() {
        awk -v from="$1" '
            / resumed>/ { next }
            { name = $2; sub(/\(.*/, "", name); if (name == "" || name ~ /^[+-]/) next; n[name]++ }
            $0 ~ from { on = 1 }
            on && $0 !~ /= -1 E/ { print name, n[name] }' "$2"
    }
    # matrix WHAT SETUP ENV...: kill the command ENV... at each point of $T/points, then resume
    matrix() {
        what=$1 setup=$2; shift 2
        tried=0 bad_n=0
        while read -r name n; do
            rm -rf "$T/k"; $setup
            strace -f -qq -o /dev/null -e trace="$name" -e inject="$name":signal=SIGKILL:when="$n" "$@" >/dev/null 2>&1
            rc=$?
            [ "$rc" -eq 137 ] || { bad "$what: not killed at $name #$n (exit $rc)"; continue; }
            tried=$((tried + 1))
            if ! "$FT" train --resume "$T/k" >/dev/null 2>"$T/err"; then bad "$what: dead after a kill at $name #$n: $(cat "$T/err")"; bad_n=$((bad_n + 1)); continue; fi
            cut -d, -f1-6 "$T/k/log.csv" >"$T/cmp.log"
            if ! cmp -s "$T/ref/last.safetensors" "$T/k/last.safetensors" || ! cmp -s "$T/ref/best.safetensors" "$T/k/best.safetensors" \
                || ! cmp -s "$T/ref.log" "$T/cmp.log"; then bad "$what: diverged after a kill at $name #$n"; bad_n=$((bad_n + 1)); fi
            junk=$(find "$T/k" -name '*.tmp*' -o -name partial | head -3)
            [ -z "$junk" ] || { bad "$what: left behind after a kill at $name #$n: $junk"; bad_n=$((bad_n + 1)); }
        done <"$T/points"
        [ "$tried" -gt 0 ] && [ "$bad_n" -eq 0 ] && ok "$what: killed at $tried points, every resume identical"
    }
    fresh() { :; }
    from_saved() { cp -a "$T/int.saved" "$T/k"; }
    # the first save (epoch 2, step 1) of a fresh run
    FTUNET_TEST_INTERRUPT=4 strace -f -qq -y -o "$T/trace" -e trace=$CALLS "$FT" train "$D" -o "$T/tr1" $A >/dev/null 2>&1
    points 'partial' "$T/trace" >"$T/points"
    in_save=$(awk '$1 == "rename" { print $2; exit }' "$T/points")  # the save's first rename
    matrix "kill -9 in a mid-epoch save" fresh env FTUNET_TEST_INTERRUPT=4 "$FT" train "$D" -o "$T/k" $A
    # a second save replacing the first (resumed from it, interrupted after one more step)
    cp -a "$T/int.saved" "$T/tr2"
    FTUNET_TEST_INTERRUPT=1 strace -f -qq -y -o "$T/trace" -e trace=$CALLS "$FT" train --resume "$T/tr2" >/dev/null 2>&1
    points 'partial/0002-0002' "$T/trace" >"$T/points"
    matrix "kill -9 in a save replacing an earlier one" from_saved env FTUNET_TEST_INTERRUPT=1 "$FT" train --resume "$T/k"
    # the resumed epoch's commit, which retires the saved one
    cp -a "$T/int.saved" "$T/tr3"
    strace -f -qq -y -o "$T/trace" -e trace=$CALLS "$FT" train --resume "$T/tr3" >/dev/null 2>&1
    points 'epochs/0002.tmp' "$T/trace" | awk '{ print } /rmdir/ { exit }' >"$T/points"
    matrix "kill -9 in the commit after a resume" from_saved "$FT" train --resume "$T/k"
    # a second Ctrl-C during the save: its default action ends the process; the run resumes
    rm -rf "$T/k"
    FTUNET_TEST_INTERRUPT=4 strace -f -qq -o /dev/null -e trace=rename -e inject=rename:signal=SIGINT:when="$in_save" \
        "$FT" train "$D" -o "$T/k" $A >/dev/null 2>"$T/err"
    rc=$?
    if [ "$rc" -eq 130 ] && ! grep -q 'continue with' "$T/err"; then ok "a second SIGINT in the save ends the process (exit 130)"
    else bad "second SIGINT: exit $rc: $(tail -1 "$T/err")"; fi
    must "$FT" train --resume "$T/k"
    same "$T/ref" "$T/k" "after a second SIGINT in the save, resumed"
fi

[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all interrupt checks passed"
