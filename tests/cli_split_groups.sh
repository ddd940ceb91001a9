#!/bin/sh
# ftunet train / cv --group-regex and --stratify: the images of one patient never straddle the
# split (every part holds whole groups), the option is part of the run's configuration (recorded
# in config.json, a resume with another value refused), and bad expressions or ids fail cleanly.
# usage: sh tests/cli_split_groups.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
TR="--model attn-unet --size 32x32 --epochs 1 --batch 4 --threads 2"

# 16 images of 8 patients, two each: P0_a, P0_b, P1_a, ...
must "$FT" synth --kind ultrasound -n 16 -o "$T/syn" --seed 3 --size 32x32
mkdir -p "$T/data/images" "$T/data/masks"
i=0
while [ $i -lt 16 ]; do
    f=$(printf '%04d' $i)
    p="P$((i / 2))_$(printf '%s' ab | cut -c$((i % 2 + 1)))"
    mv "$T/syn/images/$f.png" "$T/data/images/$p.png" && mv "$T/syn/masks/$f.png" "$T/data/masks/$p.png"
    i=$((i + 1))
done

# the ids of one part of a config.json ("test": ["P3_a", ...] on one line), one per line
ids() { grep "\"$2\":" "$1" | sed 's/.*\[//; s/\].*//; s/", "/\n/g; s/"//g' | grep .; }
# 0 when no patient has images in two parts of the run's split
whole_groups() {
    for part in train val test; do ids "$1" $part | sed "s/_.*/ $part/"; done | sort -u | cut -d' ' -f1 | sort | uniq -d | grep -q . && return 1
    return 0
}
# without groups some seed splits a patient (so the check above can fail)
split=0
for seed in 1 2 3 4 5; do
    must "$FT" train "$T/data" -o "$T/plain$seed" $TR --seed $seed
    whole_groups "$T/plain$seed/config.json" || split=1
done
[ $split -eq 1 ] && ok "without --group-regex a patient straddles some split" || bad "no seed split a patient: the check cannot fail"

for seed in 1 2 3 4 5; do
    must "$FT" train "$T/data" -o "$T/g$seed" $TR --seed $seed --group-regex '^(P[0-9]+)_'
    whole_groups "$T/g$seed/config.json" && ok "seed $seed: whole patients in every part" \
        || bad "seed $seed: a patient straddles the split: $(grep '"t[re]' "$T/g$seed/config.json")"
    n=$(for part in train val test; do ids "$T/g$seed/config.json" $part; done | sort -u | wc -l)
    [ "$n" -eq 16 ] && ok "seed $seed: the parts cover the 16 images" || bad "seed $seed: $n ids in the parts"
done
grep -q '"group_regex":	"^(P\[0-9\]+)_"' "$T/g1/config.json" && ok "config.json records the expression" \
    || bad "config.json: $(cat "$T/g1/config.json")"
fails_cleanly "resume with another --group-regex" "$FT" train "$T/data" -o "$T/g1" $TR --seed 1 --resume --group-regex '^(P[0-9])'
grep -q 'group_regex differs' "$T/err" && ok "the refusal names group_regex" || bad "resume: $(cat "$T/err")"
fails_cleanly "resume without --group-regex" "$FT" train "$T/data" -o "$T/g1" $TR --seed 1 --resume --epochs 2
must "$FT" train "$T/data" -o "$T/g1" $TR --seed 1 --resume --epochs 2 --group-regex '^(P[0-9]+)_'

# k folds: each fold's test part holds whole patients, every image tested once
must "$FT" cv "$T/data" -o "$T/cv" $TR --folds 4 --group-regex '^(P[0-9]+)_'
all=""
for f in 1 2 3 4; do
    whole_groups "$T/cv/fold-$f/config.json" || bad "fold $f: a patient straddles the split"
    all="$all $(ids "$T/cv/fold-$f/config.json" test | tr '\n' ' ')"
done
[ "$(echo $all | tr ' ' '\n' | sort | uniq | wc -l)" -eq 16 ] && [ "$(echo $all | wc -w)" -eq 16 ] \
    && ok "cv --folds 4 --group-regex: each image tested once, whole patients" || bad "cv test ids: $all"

fails_cleanly "a bad expression" "$FT" train "$T/data" -o "$T/bad1" $TR --group-regex '(['
fails_cleanly "an id the expression does not match" "$FT" train "$T/data" -o "$T/bad2" $TR --group-regex '^Q'
grep -q "does not match the id 'P0_a'" "$T/err" && ok "the unmatched id is named" || bad "unmatched: $(cat "$T/err")"
fails_cleanly "--stratify without classes" "$FT" train "$T/data" -o "$T/bad3" $TR --stratify
[ -e "$T/bad2/config.json" ] && bad "a refused run left config.json" || ok "a refused run writes nothing"

# --stratify on a side-by-side tree of classes (BUSI's layout): 8 benign, 4 malignant, 4 normal
must "$FT" synth --kind ultrasound -n 16 -o "$T/syn2" --seed 4 --size 32x32
i=0
while [ $i -lt 16 ]; do
    f=$(printf '%04d' $i)
    if [ $i -lt 8 ]; then c=benign; elif [ $i -lt 12 ]; then c=malignant; else c=normal; fi
    mkdir -p "$T/busi/$c"
    mv "$T/syn2/images/$f.png" "$T/busi/$c/$c ($i).png" && mv "$T/syn2/masks/$f.png" "$T/busi/$c/$c ($i)_mask.png"
    i=$((i + 1))
done
for seed in 1 2 3; do
    must "$FT" train "$T/busi" -o "$T/st$seed" $TR --seed $seed --stratify --test-split 0.25 --val-split 0.25
    t=$(ids "$T/st$seed/config.json" test | sed 's|/.*||' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
    [ "$t" = " 2 benign; 1 malignant; 1 normal;" ] && ok "seed $seed: the test part holds each class in proportion" \
        || bad "seed $seed: test classes: $t"
    v=$(ids "$T/st$seed/config.json" val | sed 's|/.*||' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
    [ "$v" = " 2 benign; 1 malignant; 1 normal;" ] && ok "seed $seed: so does validation" || bad "seed $seed: val classes: $v"
done
grep -q '"stratify":	true' "$T/st1/config.json" && grep -q '"benign/benign (0)":	"benign"' "$T/st1/config.json" \
    && ok "config.json records stratify and each sample's class" || bad "config.json: $(head -c 2000 "$T/st1/config.json")"
fails_cleanly "resume without --stratify" "$FT" train "$T/busi" -o "$T/st1" $TR --seed 1 --resume --epochs 2 --test-split 0.25 --val-split 0.25

[ "$fails" -eq 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all split-group checks passed"
