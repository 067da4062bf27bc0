/**
 * `leakCheck` warns, naming the growth, exactly when live tensors grow from step to step.
 */
import assert from "node:assert/strict";
import { dispose, keep, memory, scope } from "../tensor/scope.ts";
import { add, tensor, zeros } from "../tensor/ops.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { leakCheck } from "./leak_check.ts";

Deno.test("leakCheck: a flat loop is silent, a leaking one is named with its growth", () => {
  const before = memory().tensors;
  const messages: string[] = [];
  const warn = (m: string): void => void messages.push(m);

  // a correct loop: the new state is kept, the old one disposed
  let state: Tensor = keep(zeros([4]));
  const flat = leakCheck({ warn });
  for (let i = 0; i < 4; i++) {
    const next = keep(scope(() => add(state, 1)));
    dispose(state);
    state = next;
    assert.equal(flat.step(), 0);
  }
  assert.deepEqual(messages, []);

  // a leaking loop: two float32 [4] tensors kept per step and never freed
  const leaked: Tensor[] = [];
  const leaky = leakCheck({ warn, label: "train" });
  for (let i = 0; i < 3; i++) {
    scope(() => leaked.push(keep(tensor([1, 2, 3, i])), keep(tensor([0, 0, 0, i]))));
    const grew = leaky.step();
    assert.equal(grew, i === 0 ? 0 : 2);
  }
  assert.equal(messages.length, 2);
  assert.match(
    messages[0],
    /^train: live tensors grew by 2 \(\d+ → \d+, \+32 bytes\) between step 1 and step 2; dispose/,
  );
  assert.match(messages[1], /between step 2 and step 3/);

  // tolerance lets a known per-step growth through
  const tolerant = leakCheck({ warn, tolerance: 1 });
  tolerant.step();
  scope(() => leaked.push(keep(tensor([5]))));
  assert.equal(tolerant.step(), 1);
  assert.equal(messages.length, 2);

  dispose([state, leaked]);
  assert.equal(memory().tensors, before, "live tensors back to baseline");
});
