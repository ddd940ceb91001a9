#!/usr/bin/env python3
"""ftunet against PyTorch at its best, step by step in one run.

Run it with the Python whose PyTorch is to be measured (or as `ftunet bench --against-pytorch
PYTHON`, which passes the model, size, channels, batch, threads and steps):
  /usr/bin/python3 scripts/bench_vs_pytorch.py [--ftunet build/ftunet] [--size 128x128] [--channels 1]
      [--batch 16] [--threads 2] [--steps 6] [--modes all|eager|LIST] [--json FILE]

The contestants: ftunet's fp32 and bf16 sessions (one `ftunet bench --step-server` process that
keeps both open and runs one step per request) and PyTorch's CPU modes on the independent
implementation of the same network (tools/reference_pytorch.py), each with its own copy of the
same weights: fp32 channels-first, fp32 channels_last, bf16 autocast (both layouts) and
torch.compile of the channels_last modes (where it works: a mode that fails to build is reported
and left out). Same model, batch, input size, threads, loss (focal Tversky on the four outputs)
and SGD. A round runs one training step of every contestant, in an order reversed every other
round, so that all of them meet the same stretches of a shared machine; the ratio of a round is
ftunet's step time against the fastest PyTorch mode of the same precision in that round. --steps
rounds of training steps, then 3x as many of inference forwards (eval mode, no gradients). The
medians and ranges over the rounds are printed.

PyTorch on Debian's reference BLAS (libblas3 without OpenBLAS) is refused unless
--allow-reference-blas: its convolutions' weight gradients and the 1x1 convolutions are products
that run 2-3x slower there, and a ratio against it flatters ftunet.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

import torch  # noqa: E402
import reference_pytorch as R  # noqa: E402

# name: (bf16 autocast, channels_last, torch.compile)
MODES = {
    "fp32": (False, False, False),
    "fp32-channels_last": (False, True, False),
    "bf16-autocast": (True, False, False),
    "bf16-autocast-channels_last": (True, True, False),
    "fp32-channels_last-compile": (False, True, True),
    "bf16-autocast-channels_last-compile": (True, True, True),
}


def blas_report():
    """(kind, lines): which BLAS PyTorch's CPU products run on, with the evidence. torch's build
    string names the BLAS it was built against; for Debian's torch, linked to libblas.so.3, what
    that resolves to (update-alternatives) decides, so the libraries mapped after a product and
    the alternative's target are read as well."""
    lines = []
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    built = m.group(1) if m else "not stated"
    lines.append(f"torch.__config__.show(): BLAS_INFO={built}")
    a = torch.rand(256, 256)
    (a @ a).sum().item()
    maps = open("/proc/self/maps").read()
    # numpy's own OpenBLAS and CUDA's cuBLAS are mapped too, but torch's CPU products do not use them
    libs = sorted({ln.split()[-1] for ln in maps.splitlines()
                   if re.search(r"blas|lapack|libmkl|libdnnl", ln) and "/" in ln
                   and not re.search(r"numpy|nvidia|cublas", ln)})
    real = sorted({os.path.realpath(p) for p in libs})
    lines.append("mapped: " + (", ".join(real) or "none"))
    alt = shutil.which("update-alternatives")
    if alt:
        r = subprocess.run([alt, "--query", f"libblas.so.3-{platform.machine()}-linux-gnu"],
                           capture_output=True, text=True)
        val = re.search(r"^Value: (.*)$", r.stdout, re.M)
        if val:
            lines.append(f"update-alternatives libblas.so.3: {val.group(1)}")
    # the libblas.so.3 torch resolved (alternatives, or LD_LIBRARY_PATH) decides; Debian's
    # reference one lives in .../blas/, OpenBLAS's in .../openblas-*/
    libblas = [p for p in real if os.path.basename(p).startswith("libblas.so")]
    if built.lower().startswith("mkl") or (torch.backends.mkl.is_available() and not libblas):
        kind = "MKL"
    elif any("openblas" in p for p in libblas) or (not libblas and any("openblas" in p for p in real)):
        kind = "OpenBLAS"
    elif libblas:
        kind = "reference BLAS"
    else:
        kind = f"unknown (built with {built})"
    return kind, lines


class TorchMode:
    """One PyTorch mode: its own network (the same seed-0 weights), input and optimizer."""

    def __init__(self, name, model, channels, h, w, batch):
        self.name = name
        self.bf16, cl, self.compiled = MODES[name]
        self.net = R.build(model, channels)
        fmt = torch.channels_last if cl else torch.contiguous_format
        self.net = self.net.to(memory_format=fmt)
        g = torch.Generator().manual_seed(0)
        self.x = torch.rand(batch, channels, h, w, generator=g).to(memory_format=fmt)
        self.m = (torch.rand(batch, 1, h, w, generator=g) > 0.9).float()
        self.opt = torch.optim.SGD(self.net.parameters(), lr=1e-4, momentum=0.9)
        self.run_net = torch.compile(self.net) if self.compiled else self.net
        self.phase = None

    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def set_phase(self, train):
        if self.phase != train:
            self.net.train(train)
            self.phase = train

    def loss(self, out):
        outs = out if isinstance(out, (list, tuple)) else [out]
        return R.total_loss([o.float() for o in outs], self.m, "ftl")

    def step(self, train):
        """One training step or inference forward; its seconds."""
        self.set_phase(train)
        t = time.perf_counter()
        if train:
            self.opt.zero_grad(set_to_none=True)
            with self.autocast():
                loss = self.loss(self.run_net(self.x))
            loss.backward()
            self.opt.step()
        else:
            with torch.no_grad(), self.autocast():
                self.run_net(self.x)
        return time.perf_counter() - t


class FtunetServer:
    """`ftunet bench --step-server`: fp32 and bf16 sessions, one step per request."""

    def __init__(self, exe, model, channels, h, w, batch, threads, precisions):
        cmd = [exe, "bench", "--step-server", "--model", model, "--size", f"{h}x{w}", "--channels",
               str(channels), "--batch", str(batch), "--threads", str(threads), "--precision", precisions]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.p.stdout.readline().split()
        if not ready or ready[0] != "ready":
            self.p.wait()
            sys.exit(f"bench_vs_pytorch: {' '.join(cmd)} failed (exit {self.p.returncode})")
        self.precisions = ready[1:]

    def step(self, precision, train):
        self.p.stdin.write(f"{'train' if train else 'infer'} {precision}\n")
        self.p.stdin.flush()
        reply = self.p.stdout.readline().split()
        if len(reply) != 3:
            sys.exit(f"bench_vs_pytorch: ftunet --step-server stopped (exit {self.p.wait()})")
        return float(reply[2])

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait()


def med_range(v):
    return statistics.median(v), min(v), max(v)


def rounds(contestants, n, train):
    """n rounds of one step per contestant (order reversed every other round): [{name: s}]."""
    out = []
    for r in range(n):
        order = contestants if r % 2 == 0 else contestants[::-1]
        out.append({name: fn(train) for name, fn in order})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ftunet", default=os.path.join(HERE, "..", "build", "ftunet"))
    ap.add_argument("--model", default="attn-unet-mi-ds")
    ap.add_argument("--size", default="128x128", help="HxW")
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6, help="rounds of training steps (inference: 3x as many)")
    ap.add_argument("--modes", default="all",
                    help="PyTorch modes, comma-separated, or 'all' / 'eager' (without torch.compile): "
                         + ", ".join(MODES))
    ap.add_argument("--precision", default="both", choices=["fp32", "bf16", "both"],
                    help="ftunet's sessions (and PyTorch's modes of the same precision)")
    ap.add_argument("--allow-reference-blas", action="store_true",
                    help="measure PyTorch on the reference BLAS anyway (with a warning)")
    ap.add_argument("--json", help="also write every round's step times and the ratios here")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.lower().split("x"))
    torch.set_num_threads(a.threads)

    blas, evidence = blas_report()
    print(f"PyTorch {torch.__version__} ({sys.executable}); BLAS: {blas}; oneDNN (mkldnn): "
          f"{'yes' if torch.backends.mkldnn.is_available() else 'no'}")
    for ln in evidence:
        print(f"  {ln}")
    if blas == "reference BLAS":
        msg = ("PyTorch is on the reference BLAS (apt-get install libopenblas0-pthread makes libblas.so.3 "
               "OpenBLAS): its products run 2-3x slower and a ratio against it misleads")
        if not a.allow_reference_blas:
            sys.exit(f"bench_vs_pytorch: {msg}; --allow-reference-blas measures it anyway")
        print("\n" + "!" * 100 + f"\nWARNING: {msg}\n" + "!" * 100 + "\n")

    names = list(MODES) if a.modes == "all" else [n for n in MODES if not MODES[n][2]] if a.modes == "eager" \
        else a.modes.split(",")
    for n in names:
        if n not in MODES:
            sys.exit(f"bench_vs_pytorch: --modes: unknown mode {n!r} (expected {', '.join(MODES)})")
    if a.precision != "both":
        names = [n for n in names if MODES[n][0] == (a.precision == "bf16")]

    server = FtunetServer(a.ftunet, a.model, a.channels, h, w, a.batch, a.threads, a.precision)
    contestants = [(f"ftunet {p}", lambda train, p=p: server.step(p, train)) for p in server.precisions]
    failed = {}
    for n in names:
        t0 = time.perf_counter()
        try:  # built, compiled and warmed up (two steps of each kind) outside the timed rounds
            m = TorchMode(n, a.model, a.channels, h, w, a.batch)
            for train in (True, True, False, False):
                m.step(train)
            contestants.append((f"torch {n}", m.step))
            print(f"torch {n}: ready ({time.perf_counter() - t0:.0f} s to build and warm up)", flush=True)
        except Exception as e:  # a mode this PyTorch cannot run here is reported, not fatal
            first = (str(e).strip().splitlines() or [""])[0][:200]
            failed[n] = f"{type(e).__name__}: {first}"
            print(f"torch {n}: not measured: {failed[n]}", flush=True)

    print(f"\n{a.model} {a.channels}x{h}x{w}, batch {a.batch}, {a.threads} threads; {a.steps} rounds of "
          f"training steps, then {3 * a.steps} of inference forwards, each round one step per contestant",
          flush=True)
    results = {}
    for phase, train, n in (("training", True, a.steps), ("inference", False, 3 * a.steps)):
        t0 = time.perf_counter()
        results[phase] = rounds(contestants, n, train)
        print(f"{phase}: {n} rounds in {time.perf_counter() - t0:.0f} s", flush=True)
    server.close()

    print(f"\n{'images/s (median over the rounds, range)':44s} {'training':>24s} {'inference':>24s}")
    speeds = {}
    for name, _ in contestants:
        row = []
        for phase in ("training", "inference"):
            ips = [a.batch / r[name] for r in results[phase]]
            speeds.setdefault(name, {})[phase] = med_range(ips)
            row.append("{:8.2f} ({:.2f}-{:.2f})".format(*med_range(ips)))
        print(f"{name:44s} {row[0]:>24s} {row[1]:>24s}")

    ratios = {}
    print("\nftunet against PyTorch's fastest mode of the same precision in each round (median, range):")
    groups = [(p, [f"ftunet {p}"], [n for n, _ in contestants if n.startswith(f"torch {p}")])
              for p in ("fp32", "bf16")]
    groups.append(("best", [n for n, _ in contestants if n.startswith("ftunet")],
                   [n for n, _ in contestants if n.startswith("torch")]))
    for label, ours, theirs in groups:
        ours = [n for n in ours if n in dict(contestants)]
        if not ours or not theirs:
            continue
        for phase in ("training", "inference"):
            rs, picks = [], []
            for r in results[phase]:
                mine = min(r[n] for n in ours)
                best = min(theirs, key=lambda n: r[n])
                rs.append(r[best] / mine)
                picks.append(best)
            med, lo, hi = med_range(rs)
            top = max(set(picks), key=picks.count)
            ratios[f"{label}_{phase}"] = {"median": med, "min": lo, "max": hi, "torch_mode": top,
                                          "torch_mode_rounds": picks.count(top), "rounds": len(rs)}
            what = "ftunet's best / PyTorch's best" if label == "best" else f"ftunet {label}"
            print(f"  {what:32s} {phase:9s} x{med:.2f} (x{lo:.2f}-x{hi:.2f}); PyTorch's fastest: {top} "
                  f"in {picks.count(top)} of {len(rs)} rounds")
    for n, why in failed.items():
        print(f"  not measured: torch {n}: {why}")

    if a.json:
        with open(a.json + ".tmp", "w") as fp:
            json.dump({"torch": torch.__version__, "python": sys.executable, "blas": blas, "blas_evidence": evidence,
                       "model": a.model, "input": [a.channels, h, w], "batch": a.batch, "threads": a.threads,
                       "rounds": a.steps, "step_seconds": results, "images_per_s": speeds, "ratios": ratios,
                       "not_measured": failed}, fp, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
