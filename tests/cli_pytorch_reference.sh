#!/bin/sh
# ftunet against an independent PyTorch implementation of the spec (tools/reference_pytorch.py):
# every network's outputs (both engines) to 1e-4, and the paper's network's gradients under each
# loss to 1e-3 relative. Skipped where Debian's python3-torch is not installed.
set -eu
FT=$1
DIR=$2
PY=/usr/bin/python3
REF="$(dirname "$0")/../tools/reference_pytorch.py"
if ! $PY -c 'import torch, numpy' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no torch (apt-get install python3-torch python3-numpy)"
  exit 0
fi
rm -rf "$DIR" && mkdir -p "$DIR" && cd "$DIR"
$PY -c "
import numpy as np
r = np.random.default_rng(0)
np.save('x1.npy', r.random((2, 1, 32, 32), dtype=np.float32))
np.save('x3.npy', r.random((2, 3, 32, 48), dtype=np.float32))
m = np.zeros((2, 1, 32, 32), np.float32); m[:, :, 8:20, 10:22] = 1; m[1, :, 2:6, 2:9] = 1
np.save('m1.npy', m)"
for model in unet attn-unet attn-unet-ds attn-unet-mi-ds; do
  for engine in ref dnnl; do
    "$FT" init -m $model -s 32x32 --seed 3 -o $model.safetensors >/dev/null
    $PY "$REF" perturb $model.safetensors p-$model.safetensors --seed 5 >/dev/null
    "$FT" forward p-$model.safetensors x1.npy -o out-$model-$engine --engine $engine >/dev/null
    $PY "$REF" forward p-$model.safetensors x1.npy out-$model-$engine --tol 1e-4
  done
done
"$FT" init -m attn-unet-mi-ds -c 3 -s 32x48 --seed 4 -o rgb.safetensors >/dev/null
$PY "$REF" perturb rgb.safetensors p-rgb.safetensors --seed 6 >/dev/null
"$FT" forward p-rgb.safetensors x3.npy -o out-rgb >/dev/null
$PY "$REF" forward p-rgb.safetensors x3.npy out-rgb --tol 1e-4
for loss in dl tl ftl; do
  $PY "$REF" grads p-attn-unet-mi-ds.safetensors x1.npy m1.npy pt-$loss.safetensors --loss $loss >/dev/null
  for engine in ref dnnl; do
    "$FT" grads p-attn-unet-mi-ds.safetensors x1.npy m1.npy -o ft-$loss-$engine.safetensors --loss $loss --engine $engine >/dev/null
    if ! $PY "$REF" diff pt-$loss.safetensors ft-$loss-$engine.safetensors --rtol 1e-3 --atol 1e-2 >diff-$loss-$engine.txt; then
      grep exceeds diff-$loss-$engine.txt; echo "gradients differ: $loss on $engine"; exit 1
    fi
    tail -1 diff-$loss-$engine.txt
  done
done
echo "PyTorch reference: outputs and gradients agree"
