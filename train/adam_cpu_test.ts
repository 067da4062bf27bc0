/**
 * Adam/AdamW's CPU fast path (train/adam_cpu.ts, kernels/cpu/adam_wasm.ts) against the tensor-op
 * formula of optimizers.ts: on random trees (sizes around the SIMD width and the chunk size,
 * several steps, with and without weight decay) the SIMD loop, the scalar loop and the tensor ops
 * agree bit for bit; each path matches PyTorch's Adam step of the fixture; inputs are left
 * untouched and nothing leaks; a gradient through the update still takes the tensor ops.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { readSafetensors } from "../io/safetensors.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { dispose, keep, scope, sum, type Tensor, tensor } from "../tensor/mod.ts";
import { grad } from "../autodiff/autodiff.ts";
import { leaves } from "../tensor/tree.ts";
import { adam, adamw, type Optimizer, type OptState } from "./optimizers.ts";
import { type AdamCpuPath, setAdamCpuPath } from "./adam_cpu.ts";
import { check, leakFreeTest, relErr } from "../tests/helpers.ts";

type Tree = Record<string, Tensor>;

/** Runs `steps` updates of `opt` from the same start on each path; returns every path's trees. */
function runPaths(
  opt: Optimizer,
  p0: Tree,
  grads: Tree[],
  lr: number,
): Map<AdamCpuPath, Float32Array[]> {
  const out = new Map<AdamCpuPath, Float32Array[]>();
  for (const path of ["off", "simd", "js"] as const) {
    const was = setAdamCpuPath(path);
    try {
      let params = p0;
      let state: OptState<Tree> = keep(opt.init(p0));
      const owned: Tree[] = [];
      for (const g of grads) {
        const u = keep(scope(() => opt.update(g, state, params, lr)));
        dispose(state.slots);
        if (params !== p0) owned.push(params);
        params = u.params;
        state = u.state;
      }
      const arrays = [...leaves(params), ...leaves(state.slots)].map((t) =>
        t.dataSync() as Float32Array
      );
      out.set(path, arrays);
      dispose([owned, state.slots]);
      if (params !== p0) dispose(params);
    } finally {
      setAdamCpuPath(was);
    }
  }
  return out;
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    if (Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue;
    assert.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

// sizes below, at and past the 4-lane vector and the 16384-element chunk
const SIZES = [1, 3, 4, 5, 17, 1000, 16383, 16384, 16385, 40003];

leakFreeTest("adam cpu path: SIMD, scalar and tensor ops agree bit for bit on random trees", () => {
  check(
    fc.property(
      fc.array(fc.constantFrom(...SIZES), { minLength: 1, maxLength: 3 }),
      fc.constantFrom("adam", "adamw"),
      fc.constantFrom(0, 0.05),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      (sizes, name, wd, steps, seed) => {
        let s = seed >>> 0;
        const rnd = (): number => {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          return s / 2 ** 32 - 0.5;
        };
        const arr = (n: number, scale: number) =>
          Float32Array.from({ length: n }, (_, i) => (i % 97 === 5 ? 0 : rnd() * scale));
        const p0 = keep(
          Object.fromEntries(sizes.map((n, k) => [`w${k}`, tensor(arr(n, 2), { shape: [n] })])),
        );
        const grads = Array.from({ length: steps }, (_, t) =>
          keep(
            Object.fromEntries(
              sizes.map((n, k) => [`w${k}`, tensor(arr(n, 10 ** (t - 1)), { shape: [n] })]),
            ),
          ));
        try {
          const opt = name === "adam"
            ? adam({ weightDecay: wd })
            : adamw({ weightDecay: wd, betas: [0.9, 0.999] });
          const r = runPaths(opt, p0, grads, 0.01);
          const ref = r.get("off")!;
          for (const path of ["simd", "js"] as const) {
            r.get(path)!.forEach((a, i) =>
              sameBits(a, ref[i], `${name} wd ${wd} ${path} leaf ${i}`)
            );
          }
        } finally {
          dispose([p0, grads]);
        }
      },
    ),
    12,
  );
});

leakFreeTest("adam cpu path: the inputs are left untouched and new tensors come back", () => {
  const p = keep({ w: tensor([1, -2, 3, 0.5, 7]) });
  const g = keep({ w: tensor([0.1, 0.2, -0.3, 0, 5]) });
  const opt = adam();
  const st = keep(opt.init(p));
  try {
    const u = keep(scope(() => opt.update(g, st, p, 0.1)));
    assert.notEqual(u.params.w, p.w);
    assert.deepEqual(Array.from(p.w.dataSync()), [1, -2, 3, 0.5, 7]);
    assert.deepEqual(Array.from(st.slots.exp_avg.w.dataSync()), [0, 0, 0, 0, 0]);
    assert.deepEqual(
      Array.from(g.w.dataSync()),
      Array.from(new Float32Array([0.1, 0.2, -0.3, 0, 5])),
    );
    assert.equal(u.state.step, 1);
    dispose([u.params, u.state.slots]);
  } finally {
    dispose([p, g, st.slots]);
  }
});

leakFreeTest("adam cpu path: a gradient through the update uses the tensor ops", () => {
  const opt = adam();
  const p = keep({ w: tensor([1, 2, 3]) });
  const st = keep(opt.init(p));
  try {
    // d/dg Σ p'(g): on the first step p' = p − lr·sign(g)-ish; any finite cotangent shows the
    // tape was recorded (the fast path records none and would make grad fail)
    const dg = scope(() =>
      keep(grad((g: Tensor) => sum(opt.update({ w: g }, st, p, 0.1).params.w))(tensor([1, 2, 3])))
    );
    assert.equal(dg.shape[0], 3);
    assert.ok(Array.from(dg.dataSync()).every(Number.isFinite));
    dg.dispose();
  } finally {
    dispose([p, st.slots]);
  }
});

const FIX = new URL("../tests/fixtures/", import.meta.url);
const load = (name: string): Record<string, HostTensor> =>
  readSafetensors(Deno.readFileSync(new URL(name, FIX))).tensors;
const f32 = (h: HostTensor): Float32Array =>
  h.data instanceof Float32Array ? h.data : Float32Array.from(h.data as Float64Array);

for (const path of ["simd", "js"] as const) {
  leakFreeTest(`adam cpu path (${path}): one step matches torch.optim.Adam's fixture`, () => {
    const params0 = load("tiny_c1_28.params.safetensors");
    const grads0 = load("tiny_c1_28.grads.safetensors");
    const after = load("tiny_c1_28.adam1.safetensors");
    const was = setAdamCpuPath(path);
    const treeOf = (sd: Record<string, HostTensor>): Tree =>
      Object.fromEntries(
        Object.entries(sd).map(([k, v]) => [k, tensor(f32(v), { shape: v.shape })]),
      );
    const { params, state } = keep(scope(() => {
      const p = treeOf(params0), g = treeOf(grads0);
      const opt = adam();
      return opt.update(g, opt.init(p), p, 0.01);
    }));
    setAdamCpuPath(was);
    try {
      for (const k of Object.keys(params0)) {
        const g = f32(grads0[k]);
        const got = params[k].dataSync();
        const want = f32(after[`param.${k}`]);
        for (let i = 0; i < got.length; i++) {
          const tol = Math.abs(g[i]) > 1e-6 ? 1e-4 : 2e-2;
          assert.ok(Math.abs(got[i] - want[i]) <= tol, `${k}[${i}]: ${got[i]} vs ${want[i]}`);
        }
        const m = state.slots.exp_avg[k].dataSync(), v = state.slots.exp_avg_sq[k].dataSync();
        assert.ok(relErr(m, f32(after[`exp_avg.${k}`])) < 1e-5, `exp_avg ${k}`);
        assert.ok(relErr(v, f32(after[`exp_avg_sq.${k}`])) < 1e-5, `exp_avg_sq ${k}`);
      }
    } finally {
      dispose([params, state.slots]);
    }
  });
}
