#!/bin/sh
# Every global symbol the static libraries define is prefixed ftn_, so that linking libftunet.a
# and libftunet_protocol.a into a user's program cannot collide with the user's own names
# (conv2d_forward, relu_forward…); and no symbol is defined by two of them.
# usage: symbols.sh LIBFTUNET.a [LIBFTUNET_PROTOCOL.a ...]
[ $# -ge 1 ] || { echo "usage: symbols.sh LIB.a [LIB.a ...]"; exit 2; }
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
passed=0 failed=0 all=""
for lib in "$@"; do
    if ! nm -g --defined-only "$lib" >/dev/null; then
        echo "nm could not read $lib"
        failed=$((failed + 1))
        continue
    fi
    # a sanitizer build adds its own per-global symbols (__odr_asan.NAME, __asan_*, __sancov_*)
    syms=$(nm -g --defined-only "$lib" | awk 'NF == 3 && $3 !~ /^__(odr_asan|asan|sancov|ubsan)/ { print $3 }')
    bad=$(printf '%s\n' "$syms" | awk 'NF && $1 !~ /^ftn_/' | sort -u)
    total=$(printf '%s\n' "$syms" | awk 'NF' | wc -l)
    if [ -n "$bad" ]; then
        echo "unprefixed globals in $lib:" $bad
        failed=$((failed + 1))
    else
        echo "$lib: $total globals, all prefixed ftn_"
        passed=$((passed + 1))
    fi
    all="$all
$(printf '%s\n' "$syms" | sort -u)"
done
if [ $# -gt 1 ]; then
    dup=$(printf '%s\n' "$all" | awk 'NF' | sort | uniq -d)
    if [ -n "$dup" ]; then
        echo "defined in more than one library:" $dup
        failed=$((failed + 1))
    else
        echo "no symbol defined twice across the $# libraries"
        passed=$((passed + 1))
    fi
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
