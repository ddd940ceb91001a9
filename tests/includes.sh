#!/bin/sh
# The include graph's directions. usage: includes.sh SOURCE_ROOT
#   1. src/ folders in ORDER (lowest first): a file may include its own folder and any folder below
#      it, never one above;
#   2. the engine library (ENGINE_LIB: folders, or io files without extension) includes nothing of
#      the protocol library: not ftunet_protocol.h, not an io file outside ENGINE_LIB;
#   3. tools/ includes only the public headers of include/ and files of its own folder;
#   4. include/: ftunet.h includes no project header, ftunet_protocol.h only ftunet.h.
# Every offending include is printed as file:line: why.
ORDER="core io layers engine networks losses model dist data metrics protocol report bench"
ENGINE_LIB="core io/safetensors io/atomic_file layers engine networks losses model"
PUBLIC="ftunet.h ftunet_protocol.h"

root=${1:-.}
cd "$root" || { echo "includes.sh: cannot enter $root"; exit 2; }
[ -d src ] && [ -d include ] || { echo "includes.sh: $root has no src/ and include/"; exit 2; }

# file:line:target for every #include "target" (system includes <...> are not checked).
list() {
    find "$@" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort | while read -r f; do
        awk -v f="$f" '/^[ \t]*#[ \t]*include[ \t]*"/ {
            t = $0; sub(/^[^"]*"/, "", t); sub(/".*$/, "", t); print f ":" FNR ":" t }' "$f"
    done
}

out=$( { list src | awk -F: -v order="$ORDER" -v engine="$ENGINE_LIB" '
    BEGIN { n = split(order, o, " "); for (i = 1; i <= n; i++) rank[o[i]] = i
            m = split(engine, e, " "); for (i = 1; i <= m; i++) eng[e[i]] = 1 }
    function lib(path,   p, d) {   # "engine" or "protocol" for a path below src/
        p = path; sub(/\.[ch]$/, "", p); d = p; sub(/\/.*$/, "", d)
        return (p in eng || d in eng) ? "engine" : "protocol"
    }
    {
        file = $1; line = $2; t = $3
        from = file; sub(/^src\//, "", from); dir = from; sub(/\/.*$/, "", dir)
        if (!(dir in rank)) { print file ":" line ": folder src/" dir " is not in ORDER"; next }
        if (t == "ftunet.h") next
        if (t == "ftunet_protocol.h") {
            if (lib(from) == "engine") print file ":" line ": the engine library includes ftunet_protocol.h"
            next
        }
        if (t !~ /\//) next                       # a file of the same folder
        to = t; sub(/\/.*$/, "", to)
        if (!(to in rank)) { print file ":" line ": \"" t "\" is not below src/ or not in ORDER"; next }
        if (rank[to] > rank[dir]) print file ":" line ": src/" dir " includes \"" t "\" from above it (ORDER: " order ")"
        else if (lib(from) == "engine" && lib(t) == "protocol")
            print file ":" line ": the engine library includes \"" t "\" of the protocol library"
    }'
  [ -d tools ] && list tools | awk -F: -v public="$PUBLIC" '
    BEGIN { n = split(public, p, " "); for (i = 1; i <= n; i++) pub[p[i]] = 1 }
    {
        file = $1; line = $2; t = $3; dir = file; sub(/\/[^\/]*$/, "", dir)
        if (t in pub) next
        if (t !~ /\// && (system("test -f \"" dir "/" t "\"") == 0)) next
        print file ":" line ": tools/ includes \"" t "\" (only include/ and its own folder)"
    }'
  list include | awk -F: '
    { f = $1; sub(/^.*\//, "", f) }
    f == "ftunet.h" || $3 != "ftunet.h" { print $1 ":" $2 ": include/" f " includes \"" $3 "\" (ftunet.h: none; ftunet_protocol.h: ftunet.h only)" }'
} )

n=$(list src tools include | wc -l)
if [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "$(printf '%s\n' "$out" | wc -l) of $n includes cross the allowed directions"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "$n includes, all in the allowed directions (ORDER: $ORDER)"
echo "1 passed, 0 failed"
