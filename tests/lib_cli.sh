# Shared by the command-line tests (tests/cli_*.sh), sourced after FT (the program) and T (a
# scratch folder) are set: counts failures, runs commands, checks clean errors.
rm -rf "$T" && mkdir -p "$T" || exit 1
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
# run CMD... and require success
must() { if "$@" >"$T/out" 2>"$T/err"; then :; else bad "$* (exit $?): $(cat "$T/err")"; fi; }
# an error: non-zero exit and exactly one line on stderr starting "ftunet: "
fails_cleanly() {
    what=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then bad "$what: succeeded"; return; fi
    n=$(wc -l <"$T/err")
    if [ "$n" -eq 1 ] && head -c 8 "$T/err" | grep -q '^ftunet: '; then ok "$what: $(cat "$T/err")"
    else bad "$what: stderr was: $(cat "$T/err")"; fi
}
