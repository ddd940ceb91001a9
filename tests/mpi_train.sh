#!/bin/sh
# mpirun -n R ftunet train is the one-process run (reference engine, 32x32): 20 images, batch 13
# (parts 7/6, and a last batch of 7 in parts 4/3), 1 epoch with 2 processes against 1 process;
# log.csv's losses within 1e-5 relative, checkpoints within 1e-4; only process 0 wrote (no
# second set of files); then a resume with 3 processes to 2 epochs against the one-process run
# of 2 epochs. usage: mpi_train.sh BUILD_DIR MPIEXEC TMP
build=$1 mpiexec=$2 tmp=$3
FT=$build/ftunet
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 FTUNET_ENGINE=ref OMP_NUM_THREADS=1
launch() { n=$1; shift; "$mpiexec" -n "$n" --bind-to none --oversubscribe --mca btl self,vader,tcp "$FT" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
O="--model attn-unet-mi-ds --size 32x32 --batch 13 --threads 1 --test-split 0 --val-split 0"
"$FT" synth -n 20 -o "$tmp/data" --seed 3 --size 40x40 >/dev/null || fail synth
"$FT" train "$tmp/data" -o "$tmp/one" $O --epochs 1 >/dev/null 2>&1 || fail "one process"
launch 2 train "$tmp/data" -o "$tmp/two" $O --epochs 1 >"$tmp/two.out" 2>&1 || fail "2 processes: $(cat "$tmp/two.out")"
# losses: every epoch's train_loss within 1e-5 relative
same_log() {
    paste -d, "$1" "$2" | awk -F, 'NR > 1 { n = NF / 2; a = $3; b = $(n + 3); d = a - b; if (d < 0) d = -d;
        if (d > 1e-5 * (a < 0 ? -a : a)) { print "epoch " $1 ": " a " vs " b; bad = 1 } } END { exit bad }'
}
same_log "$tmp/one/log.csv" "$tmp/two/log.csv" || fail "2 processes: losses differ"
"$build/test_mpi_compare" "$tmp/one/last.safetensors" "$tmp/two/last.safetensors" 1e-4 || fail "2 processes: checkpoints differ"
[ "$(grep -c 'epoch 1/1' "$tmp/two.out")" -le 1 ] || fail "more than one process reported progress"
[ "$(ls "$tmp/two" | grep -c tmp)" -eq 0 ] || fail "temporary files left"
# resume with 3 processes, against one process of 2 epochs
"$FT" train "$tmp/data" -o "$tmp/one2" $O --epochs 2 >/dev/null 2>&1 || fail "one process, 2 epochs"
launch 3 train --resume "$tmp/two" --epochs 2 >"$tmp/three.out" 2>&1 || fail "resume with 3: $(cat "$tmp/three.out")"
[ "$(wc -l <"$tmp/two/log.csv")" -eq 3 ] || fail "resume: log.csv $(cat "$tmp/two/log.csv")"
same_log "$tmp/one2/log.csv" "$tmp/two/log.csv" || fail "resume with 3 processes: losses differ"
"$build/test_mpi_compare" "$tmp/one2/last.safetensors" "$tmp/two/last.safetensors" 1e-4 || fail "resume: checkpoints differ"
# a run that exists already: process 0's one error line, every process ends
launch 2 train "$tmp/data" -o "$tmp/one" $O --epochs 1 >"$tmp/exists.out" 2>&1 && fail "an existing run was not refused"
[ "$(grep -c '^ftunet: train:' "$tmp/exists.out")" -eq 1 ] || fail "existing run: $(cat "$tmp/exists.out")"
echo "mpi_train: passed"
