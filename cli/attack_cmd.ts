/**
 * `sll attack --checkpoint …`: the reference's PGD L2 evaluation (100 steps of 2ε/100, random
 * start, inputs clipped to [0, 1]) reporting clean and robust accuracy, next to certified
 * accuracy at the same ε (robust accuracy can never be below it for a sound certificate).
 * @module
 */
import { batches } from "../data/mod.ts";
import { pgdL2 } from "../certify/pgd.ts";
import { certifiedAccuracy } from "../certify/margins.ts";
import { certifiedLipschitzBound } from "../certify/bound.ts";
import { dispose, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { randomKey } from "../tensor/random.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import {
  ARCH_FLAGS,
  DATA_FLAGS,
  DISTRIBUTED_FLAG,
  loadModel,
  loadTest,
  RUN_FLAGS,
  selectBackend,
  startDistributed,
} from "./common.ts";
import { ProgressBar } from "./progress.ts";
import { configFlag } from "./config_flags.ts";

/** Flags of `sll attack`. */
export const ATTACK_FLAGS: readonly FlagSpec[] = [
  {
    name: "checkpoint",
    kind: "string",
    help: "checkpoint file (.safetensors or .pth) or train dir",
  },
  ...DATA_FLAGS,
  configFlag("eps", { help: "attack radii in units of 1/255", defaultText: "36" }),
  { name: "steps", kind: "posint", help: "PGD steps (step size 2ε/steps)", defaultText: "100" },
  { name: "batch-size", kind: "posint", help: "images per attacked batch", defaultText: "250" },
  configFlag("seed", { help: "seed of the random start" }),
  ...ARCH_FLAGS,
  { name: "quiet", kind: "bool", help: "no progress bar" },
  DISTRIBUTED_FLAG,
  ...RUN_FLAGS,
];

/** Result of one radius. */
export interface AttackResult {
  /** ε in units of 1/255. */
  eps255: number;
  /** Clean accuracy. */
  accuracy: number;
  /** Accuracy on PGD adversarial inputs. */
  robust: number;
  /** Certified accuracy at ε (a lower bound of `robust`). */
  certified: number;
}

/** Runs `sll attack`; returns the exit code. */
export async function attackCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("attack", argv, ATTACK_FLAGS);
  if (values.help) {
    console.log(helpText("attack", "PGD L2 clean and robust accuracy", ATTACK_FLAGS));
    return 0;
  }
  if (values.checkpoint === undefined) {
    throw new UsageError("attack needs --checkpoint <file or train dir>");
  }
  const world = startDistributed(values);
  const t0 = performance.now();
  console.error(await selectBackend((values.backend as string | undefined) ?? "auto"));
  const model = await loadModel(values.checkpoint as string, values);
  const bar = new ProgressBar({ enabled: !values.quiet && world.isRoot });
  try {
    const { test } = await loadTest(model.dataset, values);
    const epsList = (values.eps as number[] | undefined) ?? [36];
    const steps = (values.steps as number | undefined) ?? 100;
    const batchSize = (values["batch-size"] as number | undefined) ?? 250;
    const key = randomKey((values.seed as number | undefined) ?? 0);
    const forward = (x: Tensor): Tensor => model.network.apply(model.params, x);
    const lastWeight = model.network.lastWeight(model.params);
    // the network's certified Lipschitz bound, once: every certificate divides by it
    const bound = await certifiedLipschitzBound(model.network, model.params, test.shape);
    const lipschitz = Number.isFinite(bound.bound) ? bound.bound : null; // null: certify nothing
    const results: AttackResult[] = [];
    for (const e of epsList) {
      let clean = 0, robust = 0, cert = 0, done = 0;
      for (const b of batches(test, { batchSize })) {
        // several ranks: batch i (of the one-process batching) is rank i mod N's
        if (b.index % world.size !== world.rank) continue;
        const x = tensor(b.x, { shape: b.shape });
        const y = tensor(b.y, { shape: [b.size], dtype: "int32" });
        try {
          const logits = scope(() => forward(x));
          const c = await certifiedAccuracy(logits, b.y, lastWeight, lipschitz ? [e / 255] : [], {
            lipschitz: lipschitz ?? 1,
          });
          logits.dispose();
          const xAdv = pgdL2(forward, x, y, { eps: e / 255, steps, key });
          const advLogits = scope(() => forward(xAdv));
          xAdv.dispose();
          const adv = await certifiedAccuracy(advLogits, b.y, null, []);
          advLogits.dispose();
          clean += Math.round(c.accuracy * b.size);
          cert += Math.round((c.certified[0] ?? 0) * b.size);
          robust += Math.round(adv.accuracy * b.size);
        } finally {
          dispose([x, y]);
        }
        done += b.size;
        const all = Math.min(test.n, done * world.size); // rank 0's share × N
        bar.update(
          all / test.n,
          `ε ${e}/255: ${all}/${test.n} images, robust ${(robust / done * 100).toFixed(1)}%`,
        );
      }
      const counts = Float64Array.from([clean, robust, cert]);
      world.allReduce(counts, "sum");
      [clean, robust, cert] = counts;
      const n = test.n || 1;
      results.push({ eps255: e, accuracy: clean / n, robust: robust / n, certified: cert / n });
    }
    bar.clear();
    const seconds = (performance.now() - t0) / 1000;
    // the result on stdout: the lines, or with --json only the JSON line (the lines on stderr)
    const out = values.json ? console.error : console.log;
    out(`${model.path} on ${model.dataset} (${test.n} images, PGD L2 ${steps} steps):`);
    out(`  Lipschitz bound ${bound.text}`);
    for (const r of results) {
      out(
        `  ε=${r.eps255}/255: clean ${(r.accuracy * 100).toFixed(2)}%, robust ${
          (r.robust * 100).toFixed(2)
        }%, certified ${(r.certified * 100).toFixed(2)}%`,
      );
    }
    if (values.json) {
      console.log(
        JSON.stringify({
          n: test.n,
          steps,
          results,
          lipschitz: { bound: lipschitz, text: bound.text },
          seconds: Math.round(seconds * 1000) / 1000,
        }),
      );
    }
    return 0;
  } finally {
    dispose(model.params);
  }
}
