"""PyTorch counterpart of bench/fft.ts: times one workload (JSON argv[1]) of rfft2+irfft2 or
solve, on the CPU with 2 threads; prints "ms t1 t2 ..." (argv[2] timed runs after argv[3] warm-up)."""
import json
import sys

import torch

from torch_timing import print_step_times

torch.set_num_threads(2)
wl = json.loads(sys.argv[1])
repeats, warmup = int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
if wl["op"] == "fft":
    x = torch.rand(wl["shape"])
    h, w = wl["shape"][-2:]

    def run():
        z = torch.fft.rfft2(x)
        return torch.fft.irfft2(z, s=(h, w))
else:
    n = wl["n"]
    a = torch.rand(wl["batch"] + [n, n]) + (n + 2) * torch.eye(n)
    b = torch.rand(wl["batch"] + [n, wl["k"]])

    def run():
        return torch.linalg.solve(a, b)

print_step_times(run, repeats, warmup)
