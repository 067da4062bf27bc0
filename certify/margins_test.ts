// Units of certify/margins.ts that concern soundness on non-finite input (issue #9, defect 1): a
// row with a NaN or ±Infinity logit, or a non-finite last-layer weight, is neither correct nor
// certified, and its radius is 0, never Infinity.

import assert from "node:assert/strict";
import { leakFreeTest } from "../tests/helpers.ts";
import { tensor } from "../tensor/mod.ts";
import { certifiedAccuracy, margins } from "./margins.ts";

leakFreeTest("margins: a NaN or infinite logit row certifies nothing (radius 0)", async () => {
  const logits = tensor([
    [NaN, NaN, NaN],
    [1, NaN, 0],
    [Infinity, 0, 0],
    [-Infinity, 1, 0],
    [2, 0, 0],
  ]);
  const w = tensor([[1, 0], [0, 1], [1, 1]]);
  try {
    for (const weight of [w, null]) {
      const m = await margins(logits, weight);
      for (let i = 0; i < 4; i++) {
        assert.equal(m.radius[i], 0, `row ${i}: radius ${m.radius[i]}`);
        assert.equal(m.pred[i], -1, `row ${i}: no prediction from non-finite logits`);
      }
      assert.ok(m.radius[4] > 0 && Number.isFinite(m.radius[4]));
      const r = await certifiedAccuracy(logits, [0, 0, 0, 1, 0], weight, [0, 0.1]);
      assert.deepEqual([...r.correct], [0, 0, 0, 0, 1]);
      assert.deepEqual(r.certified, [0.2, 0.2]);
    }
  } finally {
    logits.dispose();
    w.dispose();
  }
});

leakFreeTest("margins: a non-finite last-layer weight certifies nothing", async () => {
  const logits = tensor([[2, 0], [0, 3]]);
  const w = tensor([[NaN, 0], [0, 1]]);
  try {
    const r = await certifiedAccuracy(logits, [0, 1], w, [0]);
    assert.deepEqual([...r.margins.radius], [0, 0]);
    assert.deepEqual(r.certified, [0]);
  } finally {
    logits.dispose();
    w.dispose();
  }
});

leakFreeTest("margins: a non-finite or non-positive lipschitz constant is refused", async () => {
  const logits = tensor([[2, 0]]);
  try {
    for (const lipschitz of [NaN, Infinity, 0, -1]) {
      await assert.rejects(margins(logits, null, { lipschitz }), RangeError);
    }
  } finally {
    logits.dispose();
  }
});
