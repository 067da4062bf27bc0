"""PyTorch side of `deno task bench --only layers` (bench/layers_step.ts runs it, parses its output).

One function per registered layer (layers/registry.ts), named as the registry, written from the
layer's paper: `make(kind, channels, kernel)` returns a torch.nn.Module mapping
[B, channels, H, W] -> same (kind "conv", odd kernel, "same" padding) or [B, channels] -> same
(kind "dense"). Our own code, not the authors'. A new layer is one function and one LAYERS entry.

Usage: python3 layers_torch.py SPEC REPEATS WARMUP, SPEC a JSON object from bench/layers_step.ts
(layer, kind, channels, size, kernel, batch); prints `ms <t1> <t2> ...`, the timed training steps
(loss 0.5*mean(f(x)^2), backward, Adam(betas 0.5, 0.9)) in milliseconds.
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def xavier(*shape):
    w = torch.empty(*shape)
    torch.nn.init.xavier_normal_(w)
    return torch.nn.Parameter(w)


def linear_ops(kind, kernel):
    """(forward, adjoint) of a conv (same padding) or dense weight W of shape [out, in(, k, k)]."""
    if kind == "conv":
        pad = kernel // 2
        return (lambda x, w: F.conv2d(x, w, padding=pad),
                lambda y, w: F.conv_transpose2d(y, w, padding=pad))
    return (lambda x, w: F.linear(x, w), lambda y, w: F.linear(y, w.t()))


def param_shape(kind, rows, cols, kernel):
    return (rows, cols, kernel, kernel) if kind == "conv" else (rows, cols)


def bias_shape(kind, n):
    return (1, n, 1, 1) if kind == "conv" else (1, n)


class Sll(torch.nn.Module):
    """SLL (Araujo et al., ICLR 2023): y = x - 2 W^T (t * relu(W x + b)),
    t_i = 1 / sum_j |W W^T|_ij exp(q_j - q_i) (conv: W W^T is conv(K, K, pad k-1))."""

    def __init__(self, kind, c, kernel):
        super().__init__()
        self.kind, self.kernel = kind, kernel
        self.w = xavier(*param_shape(kind, c, c, kernel))
        self.b = torch.nn.Parameter(torch.zeros(bias_shape(kind, c)))
        self.q = torch.nn.Parameter(torch.randn(c))
        self.fwd, self.adj = linear_ops(kind, kernel)

    def forward(self, x):
        w = self.w
        if self.kind == "conv":
            gram = torch.abs(F.conv2d(w, w, padding=self.kernel - 1)).sum((2, 3))
        else:
            gram = torch.abs(w @ w.t())
        qe = torch.exp(self.q)
        t = 1 / (gram * qe[None, :] / qe[:, None]).sum(1)
        h = torch.relu(self.fwd(x, w) + self.b) * t.reshape(bias_shape(self.kind, -1))
        return x - 2 * self.adj(h, w)


def sll(kind, c, kernel):
    return Sll(kind, c, kernel)


class Aol(torch.nn.Module):
    """AOL (Prach & Lampert, ECCV 2022): W = P diag(d), d_i = (sum_j |P^T P|_ij)^(-1/2)
    (conv: P^T P is conv(P^T, P^T, pad k-1) summed over space)."""

    def __init__(self, kind, c, kernel):
        super().__init__()
        self.kind, self.kernel = kind, kernel
        self.p = xavier(*param_shape(kind, c, c, kernel))
        self.b = torch.nn.Parameter(torch.zeros(c))
        self.fwd, _ = linear_ops(kind, kernel)

    def forward(self, x):
        p = self.p
        if self.kind == "conv":
            pt = p.transpose(0, 1)
            s = torch.abs(F.conv2d(pt, pt, padding=self.kernel - 1)).sum((1, 2, 3))
            w = p * s.rsqrt().reshape(1, -1, 1, 1)
            return F.conv2d(x, w, self.b, padding=self.kernel // 2)
        s = torch.abs(p.t() @ p).sum(1)
        return F.linear(x, p * s.rsqrt()[None, :], self.b)


def aol(kind, c, kernel):
    return Aol(kind, c, kernel)


class Cpl(torch.nn.Module):
    """CPL (Meunier et al., ICML 2022): y = x - 2/||W||^2 W^T relu(W x + b), ||W|| by one power
    iteration per step on a stored vector u (input space)."""

    def __init__(self, kind, c, kernel, size):
        super().__init__()
        self.kind = kind
        self.w = xavier(*param_shape(kind, c, c, kernel))
        self.b = torch.nn.Parameter(torch.zeros(bias_shape(kind, c)))
        self.fwd, self.adj = linear_ops(kind, kernel)
        u = torch.randn((1, c, size, size) if kind == "conv" else (1, c))
        self.register_buffer("u", u / u.norm())

    def forward(self, x):
        with torch.no_grad():
            v = self.adj(self.fwd(self.u, self.w), self.w)
            self.u = v / v.norm()
        wu = self.fwd(self.u, self.w)
        sigma2 = (wu * wu).sum()
        return x - 2 / sigma2 * self.adj(torch.relu(self.fwd(x, self.w) + self.b), self.w)


def cpl(kind, c, kernel, size=1):
    return Cpl(kind, c, kernel, size)


LAYERS = {
    "sll": lambda kind, c, k, size: sll(kind, c, k),
    "aol": lambda kind, c, k, size: aol(kind, c, k),
    "cpl": lambda kind, c, k, size: cpl(kind, c, k, size),
}


def main():
    spec, repeats, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    name, kind, c, size = spec["layer"], spec["kind"], spec["channels"], spec["size"]
    kernel, batch = spec["kernel"], spec["batch"]
    if name not in LAYERS:
        raise SystemExit(f"no PyTorch counterpart of layer {name!r} in layers_torch.py")
    layer = LAYERS[name](kind, c, kernel, size)
    shape = (batch, c, size, size) if kind == "conv" else (batch, c)
    x = torch.rand(shape) - 0.5
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3, betas=(0.5, 0.9))

    def step():
        opt.zero_grad()
        y = layer(x)
        loss = 0.5 * (y * y).mean()
        loss.backward()
        opt.step()
        float(loss)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print("ms " + " ".join(f"{t:.3f}" for t in times), flush=True)


if __name__ == "__main__":
    main()
