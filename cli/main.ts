/**
 * The `sll` command line: `train`, `certify`, `attack`, `lipschitz`, `reproduce`, `plot`,
 * `export`.
 * The only module that ends the process: usage mistakes exit 2 with one line naming the flag,
 * runtime errors exit 1 with one line naming the file and the fix, Ctrl-C during training
 * exits 130 after saving a checkpoint.
 * @module
 */
import { UsageError } from "./args.ts";
import { trainCommand } from "./train_cmd.ts";
import { certifyCommand } from "./certify_cmd.ts";
import { attackCommand } from "./attack_cmd.ts";
import { lipschitzCommand } from "./lipschitz_cmd.ts";
import { reproduceCommand } from "./reproduce_cmd.ts";
import { plotCommand } from "./plot_cmd.ts";
import { exportCommand } from "./export_cmd.ts";
import { compareCommand } from "./compare_cmd.ts";
import { abortWorld, endWorld } from "../distributed/world.ts";

/** Subcommands by name, each returning its exit code. */
export const COMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  train: trainCommand,
  certify: certifyCommand,
  attack: attackCommand,
  lipschitz: lipschitzCommand,
  reproduce: reproduceCommand,
  plot: plotCommand,
  export: exportCommand,
  compare: compareCommand,
};

const USAGE = `usage: sll <command> [--flags]   (deno task <command> …)

  train       train an SLL network (defaults: Fashion-MNIST, CPU-sized, reference recipe)
  certify     natural and certified accuracy of a checkpoint (ours or the reference's .pth)
  attack      PGD L2 attack: clean and robust accuracy
  lipschitz   per-layer Lipschitz estimates of a checkpoint
  reproduce   the reference's table averaged over checkpoints per model size
  plot        SVG charts of a training run
  export      a checkpoint as a PyTorch .pth or .safetensors (the reference's state dict)
  compare     train the ConvNet with each registered layer on one time budget; table and plots

"sll <command> --help" lists the flags of a command.`;

/**
 * Runs the CLI on `argv` and returns the exit code (never exits itself).
 *
 * @example
 * ```ts ignore
 * import { run } from "./main.ts";
 * const code = await run(["certify", "--checkpoint", "runs/a", "--json"]);
 * ```
 */
export async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(
      `error: unknown command "${name}"; allowed: ${Object.keys(COMMANDS).join(", ")}`,
    );
    return 2;
  }
  let code: number;
  try {
    code = await cmd(rest);
  } catch (e) {
    const usage = e instanceof UsageError;
    const err = e as Error;
    // one "error:" line; a long explanation follows on short indented lines
    const [first, ...more] = String(err?.message ?? err).split("\n");
    const line = `error: ${first}`;
    // under MPI: print with the rank and end every rank of the job (no-op with one process)
    abortWorld(usage ? 2 : 1, line);
    console.error([line, ...more.map((l) => `  ${l}`)].join("\n"));
    if (!usage && Deno.env.get("SLL_DEBUG")) console.error(err?.stack);
    return usage ? 2 : 1;
  }
  if (code === 0 || code === 130) endWorld(); // every rank got here together
  else abortWorld(code, `exit code ${code}`);
  return code;
}

if (import.meta.main) {
  const code = await run(Deno.args);
  Deno.exit(code);
}
