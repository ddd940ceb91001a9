#!/bin/sh
# Every global symbol the static library defines is prefixed ftn_, so that linking libftunet.a
# into a user's program cannot collide with the user's own names (conv2d_forward, relu_forward…).
# usage: symbols.sh LIBFTUNET.a
lib=$1
command -v nm >/dev/null || { echo "SKIP: no nm"; exit 77; }
nm -g --defined-only "$lib" >/dev/null || { echo "1 failed: nm could not read $lib"; exit 1; }
bad=$(nm -g --defined-only "$lib" | awk 'NF == 3 && $3 !~ /^ftn_/ { print $3 }' | sort -u)
total=$(nm -g --defined-only "$lib" | awk 'NF == 3' | wc -l)
if [ -n "$bad" ]; then
    echo "unprefixed globals in $lib:" $bad
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$total globals, all prefixed ftn_"
echo "1 passed, 0 failed"
