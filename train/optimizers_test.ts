/**
 * Optimizers, schedules and clipping: Adam against the PyTorch fixture (one step from the
 * fixture's gradients, and one step through our own network's gradients), SGD/AdamW formulas,
 * the reference's interp schedule breakpoints, clipping as torch.nn.utils does it.
 * @module
 */
import assert from "node:assert/strict";
import { readSafetensors } from "../io/safetensors.ts";
import type { HostTensor } from "../io/host_tensor.ts";
import { lipschitzNetwork } from "../layers/network.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import { dispose, keep, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { offsetCrossEntropy } from "./losses.ts";
import { adam, adamw, sgd } from "./optimizers.ts";
import {
  cosineSchedule,
  interpSchedule,
  makeSchedule,
  multistepSchedule,
  withWarmup,
} from "./schedules.ts";
import { clipByGlobalNorm, clipByValue } from "./clip.ts";
import { assertClose, FIXTURE_NETWORK, leakFreeTest, relErr } from "../tests/helpers.ts";

const FIX = new URL("../tests/fixtures/", import.meta.url);
const load = (name: string): Record<string, HostTensor> =>
  readSafetensors(Deno.readFileSync(new URL(name, FIX))).tensors;
const f32 = (h: HostTensor): Float32Array =>
  h.data instanceof Float32Array ? h.data : Float32Array.from(h.data as Float64Array);
const toT = (h: HostTensor): Tensor => tensor(f32(h), { shape: h.shape });

function treeOf(sd: Record<string, HostTensor>): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, toT(v)]));
}

leakFreeTest("adam: one step from the fixture gradients matches torch.optim.Adam", async () => {
  const params0 = load("tiny_c1_28.params.safetensors");
  const grads0 = load("tiny_c1_28.grads.safetensors");
  const after = load("tiny_c1_28.adam1.safetensors");
  const { params, state } = scope(() => {
    const p = treeOf(params0), g = treeOf(grads0);
    const opt = adam();
    return opt.update(g, opt.init(p), p, 0.01);
  });
  try {
    assert.equal(state.step, 1);
    for (const k of Object.keys(params0)) {
      const g = f32(grads0[k]);
      const got = await params[k].data();
      const want = f32(after[`param.${k}`]);
      for (let i = 0; i < got.length; i++) {
        const tol = Math.abs(g[i]) > 1e-6 ? 1e-4 : 2e-2;
        assert.ok(Math.abs(got[i] - want[i]) <= tol, `${k}[${i}]: ${got[i]} vs ${want[i]}`);
      }
      const m = await state.slots.exp_avg[k].data();
      const v = await state.slots.exp_avg_sq[k].data();
      assert.ok(relErr(m, f32(after[`exp_avg.${k}`])) < 1e-5, `exp_avg ${k}`);
      assert.ok(relErr(v, f32(after[`exp_avg_sq.${k}`])) < 1e-5, `exp_avg_sq ${k}`);
    }
  } finally {
    dispose([params, state.slots]);
  }
});

leakFreeTest("adam: one step through our network's gradients matches the fixture", async () => {
  const params0 = load("tiny_c1_28.params.safetensors");
  const io = load("tiny_c1_28.io.safetensors");
  const after = load("tiny_c1_28.adam1.safetensors");
  const net = lipschitzNetwork(FIXTURE_NETWORK);
  const labels = Array.from(io.labels.data as BigInt64Array, Number);
  const out = scope(() => {
    const p = net.fromStateDict(params0);
    const x = toT(io.input);
    const y = tensor(labels, { dtype: "int32" });
    const [, g] = valueAndGrad((q: typeof p) => offsetCrossEntropy(net.apply(q, x), y))(p);
    const opt = adam();
    const u = opt.update(g, opt.init(p), p, 0.01);
    return { sd: net.toStateDict(u.params), grads: net.toStateDict(g) };
  });
  try {
    for (const k of Object.keys(params0)) {
      if (/\.(1|2)\.q$/.test(k)) continue; // conv q: gradient exactly 0 here, noise in torch
      const g = await out.grads[k].data();
      const got = await out.sd[k].data();
      const want = f32(after[`param.${k}`]);
      for (let i = 0; i < got.length; i++) {
        const tol = Math.abs(g[i]) > 1e-6 ? 1e-4 : 2e-2;
        assert.ok(Math.abs(got[i] - want[i]) <= tol, `${k}[${i}]: ${got[i]} vs ${want[i]}`);
      }
    }
  } finally {
    dispose(out);
  }
});

leakFreeTest("sgd: momentum and nesterov follow torch.optim.SGD", async () => {
  for (const nesterov of [false, true]) {
    const opt = sgd({ momentum: 0.9, nesterov, weightDecay: 0.1 });
    let p = keep({ w: tensor([1, -2]) });
    let s = keep(opt.init(p));
    const g = keep({ w: tensor([0.5, 0.25]) });
    // host reference
    const pw = [1, -2], buf = [0, 0];
    for (let t = 0; t < 3; t++) {
      const next = scope(() => opt.update(g, s, p, 0.1));
      dispose([p, s.slots]);
      p = keep(next.params);
      s = { step: next.state.step, slots: keep(next.state.slots) };
      for (let i = 0; i < 2; i++) {
        const gi = [0.5, 0.25][i] + 0.1 * pw[i];
        buf[i] = t === 0 ? gi : 0.9 * buf[i] + gi;
        pw[i] -= 0.1 * (nesterov ? gi + 0.9 * buf[i] : buf[i]);
      }
    }
    assertClose(await p.w.data(), pw, { rtol: 1e-6, what: `sgd nesterov=${nesterov}` });
    dispose([p, s.slots, g]);
  }
});

leakFreeTest("adamw: decoupled weight decay shrinks params before the Adam step", async () => {
  const opt = adamw({ weightDecay: 0.5 });
  const r = scope(() => {
    const p = { w: tensor([2]) };
    return opt.update({ w: tensor([0]) }, opt.init(p), p, 0.1);
  });
  assertClose(await r.params.w.data(), [2 * (1 - 0.1 * 0.5)], { what: "adamw" });
  dispose([r.params, r.state.slots]);
});

Deno.test("interp schedule: the reference's np.interp breakpoints", () => {
  const s = interpSchedule(0.01, 103); // breakpoints ⌊2N/5⌋ = 41, ⌊4N/5⌋ = 82
  assert.equal(s(0), 0);
  assert.ok(Math.abs(s(41) - 0.01) < 1e-15);
  assert.ok(Math.abs(s(82) - 0.0005) < 1e-15);
  assert.equal(s(103), 0);
  assert.equal(s(500), 0);
  assert.ok(Math.abs(s(20) - 0.01 * 20 / 41) < 1e-15);
  assert.ok(Math.abs(s(92) - (0.0005 - 0.0005 * 10 / 21)) < 1e-15);
});

Deno.test("cosine, multistep and warmup schedules", () => {
  assert.ok(Math.abs(cosineSchedule(0.1, 10)(5) - 0.05) < 1e-12);
  assert.equal(cosineSchedule(0.1, 10)(0), 0.1);
  const m = multistepSchedule(1, [2, 4], 0.5);
  assert.deepEqual([0, 1, 2, 3, 4, 9].map(m), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  const w = withWarmup(() => 1, 4);
  assert.deepEqual([0, 1, 2, 3, 4].map(w), [0.25, 0.5, 0.75, 1, 1]);
  const d = makeSchedule({ name: "multistep", lr: 1, totalSteps: 100, stepsPerEpoch: 10 });
  assert.equal(d(9), 1);
  assert.ok(Math.abs(d(10) - 0.1) < 1e-12);
});

leakFreeTest("clipping: global norm as clip_grad_norm_, value as clip_grad_value_", async () => {
  const r = scope(() => {
    const g = { a: tensor([3]), b: [tensor([4])] };
    return { n: clipByGlobalNorm(g, 1), v: clipByValue(g, 3.5), keep: clipByGlobalNorm(g, 10) };
  });
  assertClose(await r.n.a.data(), [3 / (5 + 1e-6)], { what: "norm a" });
  assertClose(await r.n.b[0].data(), [4 / (5 + 1e-6)], { what: "norm b" });
  assertClose(await r.v.b[0].data(), [3.5], { what: "value" });
  assertClose(await r.keep.a.data(), [3], { what: "below max" });
  dispose(r);
});
