/**
 * `sll lipschitz --checkpoint …`: per-layer estimates of the Lipschitz constant of every layer of a
 * checkpoint's network — the power method (Jacobian at probe points) beside the gradient search
 * (best pair ratio) — as a table like the reference's compute_lip.py, and the network's certified
 * bound (certify's `certifiedLipschitzBound`) that its certificates divide by.
 * @module
 */
import { lipschitzReport } from "../certify/lipschitz.ts";
import { certifiedLipschitzBound } from "../certify/bound.ts";
import { dispose } from "../tensor/mod.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import { ARCH_FLAGS, loadModel, PTH_DEFAULT_DATASET, RUN_FLAGS, selectBackend } from "./common.ts";
import { configFlag } from "./config_flags.ts";

/** Flags of `sll lipschitz`. */
export const LIPSCHITZ_FLAGS: readonly FlagSpec[] = [
  {
    name: "checkpoint",
    kind: "string",
    help: "checkpoint file (.safetensors or .pth) or train dir",
  },
  configFlag("dataset", {
    help: "dataset of a .pth checkpoint (input shape)",
    defaultText: `the checkpoint's; ${PTH_DEFAULT_DATASET} for a .pth`,
  }),
  { name: "iterations", kind: "posint", help: "power iterations per layer", defaultText: "30" },
  {
    name: "conv-size",
    kind: "posint",
    help: "spatial size of conv inputs (default: the network's)",
  },
  ...ARCH_FLAGS,
  ...RUN_FLAGS,
];

/** Runs `sll lipschitz`; returns the exit code. */
export async function lipschitzCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("lipschitz", argv, LIPSCHITZ_FLAGS);
  if (values.help) {
    console.log(helpText("lipschitz", "per-layer Lipschitz estimates", LIPSCHITZ_FLAGS));
    return 0;
  }
  if (values.checkpoint === undefined) {
    throw new UsageError("lipschitz needs --checkpoint <file or train dir>");
  }
  console.error(await selectBackend((values.backend as string | undefined) ?? "auto"));
  const model = await loadModel(values.checkpoint as string, values);
  try {
    const rows = await lipschitzReport(model.network, model.params, {
      iterations: (values.iterations as number | undefined) ?? 30,
      convSize: values["conv-size"] as number | undefined,
    });
    const bad = rows.find((r) => !Number.isFinite(r.estimate));
    if (bad) {
      // A NaN bound proves nothing: never print it as a result with exit 0.
      throw new Error(
        `${model.path}: the Lipschitz estimate of layer ${bad.name} is ${bad.estimate}; its ` +
          `parameters overflow float32 arithmetic, so the model has no usable bound`,
      );
    }
    // the proof beside the estimates: the bound every certificate of this model divides by
    const cert = await certifiedLipschitzBound(
      model.network,
      model.params,
      model.network.config.inputShape,
    );
    const bound = Number.isFinite(cert.bound) ? cert.bound : null;
    if (values.json) {
      console.log(JSON.stringify({
        checkpoint: model.path,
        layers: rows,
        lipschitz: { bound, text: cert.text },
      }));
      return 0;
    }
    const w = Math.max(5, ...rows.map((r) => r.name.length));
    console.log(
      `${"layer".padEnd(w)}  ${"input".padEnd(14)}  power method  gradient search  parameters`,
    );
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(w)}  ${`[${r.inputShape.join(", ")}]`.padEnd(14)}  ${
          r.estimate.toFixed(6).padStart(12)
        }  ${r.search.toFixed(6).padStart(15)}  ${r.params}`,
      );
    }
    const worst = Math.max(...rows.flatMap((r) => [r.estimate, r.search]));
    console.log(
      `max over layers: ${
        worst.toFixed(6)
      } (lower bounds of each layer's constant; ≤ 1 up to rounding for 1-Lipschitz layers)`,
    );
    console.log(`certified network bound (what certificates divide by): ${cert.text}`);
    return 0;
  } finally {
    dispose(model.params);
  }
}
