#!/usr/bin/env python3
"""Where a training step's time goes in ftunet and in PyTorch, layer group by layer group.

Run it with the Python whose PyTorch is to be profiled (or as `ftunet bench --against-pytorch
PYTHON --profile`):
  /usr/bin/python3 scripts/profile_vs_pytorch.py [--ftunet build/ftunet] [--size 128x128] [--channels 1]
      [--batch 16] [--threads 2] [--steps 3] [--precision fp32|bf16|both] [--layers] [--json FILE]

ftunet's side is `ftunet bench --profile` (each primitive timed, per layer, forward and backward).
PyTorch's is torch.profiler over the same number of training steps of the independent
implementation (tools/reference_pytorch.py) in PyTorch's fastest mode of that precision
(--fp32-mode, --bf16-mode; channels_last by default, as bench_vs_pytorch.py finds): every module's
forward runs inside a record_function range named after it, and each backward node is credited to
the module whose forward created it (the autograd sequence number links the two). Both are then
summed into the same groups: 3x3 convolutions by output size, batch normalisation, attention
gates (gating signals included), transposed convolutions, heads, the rest (ReLUs, poolings,
concatenations, sigmoids), loss and optimizer. The two sides run one after the other, so on a
shared machine compare the shares of the step as well as the milliseconds.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import bench_vs_pytorch as B  # noqa: E402

CONV3 = re.compile(r"^((enc|dec)\d+|center)\.conv\d+$|^pyramid\d+$")
BN = re.compile(r"^((enc|dec)\d+|center)\.bn\d+$")
ATTN = re.compile(r"^(attn|gating)")


def group(label, shape):
    """The group of a layer, from its spec name (ftunet's label, PyTorch's module path) and
    output shape (C, H, W)."""
    if label in ("loss", "optimizer", "gradient accumulation"):
        return label
    if CONV3.match(label):
        return f"3x3 convolutions, {shape[1]}x{shape[2]} out"
    if BN.match(label):
        return "batch normalisation"
    if ATTN.match(label):
        return "attention gates (gating, theta, phi, up, psi, out, bn)"
    if re.match(r"^up\d+$", label):
        return "transposed convolutions up1-up4"
    if re.match(r"^head\d+$", label):
        return "heads (1x1 convolutions)"
    return "ReLU, pooling, concat, sigmoid, other"


def ftunet_profile(exe, a, h, w, precision):
    """{label: [forward s, backward s, shape]} and the step's parts, per mean step."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "p.json")
        cmd = [exe, "bench", "--profile", "--model", a.model, "--size", f"{h}x{w}", "--channels", str(a.channels),
               "--batch", str(a.batch), "--threads", str(a.threads), "--steps", str(a.steps), "--precision",
               precision, "--peak-size", "256", "--json", path]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            sys.exit(f"profile_vs_pytorch: {' '.join(cmd)}: {r.stderr.strip()}")
        res = json.load(open(path))["results"][0]
    p = res["profile"]
    layers = {}
    for e in p["layers"]:
        # unnamed ops ("relu after enc1.bn1") belong to the attention gate they sit in, else to "other"
        label = e["layer"]
        if "after" in e and (ATTN.match(e["after"]) or e["kind"] in ("mul", "add", "up2x")):
            label = e["after"] if ATTN.match(e["after"]) else f"attn ({e['kind']})"
        elif "after" in e:
            label = f"{e['kind']} after {e['after']}"
        key = label
        while key in layers and layers[key][2] != e["output"]:
            key += "'"
        f = layers.setdefault(key, [0.0, 0.0, e["output"]])
        f[0] += e["seconds_forward"]
        f[1] += e["seconds_backward"]
    layers["loss"] = [p["loss_s"], 0.0, None]
    layers["optimizer"] = [p["sgd_s"], 0.0, None]
    step = p["forward_s"] + p["loss_s"] + p["backward_s"] + p["sgd_s"]
    return layers, step, res["train_step_s"]


def torch_profile(mode_name, a, h, w):
    m = B.TorchMode(mode_name, a.model, a.channels, h, w, a.batch)
    for _ in range(2):
        m.step(True)
    plain = min(m.step(True) for _ in range(2))
    shapes, stack = {}, []
    names = {mod: n or "net" for n, mod in m.net.named_modules()}

    def pre(mod, inp):
        rf = torch.autograd.profiler.record_function("L:" + names[mod])
        rf.__enter__()
        stack.append(rf)

    def post(mod, inp, out):
        o = out[0] if isinstance(out, (list, tuple)) else out
        shapes.setdefault(names[mod], list(o.shape[1:]))
        stack.pop().__exit__(None, None, None)

    hooks = [mod.register_forward_pre_hook(pre) for mod in names] + [mod.register_forward_hook(post) for mod in names]
    m.set_phase(True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        t = time.perf_counter()
        for _ in range(a.steps):
            with torch.autograd.profiler.record_function("L:optimizer"):
                m.opt.zero_grad(set_to_none=True)
            with m.autocast():
                out = m.net(m.x)
                with torch.autograd.profiler.record_function("L:loss"):
                    loss = m.loss(out)
            loss.backward()
            with torch.autograd.profiler.record_function("L:optimizer"):
                m.opt.step()
        profiled = (time.perf_counter() - t) / a.steps
    for hk in hooks:
        hk.remove()

    events = sorted(prof.events(), key=lambda e: e.time_range.start)

    def label_of(e):
        p = e.cpu_parent
        while p is not None and not p.name.startswith("L:"):
            p = p.cpu_parent
        return p.name[2:] if p is not None else None

    layers = {}
    seq = {}
    total_bwd = 0.0
    for e in events:
        if e.name.startswith("L:"):  # a range's own time: its total less its nested ranges'
            inner = sum(c.cpu_time_total for c in e.cpu_children if c.name.startswith("L:"))
            f = layers.setdefault(e.name[2:], [0.0, 0.0, shapes.get(e.name[2:])])
            f[0] += (e.cpu_time_total - inner) * 1e-6 / a.steps
            continue
        lab = label_of(e)
        if lab is not None and e.sequence_nr >= 0 and "Backward" not in e.name:
            seq[e.sequence_nr] = lab
    for e in events:  # backward nodes, outermost only (evaluate_function wraps the node's own event)
        if "Backward" not in e.name and "AccumulateGrad" not in e.name:
            continue
        p, nested = e.cpu_parent, False
        while p is not None:
            if "Backward" in p.name or "AccumulateGrad" in p.name:
                nested = True
                break
            p = p.cpu_parent
        if nested:
            continue
        s = e.cpu_time_total * 1e-6 / a.steps
        total_bwd += s
        lab = "gradient accumulation" if "AccumulateGrad" in e.name else seq.get(e.sequence_nr, "unattributed")
        f = layers.setdefault(lab, [0.0, 0.0, shapes.get(lab)])
        f[1] += s
    # the loss's and the optimizer's forward ranges hold all their time; the loss's backward nodes
    # were credited to "loss" through their sequence numbers
    return layers, profiled, plain, total_bwd


def grouped(layers):
    g = {}
    for label, (fw, bw, shape) in layers.items():
        k = group(label, shape or [0, 0, 0])
        t = g.setdefault(k, [0.0, 0.0])
        t[0] += fw
        t[1] += bw
    return g


ORDER = ["3x3 convolutions", "batch normalisation", "attention gates", "transposed convolutions", "heads",
         "ReLU", "gradient accumulation", "loss", "optimizer"]


def order_key(k):
    for i, p in enumerate(ORDER):
        if k.startswith(p):
            size = re.search(r"(\d+)x(\d+) out", k)
            return (i, -(int(size.group(1)) * int(size.group(2))) if size else 0)
    return (len(ORDER), 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ftunet", default=os.path.join(HERE, "..", "build", "ftunet"))
    ap.add_argument("--model", default="attn-unet-mi-ds")
    ap.add_argument("--size", default="128x128", help="HxW")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3, help="profiled training steps on each side")
    ap.add_argument("--precision", default="both", choices=["fp32", "bf16", "both"])
    ap.add_argument("--fp32-mode", default="fp32-channels_last", choices=[n for n, v in B.MODES.items() if not v[0]])
    ap.add_argument("--bf16-mode", default="bf16-autocast-channels_last", choices=[n for n, v in B.MODES.items() if v[0]])
    ap.add_argument("--layers", action="store_true", help="also print every named layer side by side")
    ap.add_argument("--allow-reference-blas", action="store_true")
    ap.add_argument("--json", help="also write the per-layer and per-group figures here")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    torch.set_num_threads(a.threads)
    if any(B.MODES[n][2] for n in (a.fp32_mode, a.bf16_mode)):
        sys.exit("profile_vs_pytorch: torch.compile modes cannot be profiled per module (the hooks break the graph)")
    blas, evidence = B.blas_report()
    print(f"PyTorch {torch.__version__} ({sys.executable}); BLAS: {blas}")
    for ln in evidence:
        print(f"  {ln}")
    if blas == "reference BLAS" and not a.allow_reference_blas:
        sys.exit("profile_vs_pytorch: PyTorch is on the reference BLAS (apt-get install libopenblas0-pthread); "
                 "--allow-reference-blas profiles it anyway")
    out = {"torch": torch.__version__, "blas": blas, "model": a.model, "input": [a.channels, h, w],
           "batch": a.batch, "threads": a.threads, "steps": a.steps}
    for prec in (["fp32", "bf16"] if a.precision == "both" else [a.precision]):
        mode = a.fp32_mode if prec == "fp32" else a.bf16_mode
        fl, fstep, fplain = ftunet_profile(a.ftunet, a, h, w, prec)
        tl, tstep, tplain, tbwd = torch_profile(mode, a, h, w)
        fg, tg = grouped(fl), grouped(tl)
        print(f"\n{a.model} {a.channels}x{h}x{w}, batch {a.batch}, {a.threads} threads, training step, mean of "
              f"{a.steps} profiled steps: ftunet {prec} against torch {mode}")
        print(f"  step: ftunet {fstep * 1e3:.0f} ms profiled ({fplain * 1e3:.0f} ms in its timed steps), torch "
              f"{tstep * 1e3:.0f} ms profiled ({tplain * 1e3:.0f} ms unprofiled, best of 2)")
        print(f"  {'group':58s} {'ftunet fwd':>10s} {'bwd':>7s} {'%step':>6s} {'torch fwd':>10s} {'bwd':>7s} "
              f"{'%step':>6s} {'torch/ftunet':>12s}")
        fsum, tsum = sum(map(sum, fg.values())), sum(map(sum, tg.values()))
        for k in sorted(set(fg) | set(tg), key=order_key):
            f, t = fg.get(k, [0.0, 0.0]), tg.get(k, [0.0, 0.0])
            ratio = f"x{sum(t) / sum(f):.2f}" if sum(f) > 0 else "-"
            print(f"  {k:58s} {f[0] * 1e3:10.1f} {f[1] * 1e3:7.1f} {100 * sum(f) / fsum:5.1f}% {t[0] * 1e3:10.1f} "
                  f"{t[1] * 1e3:7.1f} {100 * sum(t) / tsum:5.1f}% {ratio:>12s}")
        print(f"  {'sum of the groups':58s} {fsum * 1e3:18.1f} {'':6s} {tsum * 1e3:18.1f} {'':6s} "
              f"{'x%.2f' % (tsum / fsum):>12s}")
        if a.layers:
            print(f"\n  {'layer':28s} {'output':>14s} {'ftunet fwd':>10s} {'bwd':>7s} {'torch fwd':>10s} {'bwd':>7s} {'ratio':>7s}")
            for label, (fw, bw, shape) in fl.items():
                if label in tl and label not in ("loss", "optimizer"):
                    t = tl[label]
                    print(f"  {label:28s} {'x'.join(map(str, shape or [])):>14s} {fw * 1e3:10.2f} {bw * 1e3:7.2f} "
                          f"{t[0] * 1e3:10.2f} {t[1] * 1e3:7.2f} {(t[0] + t[1]) / max(fw + bw, 1e-9):7.2f}")
        out[prec] = {"torch_mode": mode, "ftunet_step_s": fstep, "torch_step_s": tstep, "torch_unprofiled_step_s": tplain,
                     "ftunet_groups": fg, "torch_groups": tg, "ftunet_layers": fl, "torch_layers": tl}
    if a.json:
        with open(a.json + ".tmp", "w") as fp:
            json.dump(out, fp, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
