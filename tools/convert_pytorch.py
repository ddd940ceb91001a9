#!/usr/bin/python3
"""Convert between ftunet checkpoints (safetensors) and PyTorch state dicts (torch.save files).

  to-pytorch IN.safetensors OUT.pt
      the checkpoint's tensors as a plain state dict (an OrderedDict name -> float32 tensor), for
      torch.nn.Module.load_state_dict(torch.load(OUT.pt), strict=True) on a module with the
      spec's names (tools/reference_pytorch.py builds one; a module with stock
      nn.BatchNorm2d(c, eps=1e-3, momentum=0.01) loads it too: PyTorch adds the missing
      num_batches_tracked itself for a plain dict)
  to-ftunet STATE_DICT.pt OUT.safetensors --model M --channels C --size HxW [--loss dl|tl|ftl]
      a state dict (or a {"state_dict": ...} wrapper, or "module."-prefixed names of
      DataParallel) as an ftunet checkpoint; `num_batches_tracked` entries are dropped with a
      note, any other name the spec's module lacks, a missing name or a wrong shape is an error

Names and shapes are the spec's (docs/ARCHITECTURE.md), checked by loading into
tools/reference_pytorch.py's module of the model with strict=True. The conventions a PyTorch
user needs: tensors NCHW float32; conv weights [out, in, kh, kw]; transposed-conv weights
[in, out, kh, kw] (nn.ConvTranspose2d's own layout: 3x3, stride 2, padding 1, output_padding 1);
BatchNorm eps 1e-3, running statistics r = 0.99 r + 0.01 batch (PyTorch momentum=0.01) with the
unbiased batch variance; ReLU activations; the outputs are sigmoid probabilities, the last one the
prediction. The checkpoint's __metadata__ states them (layout, conv_weight, deconv_weight, bn_eps,
bn_running_update, bn_momentum_pytorch, activation, output).

Needs python3 with torch (Debian: apt-get install python3-torch, which brings numpy) and the
standard library; safetensors is read and written here by hand (8-byte little-endian header
length, the JSON header, the raw data).
"""

import argparse
import collections
import json
import os
import struct
import sys

PROG = "convert_pytorch"

try:
    import torch
except ImportError as e:  # one line, like every other error here
    sys.exit(f"{PROG}: needs PyTorch (python3 -c 'import torch' fails: {e}); apt-get install python3-torch")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_pytorch as ref  # noqa: E402  (the spec's modules, names and shapes)

CHECKPOINT_FORMAT = "ftunet-checkpoint"
FORMAT_VERSION = "1"
BN_COUNTER = ".num_batches_tracked"
# what ftunet writes into every checkpoint's metadata (src/model/checkpoint.c)
CONVENTIONS = {
    "layout": "NCHW",
    "conv_weight": "out,in,kh,kw",
    "deconv_weight": "in,out,kh,kw",
    "bn_eps": "0.001",
    "bn_running_update": "r = 0.99*r + 0.01*batch (unbiased batch var)",
    "bn_momentum_pytorch": "0.01",
    "activation": "relu",
    "output": "sigmoid probabilities; the last output is the prediction",
}
LOSSES = {"dl": (0.5, 0.5, 1.0), "tl": (0.7, 0.3, 1.0), "ftl": (0.7, 0.3, 4.0 / 3.0)}


def fail(msg):
    sys.exit(f"{PROG}: {msg}")


def note(msg):
    print(f"{PROG}: note: {msg}", file=sys.stderr)


# ---- safetensors ----------------------------------------------------------------------------

def read_safetensors(path):
    """(OrderedDict name -> float32 tensor in file order, metadata dict)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")
    if len(blob) < 8:
        fail(f"{path}: {len(blob)} bytes, too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        fail(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    except (UnicodeDecodeError, ValueError) as e:
        fail(f"{path}: the header is not JSON ({e})")
    if not isinstance(header, dict):
        fail(f"{path}: the header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    data = blob[8 + n:]
    tensors = collections.OrderedDict()
    for name, e in header.items():
        if not isinstance(e, dict) or e.get("dtype") != "F32":
            fail(f"{path}: tensor {name!r} is not float32 (dtype {e.get('dtype') if isinstance(e, dict) else e!r})")
        b, end = e["data_offsets"]
        shape = [int(d) for d in e["shape"]]
        count = 1
        for d in shape:
            count *= d
        if end - b != 4 * count or end > len(data):
            fail(f"{path}: tensor {name!r}: data_offsets {b}..{end} do not hold shape {shape}")
        t = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32) if count else torch.zeros(0)
        if sys.byteorder != "little":
            t = t.byteswap()  # pragma: no cover (safetensors is little-endian)
        tensors[name] = t.reshape(shape).clone()
    return tensors, meta


def write_safetensors(path, tensors, metadata):
    """Float32 tensors in the given order, string metadata, header padded with spaces to 8 bytes
    (as ftunet and safetensors write it); written to PATH.tmp.PID, then renamed."""
    header = collections.OrderedDict()
    header["__metadata__"] = collections.OrderedDict((str(k), str(v)) for k, v in metadata.items())
    chunks, off = [], 0
    for name, t in tensors.items():
        a = t.detach().to(torch.float32).contiguous().cpu()
        raw = a.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(h)))
            f.write(h)
            for c in chunks:
                f.write(c)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        fail(f"{path}: {e.strerror}")


# ---- checks against the spec's module -------------------------------------------------------

def spec_module(model, channels):
    if model not in ref.MODELS:
        fail(f"--model {model}: expected one of {', '.join(ref.MODELS)}")
    return ref.build(model, channels)


def check_names(sd, net, what):
    """The spec's names and shapes exactly: strict=True, with messages that say which."""
    want = net.state_dict()
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want]
    if missing:
        fail(f"{what}: {len(missing)} tensor(s) of the model missing, e.g. {', '.join(missing[:3])}")
    if extra:
        fail(f"{what}: {len(extra)} tensor(s) the model does not have, e.g. {', '.join(extra[:3])}")
    for k, v in want.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            fail(f"{what}: tensor {k} has shape {list(sd[k].shape)}, the model needs {list(v.shape)}")
    net.load_state_dict(sd, strict=True)


# ---- the two directions ---------------------------------------------------------------------

def to_pytorch(args):
    tensors, meta = read_safetensors(args.input)
    if meta.get("format") != CHECKPOINT_FORMAT:
        fail(f"{args.input}: not an ftunet checkpoint (metadata 'format' is {meta.get('format', 'absent')})")
    if meta.get("format_version") != FORMAT_VERSION:
        fail(f"{args.input}: checkpoint format version {meta.get('format_version')}; this reads {FORMAT_VERSION}")
    model = meta.get("model")
    try:
        channels = int(meta.get("channels", ""))
    except ValueError:
        fail(f"{args.input}: metadata 'channels' = {meta.get('channels')!r} is not a number")
    for k in ("layout", "bn_eps"):
        if k in meta and meta[k] != CONVENTIONS[k] and not (k == "bn_eps" and float(meta[k]) == 1e-3):
            fail(f"{args.input}: metadata {k!r} = {meta[k]!r}; expected {CONVENTIONS[k]!r}")
    net = spec_module(model, channels)
    check_names(tensors, net, args.input)
    # a plain OrderedDict (no _metadata): stock nn.BatchNorm2d modules fill in num_batches_tracked
    out = collections.OrderedDict((k, tensors[k]) for k in net.state_dict())
    tmp = f"{args.output}.tmp.{os.getpid()}"
    try:
        torch.save(out, tmp)
        os.replace(tmp, args.output)
    except OSError as e:
        fail(f"{args.output}: {e.strerror}")
    size = f"{meta.get('height')}x{meta.get('width')}"
    print(f"{args.input}: {model}, {channels} channel(s), {size} -> {args.output} ({len(out)} tensors)")
    print(f"back: {sys.argv[0]} to-ftunet {args.output} OUT.safetensors --model {model} --channels {channels} --size {size}")
    return 0


def load_state_dict_file(path):
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # a torch without weights_only
            obj = torch.load(path, map_location="cpu")
    except FileNotFoundError:
        fail(f"{path}: No such file or directory")
    except Exception as e:  # a pickle of a whole module, a corrupt file, ...
        fail(f"{path}: cannot be read as a state dict of tensors ({type(e).__name__}); a whole pickled module is "
             "not read (it would run code): save model.state_dict() instead")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        note(f"{path}: using its 'state_dict' entry")
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        fail(f"{path}: not a state dict (a dict of name -> tensor)")
    sd = collections.OrderedDict(obj)
    if all(k.startswith("module.") for k in sd):
        note(f"{path}: names without their 'module.' prefix (DataParallel)")
        sd = collections.OrderedDict((k[len("module."):], v) for k, v in sd.items())
    return sd


def to_ftunet(args):
    try:
        h, w = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        fail(f"--size {args.size}: expected HxW, e.g. 128x128")
    if h < 16 or w < 16 or h % 16 or w % 16:
        fail(f"--size {args.size}: height and width must be multiples of 16")
    if args.channels not in (1, 3):
        fail(f"--channels {args.channels}: expected 1 or 3")
    net = spec_module(args.model, args.channels)
    sd = load_state_dict_file(args.input)
    counters = [k for k in sd if k.endswith(BN_COUNTER)]
    for k in counters:
        del sd[k]
    if counters:
        note(f"dropped {len(counters)} num_batches_tracked entries (PyTorch's BN update counters; "
             "unused with a fixed momentum, ftunet has none)")
    for k, v in list(sd.items()):
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            fail(f"{args.input}: {k} is not a floating-point tensor ({getattr(v, 'dtype', type(v).__name__)})")
        if v.dtype != torch.float32:
            note(f"{k}: {v.dtype} converted to float32")
            sd[k] = v.to(torch.float32)
    check_names(sd, net, args.input)
    alpha, beta, gamma = LOSSES[args.loss]
    meta = collections.OrderedDict([
        ("format", CHECKPOINT_FORMAT), ("format_version", FORMAT_VERSION), ("model", args.model),
        ("channels", str(args.channels)), ("height", str(h)), ("width", str(w)), ("loss", args.loss),
        ("alpha", repr(alpha)), ("beta", repr(beta)), ("gamma", f"{gamma:.9g}"), ("smooth", "1"),
        ("reduction", "batch"), ("iteration", "0")])
    meta.update(CONVENTIONS)
    out = collections.OrderedDict((k, sd[k]) for k in net.state_dict())
    write_safetensors(args.output, out, meta)
    print(f"{args.input}: {len(out)} tensors -> {args.output} ({args.model}, {args.channels} channel(s), {h}x{w})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("to-pytorch", help="ftunet checkpoint -> PyTorch state dict")
    p.add_argument("input", metavar="IN.safetensors")
    p.add_argument("output", metavar="OUT.pt")
    p.set_defaults(fn=to_pytorch)
    f = sub.add_parser("to-ftunet", help="PyTorch state dict -> ftunet checkpoint")
    f.add_argument("input", metavar="STATE_DICT.pt")
    f.add_argument("output", metavar="OUT.safetensors")
    f.add_argument("--model", required=True, help=" | ".join(ref.MODELS))
    f.add_argument("--channels", type=int, required=True, help="1 or 3")
    f.add_argument("--size", required=True, help="the input size HxW the checkpoint records (multiples of 16)")
    f.add_argument("--loss", choices=sorted(LOSSES), default="ftl", help="the loss the metadata records (default ftl)")
    f.set_defaults(fn=to_ftunet)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
