/**
 * `sll plot <train-dir>`: reads `metrics.jsonl` and writes SVG charts into the train dir (or
 * `--out`): loss per epoch (and per logged step), accuracy per epoch (natural and certified at
 * each ε), and certified accuracy against ε for the last epoch.
 * @module
 */
import { join } from "node:path";
import { type FlagSpec, helpText, parseFlags, UsageError } from "./args.ts";
import { lineChart, type Series } from "./svg.ts";

/** Flags of `sll plot`. */
export const PLOT_FLAGS: readonly FlagSpec[] = [
  { name: "out", kind: "string", help: "folder for the SVG files (default: the train dir)" },
  { name: "help", kind: "bool", help: "show this help" },
];

interface EpochLine {
  type: "epoch";
  epoch: number;
  trainLoss: number;
  /** Absent for an epoch that `--eval-every` did not evaluate. */
  test?: { accuracy: number; certified: Record<string, number> };
  /** `eps` in metrics written before the rename to `eps255` (both in units of 1/255). */
  curve?: { eps255?: number[]; eps?: number[]; certified: number[] };
}
type Evaluated = EpochLine & Required<Pick<EpochLine, "test">>;
interface StepLine {
  type: "step";
  epoch: number;
  loss: number;
}

/**
 * Reads a metrics.jsonl file; throws naming the file and line when a line is not JSON.
 */
export async function readMetrics(
  path: string,
): Promise<{ steps: StepLine[]; epochs: EpochLine[] }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new Error(`${path}: no metrics file; pass a train dir written by "sll train"`);
  }
  const steps: StepLine[] = [], epochs: EpochLine[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let o: { type?: string };
    try {
      o = JSON.parse(line);
    } catch {
      throw new Error(`${path}:${i + 1}: not a JSON line; the metrics file is corrupt`);
    }
    if (o.type === "step") steps.push(o as StepLine);
    else if (o.type === "epoch") epochs.push(o as EpochLine);
  });
  return { steps, epochs };
}

/**
 * Writes loss.svg, accuracy.svg and certified_vs_eps.svg for a train dir; returns their paths.
 *
 * @example
 * ```ts ignore
 * import { plotRun } from "./plot_cmd.ts";
 * const files = await plotRun("runs/a");
 * ```
 */
export async function plotRun(trainDir: string, outDir = trainDir): Promise<string[]> {
  const { steps, epochs } = await readMetrics(join(trainDir, "metrics.jsonl"));
  console.error(`read ${join(trainDir, "metrics.jsonl")}`);
  if (epochs.length === 0 && steps.length === 0) {
    throw new Error(`${join(trainDir, "metrics.jsonl")}: no metrics yet; train at least one epoch`);
  }
  await Deno.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, svg: string): Promise<void> => {
    const p = join(outDir, name);
    await Deno.writeTextFile(p, svg);
    files.push(p);
  };
  const lossSeries: Series[] = [
    { label: "train loss (epoch)", points: epochs.map((e) => [e.epoch, e.trainLoss]) },
    { label: "train loss (steps)", points: steps.map((s) => [s.epoch, s.loss]) },
  ];
  await write(
    "loss.svg",
    lineChart(lossSeries, { title: "Training loss", xLabel: "epoch", yLabel: "loss" }),
  );
  // accuracy charts of the evaluated epochs (--eval-every may skip some)
  const evaluated = epochs.filter((e): e is Evaluated => e.test !== undefined);
  if (evaluated.length) {
    const keys = Object.keys(evaluated[0].test.certified);
    const acc: Series[] = [
      { label: "natural", points: evaluated.map((e) => [e.epoch, e.test.accuracy * 100]) },
      ...keys.map((k) => ({
        label: `certified ε=${k}/255`,
        points: evaluated.map((e) => [e.epoch, (e.test.certified[k] ?? NaN) * 100] as const),
      })),
    ];
    await write(
      "accuracy.svg",
      lineChart(acc, {
        title: "Test accuracy",
        xLabel: "epoch",
        yLabel: "accuracy (%)",
        yRange: [0, 100],
      }),
    );
    const last = evaluated[evaluated.length - 1];
    const curve: [number, number][] = last.curve
      ? (last.curve.eps255 ?? last.curve.eps ?? []).map((
        e,
        i,
      ) => [e, last.curve!.certified[i] * 100])
      : [
        [0, last.test.accuracy * 100],
        ...keys.map((k) => [Number(k), last.test.certified[k] * 100] as [number, number]),
      ];
    await write(
      "certified_vs_eps.svg",
      lineChart([{ label: `epoch ${last.epoch}`, points: curve }], {
        title: "Certified accuracy against ε",
        xLabel: "ε (×1/255)",
        yLabel: "certified accuracy (%)",
        yRange: [0, 100],
      }),
    );
  }
  return files;
}

/** Runs `sll plot`; returns the exit code. */
export async function plotCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags("plot", argv, PLOT_FLAGS, 1);
  if (values.help) {
    console.log(helpText("plot <train-dir>", "SVG charts of a training run", PLOT_FLAGS));
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError("plot needs a train dir: sll plot <train-dir>");
  }
  const files = await plotRun(positionals[0], values.out as string | undefined);
  for (const f of files) console.log(f);
  return 0;
}
