#!/bin/sh
# The help texts: `ftunet --help` lists every command with a complete one-line summary, --help and
# --version; each `ftunet CMD --help` prints its full description, its options and working
# examples, every line within 100 columns; one name per option (bench --models is gone).
# usage: sh tests/cli_help.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
. "$(dirname "$0")/lib_cli.sh"

# display columns of the widest line of FILE: UTF-8 continuation bytes (of ±, ×, …) take none
widest() { LC_ALL=C tr -d '\200-\277' <"$1" | LC_ALL=C awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'; }

# the top-level help
if "$FT" --help >"$T/top" 2>"$T/err"; then ok "--help exits 0"; else bad "--help exited non-zero: $(cat "$T/err")"; fi
cmds=$(awk '/^commands:$/ { f = 1; next } f && /^$/ { exit } f { print $1 }' "$T/top")
n=$(echo $cmds | wc -w)
[ "$n" -ge 14 ] && ok "--help lists $n commands" || bad "--help lists $n commands: $cmds"
# each summary is one complete sentence: a line of its own, ending with a full stop (the first
# line of a long description cut at its line break ended mid-sentence: "... evaluate the checkpoint")
cut_off=$(awk '/^commands:$/ { f = 1; next } f && /^$/ { exit } f && !/\.$/ { print $1 }' "$T/top" | tr '\n' ' ')
[ -z "$cut_off" ] && ok "--help: every command summary is a complete sentence" || bad "--help: summaries cut off: $cut_off"
w=$(widest "$T/top")
[ "$w" -le 100 ] && ok "--help: lines within 100 columns" || bad "--help: a line of $w columns"
grep -Eq '^ +(-h, )?--help ' "$T/top" && ok "--help lists --help" || bad "--help does not list --help"
grep -Eq '^ +--version ' "$T/top" && ok "--help lists --version" || bad "--help does not list --version"
grep -q "ftunet COMMAND --help" "$T/top" && ok "--help points to 'ftunet COMMAND --help'" || bad "no pointer to COMMAND --help"

# --version
if "$FT" --version >"$T/out" 2>"$T/err" && grep -Eqx 'ftunet [0-9]+\.[0-9]+\.[0-9]+' "$T/out"; then ok "--version: $(cat "$T/out")"
else bad "--version: $(cat "$T/out" "$T/err")"; fi

# every command's help
for c in $cmds; do
    h="$T/help-$c"
    before=$fails
    if ! "$FT" "$c" --help >"$h" 2>"$T/err"; then bad "$c --help exited non-zero: $(cat "$T/err")"; continue; fi
    head -n 1 "$h" | grep -q "^usage: ftunet $c " || bad "$c --help: first line: $(head -n 1 "$h")"
    # `ftunet help CMD` and `CMD -h` print the same
    "$FT" help "$c" >"$T/out" 2>&1 && cmp -s "$T/out" "$h" || bad "ftunet help $c differs from ftunet $c --help"
    "$FT" "$c" -h >"$T/out" 2>&1 && cmp -s "$T/out" "$h" || bad "ftunet $c -h differs from ftunet $c --help"
    w=$(widest "$h")
    [ "$w" -le 100 ] || bad "$c --help: a line of $w columns"
    # the description, printed in full: its last line (before "options:") ends a sentence
    last=$(awk '/^options:$/ { print prev2; exit } { prev2 = prev; prev = $0 }' "$h")
    case $last in *.|*.\)) ;; *) bad "$c --help: the description ends \"$last\"" ;; esac
    # an examples section: every line one whole command (none wrapped), of this command
    awk '/^examples?:$/ { f = 1; next } f' "$h" >"$T/ex-$c"
    if [ ! -s "$T/ex-$c" ]; then bad "$c --help: no examples section"; continue; fi
    notcmd=$(grep -v "^  ftunet $c\( \|$\)" "$T/ex-$c")
    [ -z "$notcmd" ] || bad "$c --help: example lines that are not 'ftunet $c ...': $notcmd"
    # each option an example uses is one of the command's
    awk '/^options:$/ { f = 1; next } /^examples?:$/ { f = 0 } f' "$h" >"$T/opts-$c"
    for o in $(tr ' ' '\n' <"$T/ex-$c" | grep '^-' | sed 's/=.*//' | sort -u); do
        case $o in
            --*) grep -Eq -- "^ +(-., )?$o( |$)" "$T/opts-$c" ;;
            *) grep -Eq -- "^ +$o, " "$T/opts-$c" ;;
        esac || bad "$c --help: an example uses $o, not an option of $c"
    done
    [ "$fails" -eq "$before" ] && ok "$c --help: full description, $(wc -l <"$T/ex-$c") example(s)"
done

# one name per option: bench keeps --model, --models is gone (it is refused at once, before
# any measuring)
grep -q -- '--models' "$T/help-bench" && bad "bench --help still lists --models" || ok "bench --help: no --models"
fails_cleanly "bench --models" "$FT" bench --models no-such-net
grep -q 'unknown option --models' "$T/err" && ok "bench: --models is an unknown option" || bad "bench --models: $(cat "$T/err")"

echo "$fails failed"
[ "$fails" -eq 0 ]
