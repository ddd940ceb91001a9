#!/usr/bin/env python3
"""ftunet against PyTorch at its best, side by side in one run.

Run it with the Python whose PyTorch is to be measured:
  /usr/bin/python3 scripts/bench_vs_pytorch.py [--ftunet build/ftunet] [--size 128x128] [--channels 1]
                                              [--batch 16] [--threads 2] [--steps 5] [--pairs 4]
                                              [--compile] [--json FILE]

Each pair runs `ftunet bench --precision both` (fp32 and bf16 sessions, training steps then
inference forwards) and then PyTorch's CPU modes on the independent implementation of the same
network (tools/reference_pytorch.py): fp32 channels-first, fp32 channels_last, bf16 autocast
(both layouts) and, with --compile, torch.compile of the fp32 and bf16 channels_last modes. The
order alternates between pairs (ftunet first, then PyTorch first) so that both see the same
stretches of a shared machine. A ratio is taken within each pair, ftunet's against the best
PyTorch mode of the same precision in that pair; the medians and ranges over the pairs are
printed. PyTorch on Debian's reference BLAS is refused (it is 2.5x slower than with OpenBLAS and
would flatter ftunet) unless --allow-reference-blas is given.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

import torch  # noqa: E402
import reference_pytorch as R  # noqa: E402


def blas_in_use():
    """What PyTorch's matrix products run on: read off the libraries mapped into this process
    after a product, since torch's build string does not say which libblas.so.3 Debian's
    alternatives picked."""
    a = torch.rand(256, 256)
    (a @ a).sum().item()
    if getattr(torch.backends, "mkl", None) and torch.backends.mkl.is_available():
        return "MKL (linked into torch)", []
    maps = open("/proc/self/maps").read()
    # numpy's own OpenBLAS and CUDA's cuBLAS are mapped too, but torch's CPU products do not use them
    libs = sorted({line.split()[-1] for line in maps.splitlines()
                   if ("blas" in line or "lapack" in line) and "/" in line
                   and "numpy" not in line and "nvidia" not in line and "cublas" not in line})
    real = [os.path.realpath(p) for p in libs]
    if any("openblas" in p for p in real):
        return "OpenBLAS", real
    if any("libblas" in p for p in real):
        return "reference BLAS", real
    return "unknown", real


class TorchMode:
    def __init__(self, name, model, channels, h, w, batch, bf16, channels_last, compiled):
        self.name, self.bf16, self.compiled = name, bf16, compiled
        torch.manual_seed(0)
        self.net = R.build(model, channels)
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.net = self.net.to(memory_format=self.fmt)
        self.x = torch.rand(batch, channels, h, w).to(memory_format=self.fmt)
        self.m = (torch.rand(batch, 1, h, w) > 0.9).float()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.run_net = torch.compile(self.net) if compiled else self.net
        self.batch = batch

    def _autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def train_step(self):
        self.opt.zero_grad()
        with self._autocast():
            out = self.run_net(self.x)
            outs = out if isinstance(out, (list, tuple)) else [out]
            loss = R.total_loss([o.float() for o in outs], self.m, "ftl")
        loss.backward()
        self.opt.step()

    def forward(self):
        with torch.no_grad(), self._autocast():
            self.run_net(self.x)

    def measure(self, steps):
        """Training images/s over `steps` steps after one warm-up, then inference images/s over
        3×steps forwards (as `ftunet bench` times them)."""
        self.net.train()
        self.train_step()
        t = time.perf_counter()
        for _ in range(steps):
            self.train_step()
        train = self.batch * steps / (time.perf_counter() - t)
        self.net.eval()
        self.forward()
        t = time.perf_counter()
        for _ in range(3 * steps):
            self.forward()
        infer = self.batch * 3 * steps / (time.perf_counter() - t)
        return train, infer


def ftunet_bench(exe, model, channels, h, w, batch, threads, steps):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.json")
        cmd = [exe, "bench", "--model", model, "--size", f"{h}x{w}", "--channels", str(channels),
               "--batch", str(batch), "--threads", str(threads), "--steps", str(steps),
               "--precision", "both", "--peak-size", "512", "--json", path]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            sys.exit(f"bench_vs_pytorch: {' '.join(cmd)}: {r.stderr.strip()}")
        res = json.load(open(path))["results"]
    return {f"ftunet {e['precision']}": (e["train_images_per_s"], e["infer_images_per_s"]) for e in res}


def med_range(v):
    return statistics.median(v), min(v), max(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ftunet", default=os.path.join(HERE, "..", "build", "ftunet"))
    ap.add_argument("--model", default="attn-unet-mi-ds")
    ap.add_argument("--size", default="128x128", help="HxW")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per measurement")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--compile", action="store_true", help="also torch.compile (fp32 and bf16, channels_last)")
    ap.add_argument("--allow-reference-blas", action="store_true")
    ap.add_argument("--json", help="also write the per-pair figures here")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    torch.set_num_threads(a.threads)

    blas, libs = blas_in_use()
    onednn = torch.backends.mkldnn.is_available()
    print(f"PyTorch {torch.__version__} ({sys.executable}); BLAS: {blas}; oneDNN (mkldnn): "
          f"{'yes' if onednn else 'no'}; libraries: {', '.join(libs) or 'none mapped'}")
    if blas == "reference BLAS":
        msg = ("PyTorch is on the reference BLAS, about 2.5x slower than with OpenBLAS "
               "(apt-get install libopenblas0-pthread): a ratio against it misleads")
        if not a.allow_reference_blas:
            sys.exit(f"bench_vs_pytorch: {msg}")
        print(f"WARNING: {msg}")

    modes = [("torch fp32", False, False, False), ("torch fp32-channels_last", False, True, False),
             ("torch bf16-autocast", True, False, False), ("torch bf16-autocast-channels_last", True, True, False)]
    if a.compile:
        modes += [("torch fp32-channels_last-compile", False, True, True),
                  ("torch bf16-autocast-channels_last-compile", True, True, True)]
    torch_modes = []
    for name, bf16, cl, comp in modes:
        try:
            m = TorchMode(name, a.model, a.channels, h, w, a.batch, bf16, cl, comp)
            m.measure(1)  # builds (and compiles) outside the timed pairs
            torch_modes.append(m)
        except Exception as e:  # a mode this PyTorch cannot run on this CPU is reported, not fatal
            print(f"{name}: not measured: {type(e).__name__}: {str(e).splitlines()[0][:200]}")

    print(f"{a.model} {a.channels}x{h}x{w}, batch {a.batch}, {a.threads} threads; {a.pairs} pairs, "
          f"each {a.steps} training steps and {3 * a.steps} inference forwards per mode after a warm-up")
    pairs = []
    for p in range(a.pairs):
        fig = {}
        order = ["ftunet", "torch"] if p % 2 == 0 else ["torch", "ftunet"]
        for who in order:
            if who == "ftunet":
                fig.update(ftunet_bench(a.ftunet, a.model, a.channels, h, w, a.batch, a.threads, a.steps))
            else:
                for m in torch_modes:
                    fig[m.name] = m.measure(a.steps)
        pairs.append(fig)
        print(f"pair {p + 1}: " + ", ".join(f"{k} {v[0]:.2f}/{v[1]:.2f}" for k, v in fig.items())
              + "  (train/infer img/s)", flush=True)

    names = list(pairs[0].keys())
    print(f"\n{'':42s} {'train img/s (median, range)':>30s} {'infer img/s (median, range)':>30s}")
    for n in names:
        tr = med_range([f[n][0] for f in pairs])
        inf = med_range([f[n][1] for f in pairs])
        print(f"{n:42s} {tr[0]:10.2f} ({tr[1]:.2f}-{tr[2]:.2f})       {inf[0]:10.2f} ({inf[1]:.2f}-{inf[2]:.2f})")

    summary = {}
    print("\nratios within each pair: ftunet against the best PyTorch mode of the same precision in that pair")
    for label, ours, theirs in [("fp32", "ftunet fp32", "torch fp32"), ("bf16", "ftunet bf16", "torch bf16"),
                                ("best", None, None)]:
        for phase, i in [("training", 0), ("inference", 1)]:
            rs, picks = [], []
            for f in pairs:
                if label == "best":
                    mine = max(v[i] for k, v in f.items() if k.startswith("ftunet"))
                    cands = {k: v for k, v in f.items() if k.startswith("torch")}
                else:
                    mine = f[ours][i]
                    cands = {k: v for k, v in f.items() if k.startswith(theirs)}
                if not cands:
                    continue
                k = max(cands, key=lambda k: cands[k][i])
                rs.append(mine / cands[k][i])
                picks.append(k)
            if rs:
                med, lo, hi = med_range(rs)
                top = max(set(picks), key=picks.count)
                summary[f"{label}_{phase}"] = {"median": med, "min": lo, "max": hi, "torch_mode": top}
                what = "ftunet's best / PyTorch's best" if label == "best" else f"{label}"
                print(f"  {what:32s} {phase:9s} x{med:.2f} (x{lo:.2f}-x{hi:.2f}; PyTorch's best mode mostly {top})")

    if a.json:
        with open(a.json + ".tmp", "w") as fp:
            json.dump({"torch": torch.__version__, "blas": blas, "onednn": onednn, "model": a.model,
                       "input": [a.channels, h, w], "batch": a.batch, "threads": a.threads,
                       "steps": a.steps, "pairs": pairs, "ratios": summary}, fp, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
