#!/bin/sh
# Runs every libFuzzer target (fuzz/fuzz_*.c, built by `make fuzz` into build-fuzz/) for SECONDS
# each, one after another, on a fresh seed corpus (fuzz/make_seeds.c) plus what earlier runs
# found (build-fuzz/corpus/TARGET). Fails if any target crashes, leaks, times out on an input or
# trips a sanitizer; the input that did it is left in build-fuzz/crashes/. Prints one line per
# target: seconds, executions, exec/s, coverage (cov: edges, ft: features).
# usage: sh scripts/fuzz.sh [SECONDS] (default 60)
set -eu
secs=${1:-60}
cd "$(dirname "$0")/.."
B=build-fuzz
blog=$(mktemp)
if ! make -s fuzz FUZZ_SECONDS= >"$blog" 2>&1; then
    tail -30 "$blog"
    rm -f "$blog"
    echo "fuzz: building the fuzzers failed" >&2
    exit 1
fi
rm -f "$blog"
# the harnesses write each input to a file: a RAM-backed folder when there is one
tmp=$B/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm/ftunet-fuzz-$$
rm -rf "$B/seeds" "$tmp" && mkdir -p "$B/seeds" "$B/corpus" "$B/crashes" "$B/logs" "$tmp"
trap 'rm -rf "$tmp"' EXIT
"$B/ftunet_fuzz_seeds" "$B/seeds"
failed=0
start=$(date +%s)
for exe in "$B"/fuzz_*; do
    [ -x "$exe" ] || continue
    t=$(basename "$exe")
    mkdir -p "$B/corpus/$t"
    log=$B/logs/$t.log
    t0=$(date +%s)
    # per input: 20 s, 4 GiB; OMP_NUM_THREADS=1: the data set loaders are parallel
    if TMPDIR=$tmp OMP_NUM_THREADS=1 ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1} \
        timeout $((secs + 120)) "$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$B/crashes/$t-" "$B/corpus/$t" "$B/seeds/$t" >"$log" 2>&1; then
        rc=0
    else
        rc=$?
    fi
    t1=$(date +%s)
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    runs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{ print $2 }' | tail -1)
    eps=$(grep -E '^stat::average_exec_per_sec:' "$log" | awk '{ print $2 }' | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ "$rc" -eq 0 ]; then status=ok; else status="FAILED (exit $rc)"; failed=$((failed + 1)); fi
    printf '%-18s %4ss  %10s runs  %7s exec/s  cov %6s  ft %6s  %s\n' "$t" "$((t1 - t0))" "${runs:-?}" "${eps:-?}" \
        "${cov:-?}" "${ft:-?}" "$status"
    if [ "$rc" -ne 0 ]; then
        grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -8 | sed 's/^/    /'
        echo "    full log: $log"
    fi
done
echo "fuzz: $failed target(s) failed; $(($(date +%s) - start)) s in all"
[ "$failed" -eq 0 ]
