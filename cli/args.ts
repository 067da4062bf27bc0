/**
 * Command-line flags: a table of flag specs per subcommand, parsed with `node:util` parseArgs
 * (strict) and validated one by one, so an unknown flag or a bad value becomes one `UsageError`
 * line naming the flag and what it accepts. Flags use the reference's names with dashes
 * (`--n-conv`); the reference's underscore spellings (`--n_conv`) are accepted too.
 * @module
 */
import { parseArgs } from "node:util";

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How a flag's value is read. */
export type FlagKind =
  | "string"
  | "int"
  | "posint"
  | "number"
  | "posnumber"
  | "bool"
  | "numlist"
  | readonly string[];

/** One flag: its name (without dashes), kind and help line. */
export interface FlagSpec {
  /** Name without the leading dashes, e.g. "batch-size". */
  name: string;
  /** How the value is validated. */
  kind: FlagKind;
  /** One line of help. */
  help: string;
}

function describeKind(kind: FlagKind): string {
  if (Array.isArray(kind)) return `one of ${kind.join(", ")}`;
  switch (kind) {
    case "int":
      return "an integer";
    case "posint":
      return "a positive integer";
    case "number":
      return "a number";
    case "posnumber":
      return "a positive number";
    case "numlist":
      return "a comma-separated list of numbers, e.g. 36,72,108,255";
    default:
      return "a value";
  }
}

function convert(flag: string, kind: FlagKind, raw: string): unknown {
  const bad = (): never => {
    throw new UsageError(`invalid value for --${flag}: "${raw}" (expected ${describeKind(kind)})`);
  };
  if (Array.isArray(kind)) return kind.includes(raw) ? raw : bad();
  switch (kind) {
    case "string":
      return raw.length ? raw : bad();
    case "int":
    case "posint": {
      if (!/^[+-]?\d+$/.test(raw.trim())) bad();
      const v = Number(raw);
      if (!Number.isSafeInteger(v) || (kind === "posint" && v < 1)) bad();
      return v;
    }
    case "number":
    case "posnumber": {
      const v = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(v) || (kind === "posnumber" && v <= 0)) bad();
      return v;
    }
    case "numlist": {
      const parts = raw.split(/[,\s]+/).filter((s) => s.length);
      const vs = parts.map(Number);
      if (parts.length === 0 || vs.some((v) => !Number.isFinite(v) || v < 0)) bad();
      return vs;
    }
  }
  return raw;
}

/** Parsed flags (dashed names → validated values) and positional arguments. */
export interface ParsedFlags {
  /** Values by flag name (dashed); absent flags are missing. */
  values: Record<string, unknown>;
  /** Positional arguments in order. */
  positionals: string[];
}

/**
 * Parses `argv` for `command` against `specs`. Throws a UsageError naming an unknown flag and
 * listing the allowed ones, or naming a flag with a bad value and what it accepts.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./args.ts";
 * const { values } = parseFlags("train", ["--epochs", "3"], [
 *   { name: "epochs", kind: "posint", help: "passes over the data" },
 * ]);
 * values.epochs; // 3
 * ```
 */
export function parseFlags(
  command: string,
  argv: readonly string[],
  specs: readonly FlagSpec[],
  maxPositionals = 0,
): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  // accept the reference's underscore spelling: --n_conv → --n-conv
  const normalised = argv.map((a) => {
    if (!a.startsWith("--")) return a;
    const eq = a.indexOf("=");
    const name = (eq < 0 ? a.slice(2) : a.slice(2, eq)).replaceAll("_", "-");
    return "--" + name + (eq < 0 ? "" : a.slice(eq));
  });
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const s of specs) options[s.name] = { type: s.kind === "bool" ? "boolean" : "string" };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: normalised, options, strict: true, allowPositionals: true });
  } catch (e) {
    const m = String((e as Error).message);
    const unknown = /Unknown option '([^']+)'/.exec(m);
    if (unknown) {
      throw new UsageError(
        `unknown flag ${unknown[1]} for "sll ${command}"; allowed: ${
          specs.map((s) => "--" + s.name).join(", ")
        }`,
      );
    }
    const missing = /Option '(?:-\w, )?--([^ ']+)[^']*' argument (?:missing|is ambiguous)/.exec(m);
    if (missing) {
      const s = byName.get(missing[1]);
      throw new UsageError(
        `missing value for --${missing[1]} (expected ${s ? describeKind(s.kind) : "a value"})`,
      );
    }
    const noValue = /Option '--([^ ']+)' does not take an argument/.exec(m);
    if (noValue) throw new UsageError(`--${noValue[1]} is a switch and takes no value`);
    throw new UsageError(`${m.split("\n")[0]} (see "sll ${command} --help")`);
  }
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    const s = byName.get(k)!;
    values[k] = s.kind === "bool" ? v : convert(k, s.kind, String(v));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(
      `unexpected argument "${parsed.positionals[maxPositionals]}" for "sll ${command}"` +
        (maxPositionals === 0 ? " (it takes only --flags)" : ""),
    );
  }
  return { values, positionals: parsed.positionals };
}

/**
 * Help text for a subcommand: one line per flag.
 *
 * @example
 * ```ts
 * import { helpText } from "./args.ts";
 * console.log(helpText("train", "Train a network.", [{ name: "epochs", kind: "posint", help: "epochs" }]));
 * ```
 */
export function helpText(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const v = s.kind === "bool" ? "" : Array.isArray(s.kind) ? ` <${s.kind.join("|")}>` : " <v>";
    return [`  --${s.name}${v}`, s.help];
  });
  const w = Math.min(40, Math.max(...rows.map((r) => r[0].length)) + 2);
  return `sll ${command}: ${summary}\n\n` +
    rows.map(([a, b]) => a.padEnd(w) + b).join("\n");
}
