"""PyTorch side of `deno task bench --only sll` (bench/sll_step.ts runs it and parses its output).

The SLL network written from the paper's equations as the reference code
(araujoalexandre/Lipschitz-SLL-Networks) does it: SLL conv with F.conv2d / F.conv_transpose2d and
t recomputed in every forward, SLL dense with W @ W.T, sum-pool 4/4, row-normalised last layer,
the reference's offset cross-entropy, Adam(betas 0.5, 0.9). Our own code, not the reference's.

Usage: python3 sll_torch.py SPEC REPEATS WARMUP, SPEC a JSON object from bench/sll_step.ts (the one
list of workloads): c, h, w, nConv, nDense, width, convInner, denseInner, batch, mode, and
optionally torchConvT ("transpose", the default: F.conv_transpose2d as the reference; "flipped":
the same product as F.conv2d with the kernel's channels swapped and taps flipped, the tuned form)
and spaceToDepth (F.pixel_unshuffle before the channel padding, the sum-pool 4/s; default 1);
prints one line `ms <t1> <t2> ...` with the timed runs in milliseconds.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

from torch_timing import print_step_times

torch.set_num_threads(2)
torch.manual_seed(0)

def xavier(shape):
    w = torch.empty(shape)
    torch.nn.init.xavier_normal_(w)
    return w


class Net(torch.nn.Module):
    def __init__(self, c, h, w, n_conv, n_dense, width, cinner, dinner, conv_t="transpose", s2d=1):
        super().__init__()
        self.s2d = s2d
        if conv_t not in ("transpose", "flipped"):
            raise ValueError(f"torchConvT must be 'transpose' or 'flipped', got {conv_t!r}")
        self.conv_t = conv_t
        self.width = width
        self.c = c
        self.convs = torch.nn.ParameterList()
        for _ in range(n_conv):
            k = xavier((cinner, width, 3, 3))
            b = torch.empty(1, cinner, 1, 1).uniform_(-1 / math.sqrt(width * 9), 1 / math.sqrt(width * 9))
            self.convs.extend([k, b, torch.randn(cinner)])
        f = width * (h // 4) * (w // 4)
        self.dense = torch.nn.ParameterList()
        for _ in range(n_dense):
            wt = xavier((dinner, f))
            b = torch.empty(1, dinner).uniform_(-1 / math.sqrt(f), 1 / math.sqrt(f))
            self.dense.extend([wt, b, torch.randn(dinner)])
        self.last = torch.nn.Parameter(xavier((10, f)))
        self.last_bias = torch.nn.Parameter(torch.zeros(10))

    def forward(self, x):
        x = x - 0.5
        if self.s2d > 1:
            x = F.pixel_unshuffle(x, self.s2d)
        x = F.pad(x, (0, 0, 0, 0, 0, self.width - self.c * self.s2d * self.s2d))
        for i in range(0, len(self.convs), 3):
            k, b, q = self.convs[i], self.convs[i + 1], self.convs[i + 2]
            # t recomputed in every forward, as the reference
            ktk = torch.abs(F.conv2d(k, k, padding=2))
            qe = torch.exp(q).reshape(-1, 1, 1, 1)
            qi = torch.exp(-q).reshape(-1, 1, 1, 1)
            t = 1 / (qi * ktk * qe).sum((1, 2, 3))
            res = torch.relu(F.conv2d(x, k, padding=1) + b) * t.reshape(1, -1, 1, 1)
            if self.conv_t == "flipped":
                # conv_transpose2d(res, k) = conv2d(res, k with in/out swapped, taps flipped)
                x = x - 2 * F.conv2d(res, k.transpose(0, 1).flip(2, 3), padding=1)
            else:
                x = x - 2 * F.conv_transpose2d(res, k, padding=1)
        x = F.avg_pool2d(x, 4 // self.s2d, divisor_override=4 // self.s2d)
        x = x.flatten(1)
        for i in range(0, len(self.dense), 3):
            w, b, q = self.dense[i], self.dense[i + 1], self.dense[i + 2]
            qe = torch.exp(q)[None, :]
            qi = torch.exp(-q)[:, None]
            t = 1 / torch.abs(qi * (w @ w.T) * qe).sum(1)
            res = torch.relu(F.linear(x, w) + b) * t
            x = x - 2 * F.linear(res, w.T)
        wn = self.last / self.last.norm(dim=1, keepdim=True)
        return F.linear(x, wn, self.last_bias)


def loss_fn(logits, y):
    offset, temp = math.sqrt(2) * 3 / 2, 0.25
    shifted = logits - offset * F.one_hot(y, 10)
    return F.cross_entropy(shifted / temp, y) * temp


def main():
    spec, repeats, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    c, h, w, batch, mode = spec["c"], spec["h"], spec["w"], spec["batch"], spec["mode"]
    certify_batches = int(spec.get("certifyBatches", 1))
    n_conv, n_dense, width = spec["nConv"], spec["nDense"], spec["width"]
    cinner, dinner = spec["convInner"], spec["denseInner"]
    net = Net(
        c, h, w, n_conv, n_dense, width, cinner, dinner, spec.get("torchConvT", "transpose"),
        int(spec.get("spaceToDepth", 1)),
    )
    x = torch.rand(batch, c, h, w)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))

    def step():
        if mode == "certify":
            # the same images as ours: certifyBatches batches, t recomputed in each (reference)
            with torch.no_grad():
                for _ in range(certify_batches):
                    float(net(x).sum())
            return
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        float(loss)

    print_step_times(step, repeats, warmup)


if __name__ == "__main__":
    main()
