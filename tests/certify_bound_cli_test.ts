/**
 * End to end: `sll certify` on a ConvNet-CPL checkpoint whose power-iteration state is stale
 * divides its margins by the network's certified Lipschitz bound (> 1), so it certifies less than
 * the naive estimate (margins taken as 1-Lipschitz) would at a radius the naive one certifies,
 * and it prints the bound it used (table and JSON).
 */
import assert from "node:assert/strict";
import { makeCheckpoint, rewriteCheckpoint, SMALL_ARCH } from "./trust_helpers.ts";
import { sll } from "./cli_helpers.ts";
import { leakFreeTest } from "./helpers.ts";
import { loadModelFile } from "../train/load_model.ts";
import { loadDataset } from "../data/load.ts";
import { margins } from "../certify/margins.ts";
import { evaluate } from "../train/evaluate.ts";
import { dispose, scope, tensor } from "../tensor/mod.ts";

leakFreeTest(
  "certify CLI: a stale CPL state lowers the certified accuracy; the bound is printed",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "sll-bound-" });
    try {
      const path = await makeCheckpoint(dir, {
        ...SMALL_ARCH,
        kind: "convnet",
        layer: "cpl",
        size: "tiny",
      });
      // every CPL vector u → the constant unit vector: far from the top singular vector
      await rewriteCheckpoint(path, (tensors) => {
        for (const [k, t] of Object.entries(tensors)) {
          if (!k.endsWith(".u")) continue;
          const d = t.data as Float32Array;
          d.fill(1 / Math.sqrt(d.length));
        }
      });
      const n = 100;
      const { test } = await loadDataset("fashion-mnist", { limitTrain: 1, limitTest: n });
      const model = await loadModelFile(path);
      let eps255: number;
      let naive: number;
      try {
        // the naive certificate (margins as if 1-Lipschitz) at 0.9× its largest certified radius
        const logits = scope(() =>
          model.network.apply(
            model.params,
            tensor(test.images, {
              shape: [n, ...test.shape],
            }),
          )
        );
        const m = await margins(logits, null);
        logits.dispose();
        let best = 0;
        for (let i = 0; i < n; i++) {
          if (m.pred[i] === test.labels[i]) {
            best = Math.max(best, m.radius[i]);
          }
        }
        assert.ok(best > 0, "the naive estimate certifies something");
        eps255 = 0.9 * best * 255;
        const r = await evaluate(model.network.apply, model.params, test, { eps255: [eps255] });
        naive = Object.values(r.certified)[0];
        assert.ok(naive > 0);
      } finally {
        dispose(model.params);
      }
      const run = await sll([
        "certify",
        "--checkpoint",
        dir,
        "--limit-test",
        String(n),
        "--eps",
        String(eps255),
        "--backend",
        "cpu",
        "--offline",
        "--json",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const res = JSON.parse(run.stdout.trim()) as {
        certified: Record<string, number>;
        lipschitz: { bound: number; text: string };
      };
      assert.ok(res.lipschitz.bound > 1.2, JSON.stringify(res.lipschitz));
      assert.match(
        res.lipschitz.text,
        /cplConv power iteration ×\d+\.\d+ over \d+ layers\)$/,
      );
      const sound = Object.values(res.certified)[0];
      assert.ok(sound < naive, `certified ${sound} must be below the naive ${naive}`);
      assert.match(run.stderr, /Lipschitz bound \d+\.\d{4} \(cplConv power iteration/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
