#!/usr/bin/env python3
"""Training and inference throughput of the independent PyTorch implementation of the spec
(tools/reference_pytorch.py) on the CPU, for comparison with `ftunet bench` on the same machine:
  /usr/bin/python3 tools/bench_pytorch.py [--threads 2] [--batch 16] [--size 128] [--steps 3]"""
import argparse, os, sys, time
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_pytorch as R

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--size", type=int, default=128)
ap.add_argument("--steps", type=int, default=3)
ap.add_argument("--model", default="attn-unet-mi-ds")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
net = R.build(a.model, 1)
x = torch.rand(a.batch, 1, a.size, a.size)
m = (torch.rand(a.batch, 1, a.size, a.size) > 0.9).float()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

def train_step():
    opt.zero_grad()
    loss = R.total_loss(net(x), m, "ftl")
    loss.backward()
    opt.step()

net.train()
train_step()
t = time.perf_counter()
for _ in range(a.steps):
    train_step()
train = a.batch * a.steps / (time.perf_counter() - t)
net.eval()
with torch.no_grad():
    net(x)
    t = time.perf_counter()
    for _ in range(a.steps):
        net(x)
    infer = a.batch * a.steps / (time.perf_counter() - t)
gf = 5.727 * (a.size / 128) ** 2 if a.model == "attn-unet-mi-ds" else float("nan")
print(f"pytorch {torch.__version__} {a.model} 1x{a.size}x{a.size} batch {a.batch}, {a.threads} threads: "
      f"train {train:.2f} img/s ({train * 3 * gf:.1f} GFLOP/s), infer {infer:.2f} img/s ({infer * gf:.1f} GFLOP/s)")
