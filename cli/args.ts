/**
 * Command-line flags: a table of flag specs per subcommand, parsed with `node:util` parseArgs
 * (strict) and validated one by one, so an unknown flag or a bad value becomes one `UsageError`
 * line naming the flag and what it accepts. Flags use the reference's names with dashes
 * (`--n-conv`); the reference's underscore spellings (`--n_conv`) are accepted too.
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";

/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** How a flag's value is read (shorthand for a zod schema; see `FlagSpec.schema`). */
export type FlagKind =
  | "string"
  | "int"
  | "posint"
  | "number"
  | "posnumber"
  | "bool"
  | "numlist"
  | readonly string[];

/**
 * One flag: its name (without dashes), help line and what it accepts — a zod `schema` (config
 * flags take the config field's schema, so the flag, the config and checkpoint validation agree),
 * or a `kind` shorthand.
 */
export interface FlagSpec {
  /** Name without the leading dashes, e.g. "batch-size". */
  name: string;
  /** How the value is validated (shorthand for `schema`). */
  kind?: FlagKind;
  /** The value's zod schema (wins over `kind`). */
  schema?: z.ZodType;
  /** Allowed values of a string flag not expressible as a z.enum. */
  choices?: readonly string[];
  /** One line of help. */
  help: string;
  /** Default, as shown by --help and the README (omitted: none). */
  defaultText?: string;
}

function kindSchema(kind: FlagKind): z.ZodType {
  if (Array.isArray(kind)) return z.enum(kind as [string, ...string[]]);
  switch (kind) {
    case "int":
      return z.number().int();
    case "posint":
      return z.number().int().positive();
    case "number":
      return z.number();
    case "posnumber":
      return z.number().positive();
    case "bool":
      return z.boolean();
    case "numlist":
      return z.array(z.number().nonnegative()).min(1);
    default:
      return z.string().min(1);
  }
}

/** The schema of a flag with `.optional()`/`.default()` wrappers removed. */
export function flagSchema(spec: FlagSpec): z.ZodType {
  let s: z.ZodType = spec.schema ?? kindSchema(spec.kind ?? "string");
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) {
    s = (s as z.ZodOptional<z.ZodType>).unwrap();
  }
  return s;
}

/** The flag's choices (enum options or `choices`), if it has a fixed set of values. */
export function flagChoices(spec: FlagSpec): readonly string[] | undefined {
  const s = flagSchema(spec);
  if (s instanceof z.ZodEnum) return s.options as string[];
  return spec.choices;
}

/** Whether the flag is a switch (no value). */
export function isSwitch(spec: FlagSpec): boolean {
  return flagSchema(spec) instanceof z.ZodBoolean;
}

function numberRange(s: z.ZodNumber): string {
  const parts: string[] = [];
  for (const c of s._zod.def.checks ?? []) {
    const d = c._zod.def as { check: string; value?: unknown; inclusive?: boolean };
    if (d.check === "greater_than") parts.push(`${d.inclusive ? "≥" : ">"} ${d.value}`);
    if (d.check === "less_than") parts.push(`${d.inclusive ? "≤" : "<"} ${d.value}`);
  }
  return parts.join(" and ");
}

/** What a flag accepts, in words: "a positive integer", "one of adam, adamw, sgd", … */
export function describeFlag(spec: FlagSpec): string {
  const choices = flagChoices(spec);
  if (choices) return `one of ${choices.join(", ")}`;
  const s = flagSchema(spec);
  const num = (n: z.ZodNumber, plural = false): string => {
    const range = numberRange(n);
    const what = n.isInt ? (plural ? "integers" : "an integer") : (plural ? "numbers" : "a number");
    if (range === "> 0") {
      return plural ? `positive ${what}` : `a positive ${what.replace(/^an? /, "")}`;
    }
    return range ? `${what} ${range}` : what;
  };
  if (s instanceof z.ZodNumber) return num(s);
  if (s instanceof z.ZodArray && s.element instanceof z.ZodNumber) {
    return `a comma-separated list of ${num(s.element, true)}, e.g. 36,72,108,255`;
  }
  if (s instanceof z.ZodBoolean) return "no value (a switch)";
  return "a non-empty value";
}

/** A decimal number as typed by a person: no hex, no Infinity, no empty string. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function convert(spec: FlagSpec, raw: string): unknown {
  const bad = (why?: string): never => {
    throw new UsageError(
      `invalid value for --${spec.name}: "${raw}" (expected ${describeFlag(spec)}${
        why ? `; ${why}` : ""
      })`,
    );
  };
  const s = flagSchema(spec);
  let value: unknown = raw;
  if (s instanceof z.ZodNumber) {
    if (!DECIMAL.test(raw.trim())) bad();
    value = Number(raw);
  } else if (s instanceof z.ZodArray) {
    const parts = raw.split(",").map((p) => p.trim());
    if (parts.some((p) => !DECIMAL.test(p))) bad();
    value = parts.map(Number);
  } else {
    const choices = flagChoices(spec);
    if (choices && !choices.includes(raw)) bad();
  }
  const r = s.safeParse(value);
  if (!r.success) bad();
  return r.data;
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
  // "--offset -5": a value may start with one dash (a negative number); parseArgs would take it
  // for a flag, so glue it to its flag as "--offset=-5". A token starting with "--" stays a flag.
  const joined: string[] = [];
  for (let i = 0; i < normalised.length; i++) {
    const a = normalised[i];
    const spec = a.startsWith("--") && !a.includes("=") ? byName.get(a.slice(2)) : undefined;
    const next = normalised[i + 1];
    if (spec && !isSwitch(spec) && next !== undefined && /^-(?!-)/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else joined.push(a);
  }
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const s of specs) options[s.name] = { type: isSwitch(s) ? "boolean" : "string" };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: true });
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
        `missing value for --${missing[1]} (expected ${s ? describeFlag(s) : "a value"})`,
      );
    }
    const noValue = /Option '--([^ ']+)' does not take an argument/.exec(m);
    if (noValue) throw new UsageError(`--${noValue[1]} is a switch and takes no value`);
    throw new UsageError(`${m.split("\n")[0]} (see "sll ${command} --help")`);
  }
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed.values)) {
    const s = byName.get(k)!;
    values[k] = isSwitch(s) ? v : convert(s, String(v));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(
      `unexpected argument "${parsed.positionals[maxPositionals]}" for "sll ${command}"` +
        (maxPositionals === 0 ? " (it takes only --flags)" : ""),
    );
  }
  return { values, positionals: parsed.positionals };
}

function placeholder(spec: FlagSpec): string {
  const s = flagSchema(spec);
  if (s instanceof z.ZodNumber) return s.isInt ? "int" : "number";
  if (s instanceof z.ZodArray) return "list";
  return "value";
}

/**
 * Help text for a subcommand: one line per flag with its values and default, all from the specs.
 *
 * @example
 * ```ts
 * import { helpText } from "./args.ts";
 * console.log(helpText("train", "Train a network.", [{ name: "epochs", kind: "posint", help: "epochs" }]));
 * ```
 */
export function helpText(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const choices = flagChoices(s);
    const v = isSwitch(s) ? "" : choices ? ` <${choices.join("|")}>` : ` <${placeholder(s)}>`;
    const d = s.defaultText !== undefined ? ` (default ${s.defaultText})` : "";
    return [`  --${s.name}${v}`, s.help + d];
  });
  const w = Math.min(40, Math.max(...rows.map((r) => r[0].length)) + 2);
  return `sll ${command}: ${summary}\n\n` +
    rows.map(([a, b]) => (a.length >= w ? a + "\n" + " ".repeat(w) : a.padEnd(w)) + b).join("\n");
}
