#!/usr/bin/python3
"""Independent PyTorch reference for ftunet, written from docs/ARCHITECTURE.md alone.

The four networks of docs/ARCHITECTURE.md (unet, attn-unet, attn-unet-ds,
attn-unet-mi-ds) as torch.nn.Modules whose state_dict() names and shapes are the spec's
checkpoint names, a hand-written safetensors reader/writer (numpy only), and the spec's losses.

Subcommands
  selftest                       parameter counts vs the spec, output shapes, safetensors round trip
  forward CKPT INPUT.npy OUTDIR  eval-mode forward; compare with OUTDIR/out{k}.npy written by
                                 `ftunet forward CKPT INPUT.npy -o OUTDIR` (max |diff| <= --tol)
  grads CKPT INPUT.npy MASK.npy OUT.safetensors --loss dl|tl|ftl
                                 train-mode forward + loss + backward; writes every parameter's
                                 gradient under its parameter name, the BN running statistics after
                                 that training forward under their own names, and the loss value in
                                 __metadata__["loss"]
  perturb CKPT OUT.safetensors [--seed S]
                                 copy a checkpoint with random biases, BN affine parameters and
                                 running statistics (makes forward comparisons exercise them)
  diff A.safetensors B.safetensors
                                 per-tensor max |a-b| and max |a-b| / max |a| of two files

Run with Debian's /usr/bin/python3 (torch 1.13, numpy 1.24).  Everything is float32.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
torch.set_default_dtype(torch.float32)

MODELS = ("unet", "attn-unet", "attn-unet-ds", "attn-unet-mi-ds")

# Trainable parameter counts stated by the spec, keyed by (model, channels).
SPEC_PARAMS = {
    ("unet", 1): 7_724_513,
    ("attn-unet", 1): 846_500,
    ("attn-unet-ds", 1): 5_295_207,
    ("attn-unet-mi-ds", 1): 5_631_463,
    ("attn-unet-mi-ds", 3): 5_640_103,
}

ALPHA, BETA, GAMMA, SMOOTH = 0.7, 0.3, 4.0 / 3.0, 1.0


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------

class BN(nn.BatchNorm2d):
    """BatchNorm2d with the spec's eps 1e-3 and r = 0.99 r + 0.01 batch (torch momentum 0.01).

    torch's BN normalises with the biased batch variance in training and updates running_var with
    the unbiased one, as the spec says.  The `num_batches_tracked` buffer is dropped so that
    state_dict() holds exactly the spec's names (with a fixed momentum torch never reads it).
    """

    def __init__(self, channels):
        super().__init__(channels, eps=1e-3, momentum=0.01)
        self.num_batches_tracked = None  # stays registered as a None buffer: not in state_dict

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args):
        # version >= 2 keeps torch from injecting a num_batches_tracked entry into plain dicts
        super()._load_from_state_dict(state_dict, prefix, dict(local_metadata, version=2), *args)


def upT(ci, co):
    """Transposed conv 3×3, stride 2, padding 1, output padding 1: H → 2H exactly."""
    return nn.ConvTranspose2d(ci, co, 3, stride=2, padding=1, output_padding=1)


class ConvBlock(nn.Module):
    """conv1 3×3 → [bn1] → ReLU → [conv2 3×3 → [bn2] → ReLU]."""

    def __init__(self, ci, co, bn=True, two_convs=True):
        super().__init__()
        self.conv1 = nn.Conv2d(ci, co, 3, padding=1)
        if bn:
            self.bn1 = BN(co)
        if two_convs:
            self.conv2 = nn.Conv2d(co, co, 3, padding=1)
            if bn:
                self.bn2 = BN(co)
        self.has_bn, self.two_convs = bn, two_convs

    def forward(self, x):
        x = self.conv1(x)
        if self.has_bn:
            x = self.bn1(x)
        x = F.relu(x)
        if self.two_convs:
            x = self.conv2(x)
            if self.has_bn:
                x = self.bn2(x)
            x = F.relu(x)
        return x


class GatingSignal(nn.Module):
    """gatingK(v): conv 1×1 C→C → BN → ReLU."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1)
        self.bn = BN(c)

    def forward(self, v):
        return F.relu(self.bn(self.conv(v)))


class AttentionGate(nn.Module):
    """attnK(x, g, inter): additive attention gate exactly as the spec's table.

    s is the upsampling stride of `up`: (Hx/2)/Hg, fixed at construction (1 or 2).
    """

    def __init__(self, cx, cg, inter, s):
        super().__init__()
        assert s in (1, 2)
        self.s = s
        self.theta = nn.Conv2d(cx, inter, 2, stride=2)
        self.phi = nn.Conv2d(cg, inter, 1)
        self.up = nn.ConvTranspose2d(inter, inter, 3, stride=s, padding=1, output_padding=s - 1)
        self.psi = nn.Conv2d(inter, 1, 1)
        self.out = nn.Conv2d(cx, cx, 1)
        self.bn = BN(cx)

    def forward(self, x, g):
        t = self.theta(x)                                   # inter × Hx/2
        assert t.shape[2] == self.s * g.shape[2] and t.shape[3] == self.s * g.shape[3]
        u = self.up(self.phi(g))                            # inter × Hx/2
        a = torch.sigmoid(self.psi(F.relu(t + u)))          # 1 × Hx/2
        a = F.interpolate(a, scale_factor=2, mode="nearest")  # 1 × Hx, broadcast over Cx
        return self.bn(self.out(a * x))                     # no ReLU


# ----------------------------------------------------------------------------------------------
# Networks.  forward(x) returns a list of sigmoid maps (coarse to fine for the -ds models).
# ----------------------------------------------------------------------------------------------

class UNet(nn.Module):
    """`unet`: the baseline (BN in the encoder only, 2×2 stride-2 transposed-conv ups)."""

    def __init__(self, c):
        super().__init__()
        self.enc1 = ConvBlock(c, 32)
        self.enc2 = ConvBlock(32, 64)
        self.enc3 = ConvBlock(64, 128)
        self.enc4 = ConvBlock(128, 256)
        self.center = ConvBlock(256, 512, bn=False)
        self.up1 = nn.ConvTranspose2d(512, 256, 2, stride=2)
        self.dec1 = ConvBlock(512, 256, bn=False)
        self.up2 = nn.ConvTranspose2d(256, 128, 2, stride=2)
        self.dec2 = ConvBlock(256, 128, bn=False)
        self.up3 = nn.ConvTranspose2d(128, 64, 2, stride=2)
        self.dec3 = ConvBlock(128, 64, bn=False, two_convs=False)
        self.up4 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.dec4 = ConvBlock(64, 32, bn=False)
        self.head1 = nn.Conv2d(32, 1, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        center = self.center(F.max_pool2d(e4, 2))
        d1 = self.dec1(torch.cat([self.up1(center), e4], 1))
        d2 = self.dec2(torch.cat([self.up2(d1), e3], 1))
        d3 = self.dec3(torch.cat([self.up3(d2), e2], 1))
        d4 = self.dec4(torch.cat([self.up4(d3), e1], 1))
        return [torch.sigmoid(self.head1(d4))]


class AttnUNet(nn.Module):
    """`attn-unet`: plain attention U-Net, no decoder blocks, one output."""

    def __init__(self, c):
        super().__init__()
        self.enc1 = ConvBlock(c, 32)
        self.enc2 = ConvBlock(32, 32)
        self.enc3 = ConvBlock(32, 64)
        self.enc4 = ConvBlock(64, 64)
        self.center = ConvBlock(64, 128)
        self.gating1 = GatingSignal(128)
        self.attn1 = AttentionGate(64, 128, 128, s=1)
        self.up1 = upT(128, 32)
        self.gating2 = GatingSignal(96)
        self.attn2 = AttentionGate(64, 96, 64, s=1)
        self.up2 = upT(96, 64)
        self.gating3 = GatingSignal(96)
        self.attn3 = AttentionGate(32, 96, 32, s=2)
        self.up3 = upT(128, 32)
        self.up4 = upT(64, 32)
        self.head1 = nn.Conv2d(64, 1, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        e4 = self.enc4(F.max_pool2d(e3, 2))
        center = self.center(F.max_pool2d(e4, 2))
        cat1 = torch.cat([F.relu(self.up1(center)), self.attn1(e4, self.gating1(center))], 1)
        cat2 = torch.cat([F.relu(self.up2(cat1)), self.attn2(e3, self.gating2(cat1))], 1)
        cat3 = torch.cat([F.relu(self.up3(cat2)), self.attn3(e2, self.gating3(cat1))], 1)
        cat4 = torch.cat([F.relu(self.up4(cat3)), e1], 1)
        return [torch.sigmoid(self.head1(cat4))]


class AttnUNetDS(nn.Module):
    """`attn-unet-ds`, and with pyramid=True `attn-unet-mi-ds` (the paper's model)."""

    def __init__(self, c, pyramid=False):
        super().__init__()
        self.pyramid = pyramid
        self.enc1 = ConvBlock(c, 32)
        if pyramid:
            self.pyramid2 = nn.Conv2d(c, 64, 3, padding=1)
            self.pyramid3 = nn.Conv2d(c, 128, 3, padding=1)
            self.pyramid4 = nn.Conv2d(c, 256, 3, padding=1)
            self.enc2 = ConvBlock(64 + 32, 64)
            self.enc3 = ConvBlock(128 + 64, 128)
            self.enc4 = ConvBlock(256 + 128, 64)
        else:
            self.enc2 = ConvBlock(32, 64)
            self.enc3 = ConvBlock(64, 128)
            self.enc4 = ConvBlock(128, 64)
        self.center = ConvBlock(64, 512)
        self.gating1 = GatingSignal(512)
        self.attn1 = AttentionGate(64, 512, 128, s=1)
        self.up1 = upT(512, 32)
        self.gating2 = GatingSignal(96)
        self.attn2 = AttentionGate(128, 96, 64, s=1)
        self.up2 = upT(96, 64)
        self.gating3 = GatingSignal(96)
        self.attn3 = AttentionGate(64, 96, 32, s=2)
        self.up3 = upT(192, 32)
        self.up4 = upT(96, 32)
        self.dec1 = ConvBlock(96, 256)
        self.dec2 = ConvBlock(192, 128)
        self.dec3 = ConvBlock(96, 64)
        self.dec4 = ConvBlock(64, 32)
        self.head1 = nn.Conv2d(256, 1, 1)
        self.head2 = nn.Conv2d(128, 1, 1)
        self.head3 = nn.Conv2d(64, 1, 1)
        self.head4 = nn.Conv2d(32, 1, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        if self.pyramid:
            x2 = F.avg_pool2d(x, 2)
            x3 = F.avg_pool2d(x2, 2)
            x4 = F.avg_pool2d(x3, 2)
            e2 = self.enc2(torch.cat([F.relu(self.pyramid2(x2)), F.max_pool2d(e1, 2)], 1))
            e3 = self.enc3(torch.cat([F.relu(self.pyramid3(x3)), F.max_pool2d(e2, 2)], 1))
            e4 = self.enc4(torch.cat([F.relu(self.pyramid4(x4)), F.max_pool2d(e3, 2)], 1))
        else:
            e2 = self.enc2(F.max_pool2d(e1, 2))
            e3 = self.enc3(F.max_pool2d(e2, 2))
            e4 = self.enc4(F.max_pool2d(e3, 2))
        center = self.center(F.max_pool2d(e4, 2))
        cat1 = torch.cat([F.relu(self.up1(center)), self.attn1(e4, self.gating1(center))], 1)
        cat2 = torch.cat([F.relu(self.up2(cat1)), self.attn2(e3, self.gating2(cat1))], 1)
        # gating3 reads cat1 (not cat2), as the reference implementation does
        cat3 = torch.cat([F.relu(self.up3(cat2)), self.attn3(e2, self.gating3(cat1))], 1)
        cat4 = torch.cat([F.relu(self.up4(cat3)), e1], 1)
        return [torch.sigmoid(self.head1(self.dec1(cat1))),
                torch.sigmoid(self.head2(self.dec2(cat2))),
                torch.sigmoid(self.head3(self.dec3(cat3))),
                torch.sigmoid(self.head4(self.dec4(cat4)))]


def build(model, channels):
    if model == "unet":
        net = UNet(channels)
    elif model == "attn-unet":
        net = AttnUNet(channels)
    elif model == "attn-unet-ds":
        net = AttnUNetDS(channels, pyramid=False)
    elif model == "attn-unet-mi-ds":
        net = AttnUNetDS(channels, pyramid=True)
    else:
        raise SystemExit(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    init_like_reference(net)
    return net.float()


def n_outputs(model):
    return 4 if model.endswith("-ds") else 1


def init_like_reference(net, seed=0):
    """Glorot-normal (truncated at 2 std, std = sqrt(2/(fan_in+fan_out))/0.8796) conv weights,
    zero biases; BN weight 1, bias 0, running mean 0, var 1 (torch's BN defaults)."""
    torch.manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight
            rf = w.shape[2] * w.shape[3]
            fan_sum = (w.shape[0] + w.shape[1]) * rf  # symmetric in in/out, layout irrelevant
            std = (2.0 / fan_sum) ** 0.5 / 0.87962566103423978
            with torch.no_grad():
                nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std)
                m.bias.zero_()


def count_params(net):
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


# ----------------------------------------------------------------------------------------------
# safetensors, by hand
# ----------------------------------------------------------------------------------------------

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8, "I8": np.int8}


def read_safetensors(path):
    """Return (dict name -> np.ndarray, metadata dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise SystemExit(f"{path}: {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        arr = np.frombuffer(data[b:e], dtype=np.dtype(dt).newbyteorder("<"))
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise SystemExit(f"{path}: {name}: {arr.size} elements for shape {shape}")
        tensors[name] = arr.reshape(shape).astype(dt)  # own, native-endian copy
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    """Write float32 tensors (dict name -> array) contiguously, in sorted name order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks, off = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        chunks.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # pad the header to 8-byte alignment, as safetensors does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def state_to_numpy(net):
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}


def load_checkpoint(path):
    """Build the network named in the checkpoint's metadata and load it with strict=True."""
    tensors, meta = read_safetensors(path)
    model = meta.get("model")
    if model not in MODELS:
        raise SystemExit(f"{path}: __metadata__ model={model!r} is not one of {MODELS}")
    channels = int(meta.get("channels", 1))
    net = build(model, channels)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in tensors.items()}
    want = net.state_dict()
    for k, v in sd.items():
        if k in want and tuple(want[k].shape) != tuple(v.shape):
            raise SystemExit(f"{path}: {k}: shape {tuple(v.shape)}, spec {tuple(want[k].shape)}")
    net.load_state_dict(sd, strict=True)
    return net, meta


# ----------------------------------------------------------------------------------------------
# Losses (sums over the whole batch, smooth 1)
# ----------------------------------------------------------------------------------------------

def dice_loss(p, g):
    return 1 - (2 * (p * g).sum() + SMOOTH) / (p.sum() + g.sum() + SMOOTH)


def tversky_index(p, g):
    tp = (p * g).sum()
    fn = ((1 - p) * g).sum()
    fp = (p * (1 - g)).sum()
    return (tp + SMOOTH) / (tp + ALPHA * fn + BETA * fp + SMOOTH)


def tversky_loss(p, g):
    return 1 - tversky_index(p, g)


def focal_tversky_loss(p, g):
    x = 1 - tversky_index(p, g)
    # x^(1/γ) has an unbounded derivative at 0; keep it finite (zero) there.
    safe = torch.where(x > 0, x, torch.ones_like(x))
    return torch.where(x > 0, safe.pow(1 / GAMMA), torch.zeros_like(x))


LOSSES = {"dl": dice_loss, "tl": tversky_loss, "ftl": focal_tversky_loss}


def total_loss(outputs, mask, kind):
    """Single output: that loss on the full mask.  Deep supervision: out1..out3 against the mask
    strided by 8, 4, 2 and out4 against the full mask, weights 1; with FTL, out4 uses TL."""
    if len(outputs) == 1:
        return LOSSES[kind](outputs[0], mask)
    total = 0
    for k, out in enumerate(outputs):
        stride = 2 ** (len(outputs) - 1 - k)  # 8, 4, 2, 1
        g = mask[:, :, ::stride, ::stride]
        assert g.shape == out.shape, (g.shape, out.shape)
        last = k == len(outputs) - 1
        fn = tversky_loss if (kind == "ftl" and last) else LOSSES[kind]
        total = total + fn(out, g)
    return total


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------

def load_array(path, what):
    a = np.load(path)
    if a.ndim == 3:  # N×H×W: one channel
        a = a[:, None]
    if a.ndim != 4:
        raise SystemExit(f"{path}: {what} must be N×C×H×W, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def cmd_forward(args):
    net, meta = load_checkpoint(args.ckpt)
    model = meta["model"]
    net.eval()
    x = torch.from_numpy(load_array(args.input, "input"))
    with torch.no_grad():
        outs = net(x)
    worst, missing = 0.0, []
    print(f"model {model}, channels {meta.get('channels')}, input {tuple(x.shape)}")
    for k, o in enumerate(outs, 1):
        ref = o.numpy()
        path = os.path.join(args.outdir, f"out{k}.npy")
        if not os.path.exists(path):
            missing.append(path)
            print(f"out{k}: MISSING {path}")
            continue
        got = np.load(path).astype(np.float32)
        if got.shape != ref.shape:
            print(f"out{k}: shape {got.shape} != reference {ref.shape}")
            worst = float("inf")
            continue
        d = float(np.max(np.abs(got - ref))) if ref.size else 0.0
        if not np.isfinite(got).all():
            d = float("inf")
        worst = max(worst, d)
        print(f"out{k}: shape {ref.shape} max|diff| {d:.3e}  (reference range "
              f"[{ref.min():.4f}, {ref.max():.4f}])")
    ok = not missing and worst <= args.tol
    print(f"{'PASS' if ok else 'FAIL'}: max |diff| {worst:.3e} (tolerance {args.tol:g})")
    return 0 if ok else 1


def cmd_grads(args):
    net, meta = load_checkpoint(args.ckpt)
    net.train()
    x = torch.from_numpy(load_array(args.input, "input"))
    m = torch.from_numpy(load_array(args.mask, "mask"))
    if m.shape[0] != x.shape[0] or m.shape[2:] != x.shape[2:] or m.shape[1] != 1:
        raise SystemExit(f"mask shape {tuple(m.shape)} does not fit input {tuple(x.shape)}")
    net.zero_grad(set_to_none=False)
    outs = net(x)
    loss = total_loss(outs, m, args.loss)
    loss.backward()
    out = {}
    for name, p in net.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        out[name] = g.detach().numpy()
    for name, b in net.named_buffers():
        if b is not None:  # running_mean / running_var after this training forward
            out[name] = b.detach().numpy()
    md = {"loss": repr(float(loss.item())), "loss_type": args.loss, "model": meta["model"],
          "channels": meta.get("channels", "1"), "batch": str(x.shape[0]),
          "height": str(x.shape[2]), "width": str(x.shape[3])}
    write_safetensors(args.out, out, md)
    print(f"model {meta['model']}, loss {args.loss} = {loss.item():.9g}; wrote "
          f"{len(out)} tensors to {args.out}")
    return 0


def cmd_diff(args):
    a, _ = read_safetensors(args.a)
    b, _ = read_safetensors(args.b)
    bad = 0
    scale = max((float(np.max(np.abs(v))) for v in a.values() if v.size), default=0.0)
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            print(f"{k}: only in {'A' if k in a else 'B'}")
            bad += 1
            continue
        if a[k].shape != b[k].shape:
            print(f"{k}: shape {a[k].shape} vs {b[k].shape}")
            bad += 1
            continue
        d = float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) if a[k].size else 0.0
        s = float(np.max(np.abs(a[k]))) if a[k].size else 0.0
        va, vb = a[k].ravel().astype(np.float64), b[k].ravel().astype(np.float64)
        na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
        cos = float(np.dot(va, vb)) / (na * nb) if na * nb > 0 else 1.0
        # a tensor whose true gradient is 0 (a conv bias before BN) holds only rounding noise:
        # differences below --atol × (the largest value of any tensor) are measured against that
        rel = d / max(s, args.atol * scale) if max(s, args.atol * scale) > 0 else d
        flag = "" if rel <= args.rtol else "  <-- exceeds"
        bad += bool(flag)
        print(f"{k:40s} max|a-b| {d:.3e}  max|a| {s:.3e}  rel {rel:.3e}  cos {cos:.5f}{flag}")
    print(f"{'PASS' if not bad else 'FAIL'}: {bad} tensors differ beyond rtol {args.rtol:g}")
    return 0 if not bad else 1


def cmd_perturb(args):
    """Copy a checkpoint with random biases, BN affine parameters and running statistics, so that
    a forward comparison exercises every tensor (a fresh `ftunet init` has zeros and ones there)."""
    tensors, meta = read_safetensors(args.ckpt)
    rng = np.random.default_rng(args.seed)
    for k, v in tensors.items():
        if k.endswith("running_var"):
            tensors[k] = rng.uniform(0.5, 2.0, v.shape)
        elif k.endswith("running_mean") or k.endswith("bias"):
            tensors[k] = rng.normal(0.0, 0.1, v.shape)
        elif ".bn" in k and k.endswith("weight"):
            tensors[k] = rng.uniform(0.5, 1.5, v.shape)
    write_safetensors(args.out, tensors, meta)
    print(f"wrote {args.out} ({len(tensors)} tensors, metadata kept)")
    return 0


def cmd_selftest(args):
    import tempfile
    failures = 0
    for model in MODELS:
        for c in (1, 3):
            net = build(model, c)
            n = count_params(net)
            want = SPEC_PARAMS.get((model, c))
            status = "" if want is None else ("ok" if n == want else f"MISMATCH (spec {want:,})")
            failures += bool(want is not None and n != want)
            x = torch.rand(2, c, 64, 64)
            net.eval()
            with torch.no_grad():
                outs = net(x)
            sizes = [64 // 8, 64 // 4, 64 // 2, 64] if n_outputs(model) == 4 else [64]
            shapes_ok = [tuple(o.shape) for o in outs] == [(2, 1, s, s) for s in sizes]
            finite = all(torch.isfinite(o).all() and (o >= 0).all() and (o <= 1).all()
                         for o in outs)
            failures += (not shapes_ok) + (not finite)
            print(f"{model:16s} C={c}: {n:>10,} parameters {status:24s} outputs "
                  f"{[tuple(o.shape) for o in outs]} {'ok' if shapes_ok and finite else 'BAD'}")
            # BN names/shapes: all spec-style, no num_batches_tracked
            assert not any("num_batches_tracked" in k for k in net.state_dict())

    # safetensors round trip of our own state_dict (with non-trivial BN statistics)
    with tempfile.TemporaryDirectory() as d:
        for model in MODELS:
            net = build(model, 1)
            net.train()
            with torch.no_grad():
                net(torch.rand(2, 1, 32, 32))  # moves running stats away from 0 / 1
            sd = state_to_numpy(net)
            path = os.path.join(d, "ck.safetensors")
            write_safetensors(path, sd, {"model": model, "channels": 1, "height": 32,
                                          "width": 32})
            back, meta = read_safetensors(path)
            same = set(back) == set(sd) and all(np.array_equal(back[k], sd[k]) for k in sd)
            net2, _ = load_checkpoint(path)
            net.eval(), net2.eval()
            x = torch.rand(1, 1, 32, 32)
            with torch.no_grad():
                eq = all(torch.equal(a, b) for a, b in zip(net(x), net2(x)))
            hdr = struct.unpack("<Q", open(path, "rb").read(8))[0]
            ok = same and eq and meta["model"] == model and hdr % 8 == 0
            failures += not ok
            print(f"round trip {model:16s}: {len(sd)} tensors, "
                  f"{'ok' if ok else 'FAIL'}")

    # losses: finite gradient of FTL at a perfect prediction; DS loss runs and is finite
    p = torch.ones(1, 1, 8, 8, requires_grad=True)
    focal_tversky_loss(p, torch.ones(1, 1, 8, 8)).backward()
    failures += not torch.isfinite(p.grad).all()
    net = build("attn-unet-mi-ds", 1)
    net.train()
    x, m = torch.rand(2, 1, 32, 32), (torch.rand(2, 1, 32, 32) > 0.7).float()
    for kind in ("dl", "tl", "ftl"):
        net.zero_grad()
        loss = total_loss(net(x), m, kind)
        loss.backward()
        gfin = all(torch.isfinite(q.grad).all() for q in net.parameters())
        failures += not (torch.isfinite(loss) and gfin)
        print(f"loss {kind}: {loss.item():.6f} gradients finite: {gfin}")
    print("selftest", "PASS" if not failures else f"FAIL ({failures})")
    return 0 if not failures else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")
    f = sub.add_parser("forward")
    f.add_argument("ckpt")
    f.add_argument("input")
    f.add_argument("outdir")
    f.add_argument("--tol", type=float, default=1e-4)
    g = sub.add_parser("grads")
    g.add_argument("ckpt")
    g.add_argument("input")
    g.add_argument("mask")
    g.add_argument("out")
    g.add_argument("--loss", choices=sorted(LOSSES), required=True)
    d = sub.add_parser("diff")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--rtol", type=float, default=1e-4)
    d.add_argument("--atol", type=float, default=0.0)
    p = sub.add_parser("perturb")
    p.add_argument("ckpt")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    return {"selftest": cmd_selftest, "forward": cmd_forward, "grads": cmd_grads,
            "diff": cmd_diff, "perturb": cmd_perturb}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
