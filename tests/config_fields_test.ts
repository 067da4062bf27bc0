/**
 * Every config field is read by the code that should use it: a recording proxy over the config
 * of a tiny training run (real data loading included) notes each field the loop and what it
 * calls read. Reads by JSON.stringify (config.json, checkpoint metadata) and by zod (validation)
 * only copy or check a field and do not count. A field nobody reads fails, naming it.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEBIAN_FASHION_MNIST_DIR } from "../data/mod.ts";
import { dispose } from "../tensor/mod.ts";
import { configSettings, DEFAULT_CONFIG, parseTrainConfig } from "../train/config.ts";
import { train } from "../train/loop.ts";
import { leakFreeTest } from "./helpers.ts";

/** A proxy over `obj` that adds "a.b" to `seen` for each use of field b of a. */
function recording<T extends object>(obj: T, seen: Set<string>, prefix = ""): T {
  return new Proxy(obj, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== "string") return v;
      const path = prefix + key;
      const stack = new Error().stack ?? "";
      const copying = stack.includes("JSON.stringify") || stack.includes("/zod/");
      if (!copying) seen.add(path);
      if (v && typeof v === "object" && !Array.isArray(v)) {
        return recording(v as object, seen, path + ".");
      }
      return v;
    },
  });
}

leakFreeTest("config: every field of the schema is read by a training run", async () => {
  const root = await Deno.makeTempDir();
  try {
    const config = parseTrainConfig({
      ...structuredClone(DEFAULT_CONFIG),
      dataDir: DEBIAN_FASHION_MNIST_DIR,
      trainDir: join(root, "run"),
      arch: { nConv: 1, nDense: 1, width: 2, convInnerDim: 2, denseInnerDim: 8, qMode: "paper" },
      epochs: 1,
      batchSize: 32,
      limitTrain: 64,
      limitTest: 32,
      evalBatchSize: 32,
    });
    const seen = new Set<string>();
    const r = await train(recording(config, seen), {});
    dispose(r.params);
    const fields = configSettings().map((s) => s.path.join("."));
    const unread = fields.filter((f) => !seen.has(f));
    assert.deepEqual(unread, [], `config fields nothing reads: ${unread.join(", ")}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
