#!/bin/sh
# RUN/report.html of a tiny synthetic run (2 epochs, 32x32): the sortable per-image table with HD95
# and ASD, the DSC histogram, the learning-rate and seconds-per-epoch curves, the split ids, the
# commit and machine (RUN/provenance.json, a session more per resume), no external resources; eval
# prints HD95 and ASD. Where Chromium is installed (scripts/install-deps.sh report), the page is
# rendered headless: the screenshot must not be blank and must show the two outline colours, and
# report.html#sort=-hd95 must sort the table. Without Chromium that part is skipped (exit 77, after
# the other checks passed). usage: sh tests/cli_report.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
has() { grep -q -- "$1" "$R" || { bad "report lacks $2 ($1)"; return 1; }; }

must "$FT" synth --kind ultrasound -n 12 -o "$T/data" --seed 3 --size 40x48
TR="--model attn-unet --size 32x32 --epochs 2 --batch 4 --threads 2 --test-split 0.34"
must "$FT" train "$T/data" -o "$T/run" $TR
R=$T/run/report.html
[ -s "$R" ] || { bad "train wrote no report"; echo "$fails failed"; exit 1; }

# the per-image metrics: hd95 and asd columns in test/metrics.csv, rows in a sortable table
head -1 "$T/run/test/metrics.csv" | grep -qx 'id,dsc,precision,recall,iou,gt_empty,hd95,asd' \
    && ok "test/metrics.csv has hd95 and asd" || bad "metrics.csv: $(head -1 "$T/run/test/metrics.csv")"
grep -q '"hd95":' "$T/run/test/summary.json" && grep -q '"n_surface":' "$T/run/test/summary.json" \
    && ok "test/summary.json has hd95 and n_surface" || bad "summary.json: $(cat "$T/run/test/summary.json")"
ids() { tr -d ' \n\t' <"$T/run/config.json" | sed -n "s/.*\"$1\":\[\([^]]*\)\].*/\1/p" | tr -d '"' | tr , ' '; }
TEST_IDS=$(ids test)
[ -n "$TEST_IDS" ] || bad "config.json lists no test ids"
n_test=$(echo $TEST_IDS | wc -w)
rows=$(grep -c '^<tr><td>' "$R")
has 'class="metrics sortable" id="per-image"' "the sortable table" && has '<th data-col="hd95">HD95 (px)</th>' "an HD95 column" \
    && has '<th data-col="asd">ASD (px)</th>' "an ASD column" && has '<script>' "its script" \
    && [ "$rows" -eq "$n_test" ] && ok "per-image table: $rows rows, HD95 and ASD columns" || bad "per-image table: $rows rows of $n_test"
for id in $TEST_IDS; do grep -q "^<tr><td>$id</td>" "$R" || bad "the table lacks test image $id"; done
has 'HD95 (pixels)' "HD95 in the test metrics" && has 'ASD (pixels)' "ASD in the test metrics" && ok "HD95 and ASD beside DSC"
# the histogram holds every test image: its bars' counts add up
bars=$(sed -n '/id="dsc-histogram"/,/<\/svg>/p' "$R" | grep -o ': [0-9]* lesion image' | awk '{ s += $2 } END { print s + 0 }')
[ "$bars" -eq "$n_test" ] && ok "DSC histogram of the $n_test test images" || bad "DSC histogram counts $bars images"
has 'aria-label="Learning rate"' "the learning-rate curve" && has 'aria-label="Seconds per epoch"' "the epoch-time curve" \
    && has 'aria-label="Loss"' "the loss curve" && ok "learning-rate and seconds-per-epoch curves"

# the split, every id, in collapsible lists
split_ok=1
for part in train val test; do
    grep -q "<details id=\"split-$part\">" "$R" || { bad "no $part list"; split_ok=0; }
    list=$(sed -n "/<details id=\"split-$part\">/,/<\/details>/p" "$R")
    for id in $(ids $part); do echo "$list" | grep -q "\b$id\b" || { bad "the $part list lacks $id"; split_ok=0; }; done
done
[ "$split_ok" -eq 1 ] && ok "the split's ids"

# provenance: commit and machine, recorded at the start, shown in the report
P=$T/run/provenance.json
commit=$(sed -n 's/.*"commit":[[:space:]]*"\([^"]*\)".*/\1/p' "$P" | head -1)
case "$commit" in
unknown) ok "commit: unknown (not built from a git checkout)" ;;
"") bad "provenance.json has no commit: $(cat "$P")" ;;
*)  hash=$(echo "$commit" | sed 's/-dirty$//; s/.*-g\([0-9a-f]*\)$/\1/')
    if command -v git >/dev/null 2>&1 && git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$SRC" cat-file -e "$hash^{commit}" 2>/dev/null && ok "commit $commit is one of this repository's" \
            || bad "commit $commit is not in $SRC"
    else
        ok "commit $commit (no git here to check it)"
    fi ;;
esac
grep -q "commit <code>$commit</code>" "$R" && ok "the report names the commit" || bad "the report lacks commit $commit"
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -1)
[ -n "$cpu" ] || cpu=unknown
grep -q '"cpu":' "$P" && grep -qF "$cpu" "$R" && grep -q '"threads":[[:space:]]*2' "$P" && grep -q '"onednn_isa":' "$P" \
    && grep -q '"precision":[[:space:]]*"fp32"' "$P" && has 'oneDNN ISA' "the ISA" && ok "machine: $cpu, 2 threads" \
    || bad "machine: $(cat "$P")"
# a resume adds a session and is not refused for it (provenance is not a training option)
must "$FT" train "$T/data" -o "$T/run" $TR --epochs 3 --resume
[ "$(grep -c '"started":' "$P")" -eq 2 ] && grep -q '"resumed":[[:space:]]*true' "$P" && grep -q '"from_epoch":[[:space:]]*2' "$P" \
    && grep -q 'resumed 1 time' "$R" && ok "resume: a second session" || bad "resume: $(cat "$P")"
# no git, or not a checkout: "unknown", and the build goes on
if command -v cmake >/dev/null 2>&1; then
    cmake -DSRC="$T/not-a-checkout" -DOUT="$T/commit.h" -P "$SRC/cmake/git_describe.cmake" >/dev/null 2>&1 \
        && grep -q '#define FTUNET_COMMIT "unknown"' "$T/commit.h" && ok "outside a checkout the commit is unknown" \
        || bad "git_describe.cmake outside a checkout"
fi

# self-contained: no URL of any kind, no external resource
grep -n -i -E 'https?:|src="//|href="//|url\(|@import' "$R" >"$T/urls" && bad "external URLs: $(head -3 "$T/urls")" \
    || ok "no external URLs"

# eval prints the boundary metrics
must "$FT" eval "$T/run/best.safetensors" "$T/data" --run "$T/run" -o "$T/eval"
grep -q '^  HD95  .* ± .* px$' "$T/out" && grep -q '^  ASD  .* ± .* px$' "$T/out" && ok "eval prints HD95 and ASD" \
    || bad "eval: $(cat "$T/out")"

# the rendered page (headless Chromium): not blank, the two outline colours, the table sorted
CHROME=
for c in chromium chromium-browser google-chrome; do command -v $c >/dev/null 2>&1 && { CHROME=$c; break; }; done
if [ -z "$CHROME" ] || ! command -v python3 >/dev/null 2>&1; then
    echo "$fails failed"
    [ "$fails" -eq 0 ] || exit 1
    echo "SKIP (screenshot): $([ -z "$CHROME" ] && echo 'no chromium (scripts/install-deps.sh report)' || echo 'no python3')"
    exit 77
fi
URL="file://$(cd "$T/run" && pwd)/report.html"
# Chromium writes its profile under HOME: a scratch one keeps the test to itself
HOME=$T/home timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 \
    --screenshot="$T/shot.png" "$URL" >"$T/chrome.log" 2>&1
if [ -s "$T/shot.png" ]; then
    # decoded with the standard library: the overlay colours (FTN_OVERLAY_PRED/GT, magenta and
    # green) over more pixels than the legend's swatches hold (~160 each), and a page that is not
    # blank (many colours, much not white)
    python3 - "$T/shot.png" >"$T/colours" 2>&1 <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
i, idat = 8, []
while i < len(d):
    n, t = struct.unpack('>I4s', d[i:i + 8])
    if t == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', d[i + 8:i + 18])
    elif t == b'IDAT': idat.append(d[i + 8:i + 8 + n])
    i += 12 + n
assert depth == 8 and ctype in (2, 6), 'PNG type %d/%d' % (depth, ctype)
bpp = 3 if ctype == 2 else 4
raw, stride, prev, p = zlib.decompress(b''.join(idat)), w * bpp, bytearray(w * bpp), 0
magenta = green = ink = 0
colours = set()
for y in range(h):
    f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
    p += 1 + stride
    if f == 2: line = bytearray((a + b) & 255 for a, b in zip(line, prev))
    elif f:
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for r, g, b in zip(line[0::bpp], line[1::bpp], line[2::bpp]):
        if r > 215 and g < 40 and b > 215: magenta += 1
        elif r < 40 and g > 190 and 24 < b < 104: green += 1
        if r < 240 or g < 240 or b < 240: ink += 1
    if y % 8 == 0: colours.update(zip(line[0::bpp * 4], line[1::bpp * 4], line[2::bpp * 4]))
print('%dx%d magenta %d green %d non-white %d colours %d' % (w, h, magenta, green, ink, len(colours)))
sys.exit(0 if magenta > 1000 and green > 1000 and ink > w * h // 20 and len(colours) > 100 else 1)
PY
    [ $? -eq 0 ] && ok "screenshot: $(cat "$T/colours")" || bad "screenshot: $(cat "$T/colours")"
else
    bad "$CHROME wrote no screenshot: $(tail -3 "$T/chrome.log")"
fi
# the script sorts: descending HD95 from the link, against the CSV sorted here (both stable: ties
# keep the order of the file)
HOME=$T/home timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --dump-dom "$URL#sort=-hd95" 2>/dev/null \
    | grep -o '<tr><td>[^<]*</td>' | sed 's/<tr><td>//; s/<\/td>//' >"$T/sorted"
tail -n +2 "$T/run/test/metrics.csv" | sort -s -t, -k7,7 -g -r | cut -d, -f1 >"$T/want"
[ -s "$T/sorted" ] && cmp -s "$T/sorted" "$T/want" && ok "report.html#sort=-hd95 sorts the table" \
    || bad "sorted rows: $(tr '\n' ' ' <"$T/sorted"), want $(tr '\n' ' ' <"$T/want")"

echo "$fails failed"
[ "$fails" -eq 0 ]
