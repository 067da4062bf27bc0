/**
 * `sll certify --checkpoint <file|dir>`: natural and certified accuracy of a checkpoint (ours,
 * architecture from its metadata; or the reference's `.pth`, architecture from the flags) on the
 * test set: the table on stdout or, with `--json`, one JSON line on stdout (the table on stderr).
 * @module
 */
import { dispose } from "../tensor/mod.ts";
import { DEFAULT_CONFIG } from "../train/config.ts";
import { configFlag } from "./config_flags.ts";
import { evaluate } from "../train/evaluate.ts";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import {
  accuracyTable,
  ARCH_FLAGS,
  DATA_FLAGS,
  DISTRIBUTED_FLAG,
  loadModel,
  loadTest,
  resultJson,
  RUN_FLAGS,
  selectBackend,
  startDistributed,
} from "./common.ts";

/** Flags of `sll certify`. */
export const CERTIFY_FLAGS: readonly FlagSpec[] = [
  {
    name: "checkpoint",
    kind: "string",
    help: "checkpoint file (.safetensors or .pth) or train dir",
  },
  ...DATA_FLAGS,
  configFlag("eps"),
  configFlag("eval-batch-size", { name: "batch-size" }),
  ...ARCH_FLAGS,
  DISTRIBUTED_FLAG,
  ...RUN_FLAGS,
];

/** Runs `sll certify`; returns the exit code. */
export async function certifyCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseFlags("certify", argv, CERTIFY_FLAGS);
  if (values.help) {
    console.log(helpText("certify", "certified accuracy of a checkpoint", CERTIFY_FLAGS));
    return 0;
  }
  if (values.checkpoint === undefined) {
    throw new UsageError("certify needs --checkpoint <file or train dir>");
  }
  const world = startDistributed(values);
  const t0 = performance.now();
  console.error(await selectBackend((values.backend as string | undefined) ?? "auto"));
  const model = await loadModel(values.checkpoint as string, values);
  try {
    const { test } = await loadTest(model.dataset, values);
    const r = await evaluate(model.network.apply, model.params, test, {
      prepare: model.network.prepare,
      eps255: (values.eps as number[] | undefined) ?? DEFAULT_CONFIG.eps255,
      batchSize: (values["batch-size"] as number | undefined) ?? DEFAULT_CONFIG.evalBatchSize,
      lastWeight: model.network.lastWeight(model.params),
      network: model.network, // its certified Lipschitz bound, once, divides every margin
      world, // with several ranks: the batches are split and the counts summed
    });
    const seconds = (performance.now() - t0) / 1000;
    // the result on stdout: the table, or with --json only the JSON line (the table on stderr)
    const table = `${model.path} on ${model.dataset}:\n${accuracyTable(r)}`;
    if (values.json) {
      console.error(table);
      console.log(resultJson(r, seconds));
    } else console.log(table);
    return 0;
  } finally {
    dispose(model.params);
  }
}
