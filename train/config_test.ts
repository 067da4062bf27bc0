/**
 * Unit tests of train/config.ts: the configuration's radii are `eps255` (units of 1/255), and a
 * configuration written before the rename (key `eps`, as in older checkpoints) still parses.
 */
import assert from "node:assert/strict";
import { DEFAULT_CONFIG, parseTrainConfig, TrainConfigSchema } from "./config.ts";

Deno.test("config: the old key eps (units of 1/255) is read as eps255", () => {
  const { eps255: _, ...rest } = structuredClone(DEFAULT_CONFIG);
  const legacy = { ...rest, eps: [36, 72] };
  const cfg = parseTrainConfig(legacy);
  assert.deepEqual(cfg.eps255, [36, 72]);
  assert.equal("eps" in cfg, false);
  // the checkpoint reader uses the schema directly
  assert.deepEqual(TrainConfigSchema.parse(legacy).eps255, [36, 72]);
  // a configuration with both keys keeps eps255
  assert.deepEqual(parseTrainConfig({ ...legacy, eps255: [9] }).eps255, [9]);
  assert.deepEqual(parseTrainConfig(structuredClone(DEFAULT_CONFIG)).eps255, [36, 72, 108, 255]);
});
