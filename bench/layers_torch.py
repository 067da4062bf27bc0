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

import torch
import torch.nn.functional as F

from torch_timing import print_step_times

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


def bjorck(w, iters=20):
    """Bjorck orthonormalisation as layers/orthogonal.ts: scale by sqrt(|W|_1 |W|_inf), then
    W <- 1.5 W - 0.5 W W^T W (or (W W^T) W when wide)."""
    q = w / torch.sqrt(w.abs().sum(0).max() * w.abs().sum(1).max()).clamp_min(1e-12)
    tall = w.shape[0] >= w.shape[1]
    for _ in range(iters):
        q = 1.5 * q - 0.5 * (q @ (q.t() @ q) if tall else (q @ q.t()) @ q)
    return q


def matrix_norm_bound(m):
    """sqrt(min(|M^T M|_inf, |M M^T|_inf)) >= |M|_2."""
    return torch.sqrt(torch.minimum((m.t() @ m).abs().sum(1).max(), (m @ m.t()).abs().sum(1).max()))


class Soc(torch.nn.Module):
    """SOC (Singla & Feizi, ICML 2021): y = sum_{i<=12} L^i x / i! + b, L = 0.7 (A - A^T) / sigma,
    A^T the adjoint conv (channels swapped, taps flipped), sigma = sqrt(k k) min over the four
    reshapes R of A - A^T of a certified bound of |R|_2 (the "fantastic four" bound)."""

    def __init__(self, kind, c, kernel, terms=12):
        super().__init__()
        self.kind, self.kernel, self.terms = kind, kernel, terms
        k = kernel if kind == "conv" else 1
        self.a = xavier(c, c, k, k)
        self.b = torch.nn.Parameter(torch.zeros(bias_shape(kind, c)))

    def forward(self, x):
        a = self.a
        skew = a - torch.flip(a.transpose(0, 1), [2, 3])
        co, ci, kh, kw = skew.shape
        rs = [skew.permute(0, 2, 1, 3).reshape(co * kh, ci * kw),
              skew.permute(0, 3, 1, 2).reshape(co * kw, ci * kh),
              skew.reshape(co, ci * kh * kw), skew.permute(0, 2, 3, 1).reshape(co * kh * kw, ci)]
        sigma = math.sqrt(kh * kw) * torch.stack([matrix_norm_bound(r) for r in rs]).min()
        l = 0.7 * skew / sigma.clamp_min(1e-12)
        if self.kind == "conv":
            op = lambda z: F.conv2d(z, l, padding=self.kernel // 2)
        else:
            lm = l[:, :, 0, 0]
            op = lambda z: F.linear(z, lm)
        term, y = x, x
        for i in range(1, self.terms + 1):
            term = op(term) / i
            y = y + term
        return y + self.b


def bcop_kernel(h, projectors, kernel, iters=20):
    """BCOP (Li et al., NeurIPS 2019): K = H prod_rows (P + (I - P) z1) prod_cols (Q + (I - Q) z2),
    P = U U^T with U = bjorck of a free [c, c/2] matrix; returned as [c, c, k, k]."""
    c = h.shape[0]
    eye = torch.eye(c)
    k = bjorck(h, iters).reshape(1, 1, c, c)  # taps-first
    steps = kernel - 1
    for i in range(2 * steps):
        u = bjorck(projectors[i], iters)
        p = u @ u.t()
        kp, kq = k @ p, k @ (eye - p)
        if i < steps:
            k = F.pad(kp, (0, 0, 0, 0, 0, 0, 0, 1)) + F.pad(kq, (0, 0, 0, 0, 0, 0, 1, 0))
        else:
            k = F.pad(kp, (0, 0, 0, 0, 0, 1)) + F.pad(kq, (0, 0, 0, 0, 1, 0))
    return k.permute(2, 3, 0, 1)


class Bcop(torch.nn.Module):
    """BCOP conv (zero padding, 20 Bjorck iterations); dense: Bjorck-orthogonal linear."""

    def __init__(self, kind, c, kernel, circular=False, extra_rko=False):
        super().__init__()
        self.kind, self.kernel, self.circular, self.extra_rko = kind, kernel, circular, extra_rko
        self.h = torch.nn.Parameter(torch.randn(c, c))
        if kind == "conv":
            self.p = torch.nn.Parameter(torch.randn(2 * (kernel - 1), c, c // 2))
            if extra_rko:
                self.r = torch.nn.Parameter(torch.randn(c, c))
        self.b = torch.nn.Parameter(torch.zeros(bias_shape(kind, c)))

    def forward(self, x):
        if self.kind == "dense":
            return F.linear(x, bjorck(self.h)) + self.b
        k = bcop_kernel(self.h, self.p, self.kernel)
        if self.extra_rko:  # AOC stride 1: BCOP then a 1x1 RKO part, merged into one kernel
            k = torch.einsum("om,mihw->oihw", bjorck(self.r), k)
        pad = self.kernel // 2
        if self.circular:
            return F.conv2d(F.pad(x, (pad,) * 4, mode="circular"), k) + self.b
        return F.conv2d(x, k, padding=pad) + self.b


class LiRes(torch.nn.Module):
    """LiResNet block (Hu et al., NeurIPS 2023): A = I + W*gamma, y = A x / sigma + b, sigma = |A u|
    after 10 power iterations from the stored u (no gradient through u)."""

    def __init__(self, kind, c, kernel, size):
        super().__init__()
        self.kind, self.kernel = kind, kernel
        if kind == "conv":
            self.w = torch.nn.Parameter(torch.randn(c, c, kernel, kernel) / (c * kernel * kernel))
            self.g = torch.nn.Parameter(torch.ones(c, 1, 1, 1))
            eye = torch.zeros(c, c, kernel, kernel)
            eye[:, :, kernel // 2, kernel // 2] = torch.eye(c)
            u = torch.ones(1, c, size, size)
        else:
            self.w = torch.nn.Parameter(torch.randn(c, c) / c)
            self.g = torch.nn.Parameter(torch.ones(c, 1))
            eye, u = torch.eye(c), torch.ones(1, c)
        self.register_buffer("eye", eye)
        self.register_buffer("u", u / u.norm())
        self.b = torch.nn.Parameter(torch.zeros(bias_shape(kind, c)))
        self.fwd, self.adj = linear_ops(kind, kernel)

    def forward(self, x):
        a = self.eye + self.w * self.g
        with torch.no_grad():
            u = self.u
            for _ in range(10):
                v = self.adj(self.fwd(u, a), a)
                u = v / v.norm()
        sigma = self.fwd(u, a).norm()
        return self.fwd(x, a) / sigma + self.b


def _fft_kernel(w, h, wd, centred=True):
    """Per-frequency matrices [h, wd//2+1, out, in] (complex) of the circular conv2d with w."""
    k = w.shape[-1]
    p = F.pad(w, (0, wd - k, 0, h - k))
    if not centred:
        return torch.fft.rfft2(p).permute(2, 3, 0, 1)
    p = torch.roll(p, shifts=(-(k // 2), -(k // 2)), dims=(2, 3))
    return torch.fft.rfft2(p).permute(2, 3, 0, 1).conj()


def _fft_apply(q, x):
    """irfft2(q(w) rfft2(x)) for x [B, C, H, W] and q [H, W//2+1, out, C] (orthonormal DFTs)."""
    h, wd = x.shape[-2:]
    xf = torch.fft.rfft2(x, norm="ortho").permute(2, 3, 1, 0)  # [H, Wf, C, B]
    yf = (q @ xf).permute(3, 2, 0, 1)
    return torch.fft.irfft2(yf, s=(h, wd), norm="ortho")


def _cayley(w):
    """Cayley transform of [..., m, n] (real or complex): Q*Q = I (m >= n), QQ* = I (m < n)."""
    m, n = w.shape[-2:]
    if m < n:
        return _cayley(w.transpose(-2, -1)).transpose(-2, -1)
    u, v = w[..., :n, :], w[..., n:, :]
    eye = torch.eye(n, dtype=w.dtype)
    a = u - u.conj().transpose(-2, -1) + v.conj().transpose(-2, -1) @ v
    inv = torch.linalg.inv(eye + a)
    return torch.cat((inv @ (eye - a), -2 * v @ inv), dim=-2)


class Cayley(torch.nn.Module):
    """Cayley (Trockman & Kolter, ICLR 2021): Q(w) = cayley(alpha W(w)/||W||) per frequency of the
    circular conv (dense: cayley(alpha W/||W||)), y = Q x + b."""

    def __init__(self, kind, c, kernel, size):
        super().__init__()
        self.kind, self.size = kind, size
        shape = (c, c, kernel, kernel) if kind == "conv" else (c, c)
        bound = 1 / math.sqrt(c * (kernel * kernel if kind == "conv" else 1))
        self.w = torch.nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.b = torch.nn.Parameter(torch.empty(c).uniform_(-bound, bound))
        with torch.no_grad():
            ref = _fft_kernel(self.w, size, size) if kind == "conv" else self.w
        self.alpha = torch.nn.Parameter(ref.norm().detach().clone())

    def forward(self, x):
        if self.kind == "conv":
            wf = _fft_kernel(self.w, *x.shape[-2:])
            return _fft_apply(_cayley(self.alpha * wf / wf.norm()), x) + self.b[:, None, None]
        return F.linear(x, _cayley(self.alpha * self.w / self.w.norm()), self.b)


def cayley(kind, c, kernel, size=1):
    return Cayley(kind, c, kernel, size)


def _ns_inv_sqrt(s, iterations):
    """S^(-1/2) of Hermitian S [..., n, n] by coupled Newton-Schulz on S/||S||_F."""
    nrm = torch.linalg.matrix_norm(s)[..., None, None]
    eye = torch.eye(s.shape[-1], dtype=s.dtype)
    y, z = s / nrm, eye
    for _ in range(iterations):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    return z / nrm.sqrt()


class Lot(torch.nn.Module):
    """LOT (Xu, Li, Li, NeurIPS 2022): Q(w) = (W W* + eps I)^(-1/2) W per frequency of the circular
    conv by 10 Newton-Schulz steps (dense: the same on W); identity init as the reference."""

    def __init__(self, kind, c, kernel, iterations=10, eps=1e-4):
        super().__init__()
        self.kind, self.iterations, self.eps = kind, iterations, eps
        w = torch.zeros((c, c, kernel, kernel) if kind == "conv" else (c, c))
        idx = torch.arange(c)
        if kind == "conv":
            w[idx, idx, kernel // 2, kernel // 2] = 1
        else:
            w[idx, idx] = 1
        self.w = torch.nn.Parameter(w)
        self.b = torch.nn.Parameter(torch.zeros(c))

    def _ortho(self, w):
        s = w @ w.conj().transpose(-2, -1)
        s = s + self.eps * torch.eye(s.shape[-1], dtype=s.dtype)
        return _ns_inv_sqrt(s, self.iterations) @ w

    def forward(self, x):
        if self.kind == "conv":
            return _fft_apply(self._ortho(_fft_kernel(self.w, *x.shape[-2:])), x) + self.b[:, None, None]
        return F.linear(x, self._ortho(self.w), self.b)


def lot(kind, c, kernel):
    return Lot(kind, c, kernel)


def _block_reflector(v, eps=1e-5):
    """I - 2 V (V*V + eps mean(diag V*V) I)^(-1) V* of V [..., n, r] (real or complex)."""
    vh = v.conj().transpose(-2, -1)
    g = vh @ v
    r = v.shape[-1]
    ridge = eps * (v.abs() ** 2).sum((-2, -1), keepdim=True) / r + 1e-30
    g = g + ridge * torch.eye(r, dtype=v.dtype)
    return torch.eye(v.shape[-2], dtype=v.dtype) - 2 * v @ torch.linalg.solve(g, vh)


class Bro(torch.nn.Module):
    """BRO (Lai et al., ICML 2025): W(w) = I - 2 V(V*V)^(-1)V* per frequency of the circular conv
    with the kernel V [c, c-1, k, k] (dense: V [c, c/2]); identity init as the reference."""

    def __init__(self, kind, c, kernel):
        super().__init__()
        self.kind = kind
        r = max(1, c - 1) if kind == "conv" else max(1, c // 2)
        v = torch.zeros((c, r, kernel, kernel) if kind == "conv" else (c, r))
        idx = torch.arange(min(c, r))
        if kind == "conv":
            v[idx, idx, kernel // 2, kernel // 2] = 1
        else:
            v[idx, idx] = 1
        self.v = torch.nn.Parameter(v)
        bound = 1 / math.sqrt(r * kernel * kernel) if kind == "conv" else 0
        self.b = torch.nn.Parameter(torch.empty(c).uniform_(-bound, bound))

    def forward(self, x):
        if self.kind == "conv":
            vf = _fft_kernel(self.v, *x.shape[-2:], centred=False)
            return _fft_apply(_block_reflector(vf), x) + self.b[:, None, None]
        return F.linear(x, _block_reflector(self.v), self.b)


def bro(kind, c, kernel):
    return Bro(kind, c, kernel)


class Sandwich(torch.nn.Module):
    """Sandwich (Wang & Manchester, ICML 2023): [A B] = cayley(alpha W/||W||) (per frequency for the
    conv), y = sqrt(2) A* Psi relu(sqrt(2) Psi^(-1) B x + b), Psi = diag(exp(psi))."""

    def __init__(self, kind, c, kernel, size):
        super().__init__()
        self.kind, self.c = kind, c
        shape = (c, 2 * c, kernel, kernel) if kind == "conv" else (c, 2 * c)
        bound = 1 / math.sqrt(2 * c * (kernel * kernel if kind == "conv" else 1))
        self.w = torch.nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.b = torch.nn.Parameter(torch.empty(c).uniform_(-bound, bound))
        self.psi = torch.nn.Parameter(torch.zeros(c))
        with torch.no_grad():
            ref = _fft_kernel(self.w, size, size) if kind == "conv" else self.w
        self.alpha = torch.nn.Parameter(ref.norm().detach().clone())

    def forward(self, x):
        c, s2 = self.c, math.sqrt(2)
        if self.kind == "conv":
            wf = _fft_kernel(self.w, *x.shape[-2:])
            q = _cayley(self.alpha * wf / wf.norm())
            a, b = q[..., :c], q[..., c:]
            z = s2 * torch.exp(-self.psi)[:, None, None] * _fft_apply(b, x) + self.b[:, None, None]
            h = torch.exp(self.psi)[:, None, None] * torch.relu(z)
            return s2 * _fft_apply(a.conj().transpose(-2, -1), h)
        q = _cayley(self.alpha * self.w / self.w.norm())
        a, b = q[:, :c], q[:, c:]
        h = torch.exp(self.psi) * torch.relu(s2 * torch.exp(-self.psi) * F.linear(x, b) + self.b)
        return s2 * F.linear(h, a.t())


def sandwich(kind, c, kernel, size=1):
    return Sandwich(kind, c, kernel, size)


LAYERS = {
    "sll": lambda kind, c, k, size: sll(kind, c, k),
    "aol": lambda kind, c, k, size: aol(kind, c, k),
    "cpl": lambda kind, c, k, size: cpl(kind, c, k, size),
    "soc": lambda kind, c, k, size: Soc(kind, c, k),
    "bcop": lambda kind, c, k, size: Bcop(kind, c, k, circular=True),
    "aoc": lambda kind, c, k, size: Bcop(kind, c, k, circular=True, extra_rko=True),
    "liresnet": lambda kind, c, k, size: LiRes(kind, c, k, size),


    "cayley": lambda kind, c, k, size: cayley(kind, c, k, size),
    "lot": lambda kind, c, k, size: lot(kind, c, k),
    "bro": lambda kind, c, k, size: bro(kind, c, k),
    "sandwich": lambda kind, c, k, size: sandwich(kind, c, k, size),
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

    print_step_times(step, repeats, warmup)


if __name__ == "__main__":
    main()
