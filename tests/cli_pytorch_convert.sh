#!/bin/sh
# tools/convert_pytorch.py: an ftunet checkpoint to a PyTorch state dict, loaded with strict=True
# into tools/reference_pytorch.py's module (and into one with stock nn.BatchNorm2d), its forward
# pass against `ftunet forward` to 1e-4; back to safetensors bit-identical tensor by tensor and
# loadable by ftunet; num_batches_tracked dropped with a note; bad inputs refused with one line.
# Skipped (exit 0, "skipped: ...") where no python3 has torch.
# usage: sh tests/cli_pytorch_convert.sh PATH/TO/ftunet SCRATCH_DIR
set -u
FT=$1
T=$2
TOOLS="$(cd "$(dirname "$0")/../tools" && pwd)"
CONV="$TOOLS/convert_pytorch.py"
PY=
for p in /usr/bin/python3 python3; do
    if "$p" -c 'import torch, numpy' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "skipped: no python3 here imports torch and numpy (apt-get install python3-torch)"
    exit 0
fi
export FTUNET_ENGINE=ref
. "$(dirname "$0")/lib_cli.sh"
# a one-line error: non-zero exit, one stderr line starting "convert_pytorch: "
refused() {
    what=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then bad "$what: succeeded"; return; fi
    if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^convert_pytorch: ' "$T/err"; then ok "$what: $(cat "$T/err")"
    else bad "$what: stderr was: $(cat "$T/err")"; fi
}

cd "$T" || exit 1
"$PY" -c "
import numpy as np
r = np.random.default_rng(1)
np.save('x1.npy', r.random((2, 1, 32, 32), dtype=np.float32))
np.save('x3.npy', r.random((1, 3, 48, 32), dtype=np.float32))
m = np.zeros((2, 1, 32, 32), np.float32); m[:, :, 8:20, 10:22] = 1
np.save('m1.npy', m)"
for spec in "attn-unet-mi-ds 1 32x32 x1" "unet 3 48x32 x3"; do
    set -- $spec
    model=$1 c=$2 size=$3 x=$4
    must "$FT" init -m "$model" -c "$c" -s "$size" --seed 3 -o "$model.safetensors"
    # biases, BN affine parameters and running statistics away from 0 and 1
    must "$PY" "$TOOLS/reference_pytorch.py" perturb "$model.safetensors" "p-$model.safetensors" --seed 5
    must "$PY" "$CONV" to-pytorch "p-$model.safetensors" "$model.pt"
    grep -q "to-ftunet $model.pt OUT.safetensors --model $model --channels $c --size $size" "$T/out" \
        && ok "$model: to-pytorch says how to go back" || bad "to-pytorch output: $(cat "$T/out")"
    must "$FT" forward "p-$model.safetensors" "$x.npy" -o "ft-$model"
    # the state dict into the spec's module (strict) and into one of stock BatchNorm2d, forward vs ftunet
    if "$PY" - "$TOOLS" "$model" "$c" "$model.pt" "$x.npy" "ft-$model" >"$T/cmp" 2>&1 <<'EOF'
import os, sys
import numpy as np
import torch
sys.path.insert(0, sys.argv[1])
import reference_pytorch as ref
model, c, pt, x, outdir = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
sd = torch.load(pt)
assert all(v.dtype == torch.float32 for v in sd.values())
worst = 0.0
for stock in (False, True):
    if stock:  # torch's own BatchNorm2d with the spec's conventions, num_batches_tracked and all
        ref.BN = lambda ch: torch.nn.BatchNorm2d(ch, eps=1e-3, momentum=0.01)
    net = ref.build(model, c)
    net.load_state_dict(sd, strict=True)
    net.eval()
    with torch.no_grad():
        outs = net(torch.from_numpy(np.load(x)))
    for k, o in enumerate(outs, 1):
        got = np.load(os.path.join(outdir, f"out{k}.npy"))
        assert got.shape == o.shape, (got.shape, o.shape)
        worst = max(worst, float(np.abs(got - o.numpy()).max()))
print(f"max |diff| {worst:.3e}")
sys.exit(0 if worst <= 1e-4 else 1)
EOF
    then ok "$model: strict load, forward matches ftunet ($(cat "$T/cmp"))"; else bad "$model: $(cat "$T/cmp")"; fi
    # back: the very same tensors, and ftunet reads the file
    must "$PY" "$CONV" to-ftunet "$model.pt" "back-$model.safetensors" --model "$model" --channels "$c" --size "$size"
    if "$PY" - "$CONV" "p-$model.safetensors" "back-$model.safetensors" >"$T/cmp" 2>&1 <<'EOF'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("conv", sys.argv[1])
conv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conv)
a, _ = conv.read_safetensors(sys.argv[2])
b, meta = conv.read_safetensors(sys.argv[3])
assert sorted(a) == sorted(b), "names differ"
diff = [k for k in a if a[k].shape != b[k].shape or a[k].numpy().tobytes() != b[k].numpy().tobytes()]
assert not diff, f"not bit-identical: {diff[:3]}"
assert meta["bn_eps"] == "0.001" and meta["layout"] == "NCHW" and meta["bn_momentum_pytorch"] == "0.01", meta
print(f"{len(a)} tensors bit-identical")
EOF
    then ok "$model: to-ftunet gives back the tensors ($(cat "$T/cmp"))"; else bad "$model: $(cat "$T/cmp")"; fi
    must "$FT" forward "back-$model.safetensors" "$x.npy" -o "back-$model"
    same=1
    for f in ft-$model/out*.npy; do cmp -s "$f" "back-$model/$(basename "$f")" || same=0; done
    [ "$same" -eq 1 ] && ok "$model: ftunet's outputs of the round trip are bit-identical" || bad "$model: round-trip outputs differ"
done

# a stock PyTorch state dict: num_batches_tracked (int64) dropped with a note, the rest the same
"$PY" - "$TOOLS" >"$T/cmp" 2>&1 <<'EOF'
import sys
import torch
sys.path.insert(0, sys.argv[1])
import reference_pytorch as ref
sd = torch.load("attn-unet-mi-ds.pt")
ref.BN = lambda ch: torch.nn.BatchNorm2d(ch, eps=1e-3, momentum=0.01)
net = ref.build("attn-unet-mi-ds", 1)
net.load_state_dict(sd, strict=True)
full = net.state_dict()
assert any(k.endswith("num_batches_tracked") for k in full)
torch.save(full, "stock.pt")
torch.save({"state_dict": {"module." + k: v for k, v in full.items()}}, "wrapped.pt")
bad = dict(sd)
bad["enc1.extra.weight"] = torch.zeros(3)
torch.save(bad, "unknown.pt")
short = dict(sd)
del short["enc1.conv1.bias"]
torch.save(short, "missing.pt")
torch.save(net, "module.pt")
EOF
[ -s stock.pt ] || bad "making the stock state dicts: $(cat "$T/cmp")"
must "$PY" "$CONV" to-ftunet stock.pt stock.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
grep -q 'note: dropped [0-9]* num_batches_tracked' "$T/err" && ok "to-ftunet: num_batches_tracked dropped with a note" \
    || bad "no note: $(cat "$T/err")"
must "$FT" forward stock.safetensors x1.npy -o stock
cmp -s stock/out4.npy ft-attn-unet-mi-ds/out4.npy && ok "to-ftunet of a stock state dict: the same network" || bad "stock: outputs differ"
must "$PY" "$CONV" to-ftunet wrapped.pt wrapped.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
cmp -s wrapped.safetensors stock.safetensors && ok "to-ftunet: a {state_dict} wrapper and module. prefixes" || bad "wrapped differs"

refused "to-ftunet: a name the model lacks" "$PY" "$CONV" to-ftunet unknown.pt u.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
grep -q 'enc1.extra.weight' "$T/err" || bad "the unknown name is not named: $(cat "$T/err")"
refused "to-ftunet: a missing tensor" "$PY" "$CONV" to-ftunet missing.pt u.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
grep -q 'enc1.conv1.bias' "$T/err" || bad "the missing name is not named: $(cat "$T/err")"
refused "to-ftunet: other channels" "$PY" "$CONV" to-ftunet attn-unet-mi-ds.pt u.safetensors --model attn-unet-mi-ds --channels 3 --size 32x32
refused "to-ftunet: another model" "$PY" "$CONV" to-ftunet attn-unet-mi-ds.pt u.safetensors --model unet --channels 1 --size 32x32
refused "to-ftunet: a size not a multiple of 16" "$PY" "$CONV" to-ftunet stock.pt u.safetensors --model attn-unet-mi-ds --channels 1 --size 30x32
refused "to-ftunet: a pickled module" "$PY" "$CONV" to-ftunet module.pt u.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
refused "to-ftunet: a missing file" "$PY" "$CONV" to-ftunet none.pt u.safetensors --model attn-unet-mi-ds --channels 1 --size 32x32
[ ! -e u.safetensors ] && ok "to-ftunet: nothing written when refused" || bad "a refused conversion wrote u.safetensors"
refused "to-pytorch: not a checkpoint" "$PY" "$CONV" to-pytorch x1.npy u.pt
must "$FT" grads p-attn-unet-mi-ds.safetensors x1.npy m1.npy -o grads.safetensors
refused "to-pytorch: gradients are not a checkpoint" "$PY" "$CONV" to-pytorch grads.safetensors u.pt

[ "$fails" -eq 0 ] && echo "all PyTorch conversion checks passed" || { echo "$fails failed"; exit 1; }
