"""The reference SLL network in PyTorch, written from the paper's equations (Araujo et al.,
ICLR 2023) with the reference trainer's module layout, so that `load_state_dict(strict=True)`
accepts exactly the keys `module.model.model.{i}.{kernel,bias,q,weight}`.

Used by tests/export_torch_test.ts: loads a `.pth` written by `sll export` with `torch.load`,
runs it on the inputs it is given and prints one JSON line: the logits and, per radius, how many
inputs are correct and certified (margins over the row-normalised last layer, in float64).

usage: sll_reference.py <model.pth> <spec.json> <inputs.f32> <labels.i32> <eps,…>
"""
import json
import sys

import torch
from torch import nn
import torch.nn.functional as F


def safe_inv(x):
    """1/x, and 0 where x is 0 (the reference's safe_inv)."""
    mask = x == 0
    inv = x.reciprocal()
    inv[mask] = 0
    return inv


class SllConv(nn.Module):
    """y = x − 2·convT(t ⊙ relu(conv(x, K) + b), K); t_i = 1 / Σ_j Σ_uv |conv(K, K)_ijuv| q_j/q_i.

    q_mode "reference" applies both exponentials on the same axis, as the reference code does,
    so q cancels: t_i = 1 / Σ_j Σ_uv |conv(K, K)_ijuv|.
    """

    def __init__(self, cin, inner, q_mode):
        super().__init__()
        self.kernel = nn.Parameter(torch.empty(inner, cin, 3, 3))
        self.bias = nn.Parameter(torch.empty(1, inner, 1, 1))
        self.q = nn.Parameter(torch.empty(inner))
        self.q_mode = q_mode

    def t(self):
        g = torch.abs(F.conv2d(self.kernel, self.kernel, padding=self.kernel.shape[-1] - 1))
        q = torch.exp(self.q)
        if self.q_mode == "reference":
            s = (q.reshape(-1, 1, 1, 1).reciprocal() * g * q.reshape(-1, 1, 1, 1)).sum((1, 2, 3))
        else:
            s = (g * q.reshape(1, -1, 1, 1) / q.reshape(-1, 1, 1, 1)).sum((1, 2, 3))
        return safe_inv(s)

    def forward(self, x):
        t = self.t().reshape(1, -1, 1, 1)
        res = t * F.relu(F.conv2d(x, self.kernel, padding=1) + self.bias)
        return x - 2 * F.conv_transpose2d(res, self.kernel, padding=1)


class SllDense(nn.Module):
    """y = x − 2·Wᵀ(t ⊙ relu(Wx + b)); t_i = 1 / Σ_j |WWᵀ|_ij exp(q_j − q_i)."""

    def __init__(self, features, inner):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(inner, features))
        self.bias = nn.Parameter(torch.empty(1, inner))
        self.q = nn.Parameter(torch.empty(inner))

    def forward(self, x):
        q = torch.exp(self.q)
        t = safe_inv(torch.abs((self.weight @ self.weight.T) * q.reshape(1, -1) / q.reshape(-1, 1)).sum(1))
        res = t * F.relu(F.linear(x, self.weight) + self.bias)
        return x - 2 * F.linear(res, self.weight.T)


class PaddingChannels(nn.Module):
    """Zero channels appended up to `cout`."""

    def __init__(self, cout):
        super().__init__()
        self.cout = cout

    def forward(self, x):
        b, c, h, w = x.shape
        out = torch.zeros(b, self.cout, h, w, dtype=x.dtype)
        out[:, :c] = x
        return out


class LinearNormalized(nn.Linear):
    """Logits Ŵx + b with the rows of W L2-normalised."""

    def forward(self, x):
        return F.linear(x, F.normalize(self.weight, p=2, dim=1), self.bias)


class Net(nn.Module):
    def __init__(self, spec):
        super().__init__()
        a = spec["arch"]
        c, h, w = spec["inputShape"]
        width = a["width"]
        f = width * (h // 4) * (w // 4)
        s = a.get("spaceToDepth", 1)
        layers = [nn.PixelUnshuffle(s)] if s > 1 else []
        layers += [PaddingChannels(width)]
        layers += [SllConv(width, a["convInnerDim"], a["qMode"]) for _ in range(a["nConv"])]
        layers += [nn.AvgPool2d(4 // s, divisor_override=4 // s), nn.Flatten()]
        layers += [SllDense(f, a["denseInnerDim"]) for _ in range(a["nDense"])]
        layers += [LinearNormalized(f, spec["numClasses"])]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class Normalized(nn.Module):
    """x − mean (std 1), as the reference's NormalizedModel."""

    def __init__(self, model, mean):
        super().__init__()
        self.model = model
        self.mean = torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1)

    def forward(self, x):
        return self.model(x - self.mean)


class DataParallelLike(nn.Module):
    """The `module.` prefix of the reference trainer's DataParallel."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        return self.module(x)


def main():
    pth, spec_path, inputs, labels, eps = sys.argv[1:6]
    spec = json.load(open(spec_path))
    model = DataParallelLike(Normalized(Net(spec), spec["mean"]))
    ckpt = torch.load(pth)
    sd = ckpt["model_state_dict"] if "model_state_dict" in ckpt else ckpt
    model.load_state_dict(sd, strict=True)
    model.eval()
    shape = [-1] + list(spec["inputShape"])
    x = torch.frombuffer(bytearray(open(inputs, "rb").read()), dtype=torch.float32).reshape(shape)
    y = torch.frombuffer(bytearray(open(labels, "rb").read()), dtype=torch.int32).long()
    with torch.no_grad():
        logits = model(x)
        f = logits.double()
        w = model.module.model.model[-1].weight.double()
        w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
        pred = f.argmax(1)
        dist = ((w[:, None, :] - w[None, :, :]) ** 2).sum(-1).sqrt()  # ‖ŵ_a − ŵ_b‖
        top = f.gather(1, pred[:, None])
        m = (top - f) / dist[pred]
        m[torch.arange(len(pred)), pred] = float("inf")
        radius = m.min(1).values
        correct = pred == y
        certified = [int((correct & (radius > e / 255)).sum()) for e in map(float, eps.split(","))]
    print(json.dumps({
        "n": int(len(y)),
        "correct": int(correct.sum()),
        "certified": certified,
        "logits": logits.flatten().tolist(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
