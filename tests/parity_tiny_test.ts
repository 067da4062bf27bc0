/**
 * Parity with PyTorch on the reference architecture (tests/fixtures, `tiny_c1_28`): logits,
 * per-layer activations, ReLU inputs, t vectors, the xent loss and every parameter gradient, in
 * float32 and float64 (CPU), for both q modes; plus loading the reference's .pth checkpoint.
 */
import { FIXTURE_NETWORK, leakFreeTest } from "./helpers.ts";
import assert from "node:assert/strict";
import { readPth, readSafetensors } from "../io/mod.ts";
import type { HostTensor } from "../io/mod.ts";
import {
  lipschitzNetwork,
  type NetworkConfig,
  type Params,
  type SllConvParams,
  sllConvT,
  type SllDenseParams,
  sllDenseT,
} from "../layers/mod.ts";
import { offsetCrossEntropy } from "../train/losses.ts";
import { scope } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { add, conv2d, matmul, sub, swapLast, tensor } from "../tensor/ops.ts";
import { valueAndGrad } from "../autodiff/autodiff.ts";
import type { DType } from "../kernels/dtype.ts";

const dir = new URL("./fixtures/", import.meta.url);
const read = async (name: string): Promise<Record<string, HostTensor>> =>
  readSafetensors(await Deno.readFile(new URL(name, dir))).tensors;
const io = await read("tiny_c1_28.io.safetensors");
const fixtureParams = await read("tiny_c1_28.params.safetensors");
const fixtureGrads = await read("tiny_c1_28.grads.safetensors");

const config: NetworkConfig = FIXTURE_NETWORK;
const xent = { offset: Math.SQRT2 * 3 / 2, temperature: 0.25 };

/** ‖a − b‖ / ‖b‖ (norm-wise relative error). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let n = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    n += (a[i] - b[i]) ** 2;
    d += b[i] ** 2;
  }
  return Math.sqrt(n / d);
}

function close(name: string, got: Tensor, want: HostTensor, rtol: number): void {
  // Scalars (the loss) are stored as [1] in the fixtures.
  assert.deepEqual(got.rank === 0 ? [1] : [...got.shape], want.shape, name);
  const e = relErr(got.dataSync(), want.data as ArrayLike<number>);
  assert.ok(e < rtol, `${name}: relative error ${e} ≥ ${rtol}`);
}

function input(dtype: DType): [Tensor, Tensor] {
  const x = tensor(io.input.data as Float32Array, { shape: io.input.shape, dtype });
  const labels = tensor(Array.from(io.labels.data as BigInt64Array, Number), { dtype: "int32" });
  return [x, labels];
}

leakFreeTest(
  "parity: logits, activations, ReLU inputs, t and loss (float32, reference q)",
  () => {
    scope(() => {
      const net = lipschitzNetwork(config);
      const p = net.fromStateDict(fixtureParams);
      const [x, labels] = input("float32");
      let h = sub(x, tensor([0.1307], { shape: [1, 1, 1, 1] }));
      close("input_normalized", h, io.input_normalized, 1e-6);
      net.layers.forEach((layer, i) => {
        if (i === 1 || i === 2) {
          const k = p[i] as unknown as SllConvParams;
          close(
            `preact.${i}`,
            add(conv2d(h, k.kernel, { padding: 1 }), k.bias),
            io[`preact.${i}`],
            1e-5,
          );
          close(`t.${i}`, sllConvT(k, "reference"), io[`t.${i}`], 1e-5);
          close(`t_paper.${i}`, sllConvT(k, "paper"), io[`t_paper.${i}`], 1e-5);
        }
        if (i === 5 || i === 6) {
          const d = p[i] as unknown as SllDenseParams;
          close(`preact.${i}`, add(matmul(h, swapLast(d.weight)), d.bias), io[`preact.${i}`], 1e-5);
          close(`t.${i}`, sllDenseT(d), io[`t.${i}`], 1e-5);
        }
        h = layer.apply(p[i], h);
        close(`act.${i}`, h, io[`act.${i}`], 1e-5);
      });
      const logits = net.apply(p, x);
      close("logits", logits, io.logits, 1e-5);
      close("loss", offsetCrossEntropy(logits, labels, xent), io.loss, 1e-6);
    });
  },
);

function checkGrads(grads: Record<string, Tensor>, rtol: number): void {
  assert.deepEqual(Object.keys(grads).sort(), Object.keys(fixtureGrads).sort());
  for (const [k, want] of Object.entries(fixtureGrads)) {
    const g = grads[k];
    assert.deepEqual([...g.shape], want.shape, k);
    if (k.endsWith(".q") && (k.includes(".1.") || k.includes(".2."))) {
      // q cancels in the reference conv t: its gradient is exactly 0.
      assert.ok(g.dataSync().every((v) => v === 0), `${k}: expected exact zeros`);
      continue;
    }
    const e = relErr(g.dataSync(), want.data as Float32Array);
    assert.ok(e < rtol, `d loss / d ${k}: relative error ${e} ≥ ${rtol}`);
  }
}

for (const dtype of ["float32", "float64"] as const) {
  leakFreeTest(
    `parity: every parameter gradient (${dtype}, reference q)`,
    () => {
      scope(() => {
        const net = lipschitzNetwork(config);
        const p = net.fromStateDict(fixtureParams, { dtype });
        const [x, labels] = input(dtype);
        const [loss, g] = valueAndGrad((q: Params[]) =>
          offsetCrossEntropy(net.apply(q, x), labels, xent)
        )(p);
        if (dtype === "float64") {
          close("ref64.loss", loss, io["ref64.loss"], 1e-12);
          close("ref64.logits", net.apply(p, x), io["ref64.logits"], 1e-12);
        }
        // The fixture gradients are float32 PyTorch values (|f32 − f64| ≲ 1e-6 norm-wise).
        checkGrads(net.toStateDict(g), 1e-5);
      });
    },
  );
}

leakFreeTest(
  "parity: paper q mode (t_paper, paperq.logits, paperq.loss)",
  () => {
    scope(() => {
      const net = lipschitzNetwork({ ...config, qMode: "paper" });
      const p = net.fromStateDict(fixtureParams);
      const [x, labels] = input("float32");
      const logits = net.apply(p, x);
      close("paperq.logits", logits, io["paperq.logits"], 1e-5);
      close("paperq.loss", offsetCrossEntropy(logits, labels, xent), io["paperq.loss"], 1e-6);
      // q now matters for the conv layers: its gradient is nonzero.
      const [, g] = valueAndGrad((q: Params[]) =>
        offsetCrossEntropy(net.apply(q, x), labels, xent)
      )(p);
      const gq = net.toStateDict(g)["module.model.model.1.q"].dataSync();
      assert.ok(gq.some((v) => v !== 0), "paper-mode conv q gradient is nonzero");
    });
  },
);

leakFreeTest(
  "checkpoint: the reference .pth loads onto lipschitzNetwork params",
  async () => {
    const ckpt = readPth(await Deno.readFile(new URL("tiny_c1_28.ckpt.pth", dir)));
    assert.equal(ckpt.epoch, 0);
    assert.equal(ckpt.globalStep, 0);
    scope(() => {
      const net = lipschitzNetwork(config);
      const p = net.fromStateDict(ckpt.stateDict);
      const [x] = input("float32");
      close("logits from .pth", net.apply(p, x), io.logits, 1e-5);
      // toStateDict gives back the reference keys with the same values.
      const sd = net.toStateDict(p);
      assert.deepEqual(Object.keys(sd).sort(), Object.keys(ckpt.stateDict).sort());
      for (const [k, t] of Object.entries(sd)) {
        assert.deepEqual(
          Array.from(t.dataSync()),
          Array.from(ckpt.stateDict[k].data as Float32Array),
          k,
        );
      }
    });
  },
);

leakFreeTest(
  "checkpoint: a wrong architecture is rejected with the differences listed",
  async () => {
    const { stateDict } = readPth(await Deno.readFile(new URL("tiny_c1_28.ckpt.pth", dir)));
    const wrong = lipschitzNetwork({ ...config, nConv: 3, width: 16 });
    assert.throws(() => wrong.fromStateDict(stateDict), (e: Error) => {
      assert.ok(e instanceof TypeError);
      assert.match(e.message, /missing keys: .*module\.model\.model\.3\.kernel \[5,16,3,3\]/);
      assert.match(e.message, /unexpected keys: .*module\.model\.model\.5\.weight \[32,392\]/);
      assert.match(e.message, /module\.model\.model\.7\.bias: expected \[1,32\], got \[10\]/);
      assert.match(
        e.message,
        /shape mismatches: .*module\.model\.model\.1\.kernel: expected \[5,16,3,3\], got \[5,8,3,3\]/,
      );
      return true;
    });
    const net = lipschitzNetwork(config);
    const partial = { ...stateDict };
    delete partial["module.model.model.5.q"];
    partial["module.model.model.5.alpha"] = stateDict["module.model.model.5.q"]; // ignored
    partial["extra.weight"] = stateDict["module.model.model.5.q"];
    assert.throws(
      () => net.fromStateDict(partial),
      /missing keys: module\.model\.model\.5\.q \[32\]\n\s+unexpected keys: extra\.weight \[32\]/,
    );
  },
);
