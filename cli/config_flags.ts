/**
 * The training config's flags, generated from the zod schema's metadata (train/config.ts): the
 * flag list, flags → TrainConfig, the `--resume` conflict check and the README's flag table all
 * walk `configSettings()`, so adding a setting is one edit in the schema.
 * @module
 */
import { archFromPreset } from "../train/model.ts";
import {
  type ConfigSetting,
  configSettings,
  DEFAULT_CONFIG,
  parseTrainConfig,
  type TrainConfig,
} from "../train/config.ts";
import { describeFlag, type FlagSpec, isSwitch, UsageError } from "./args.ts";

function getPath(obj: unknown, path: readonly string[]): unknown {
  let o = obj as Record<string, unknown> | undefined;
  for (const k of path) o = o?.[k] as Record<string, unknown> | undefined;
  return o;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[path[path.length - 1]] = value;
}

/** A config value as the CLI writes it: lists comma-joined, switches "on"/"off". */
export function showValue(v: unknown): string {
  if (v === undefined) return "(none)";
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "boolean") return v ? "on" : "off";
  return String(v);
}

/** The flag of one config setting, with its default taken from DEFAULT_CONFIG. */
export function settingFlag(s: ConfigSetting): FlagSpec {
  const d = getPath(DEFAULT_CONFIG, s.path);
  return {
    name: s.flag,
    schema: s.schema,
    choices: s.choices,
    help: s.help,
    defaultText: s.defaultText ?? (d === undefined ? undefined : showValue(d)),
  };
}

/** Every config setting with its flag, in schema order. */
export const CONFIG_SETTINGS: readonly ConfigSetting[] = configSettings();

/** The flags of every config field (`sll train` takes them all). */
export const CONFIG_FLAGS: readonly FlagSpec[] = CONFIG_SETTINGS.map(settingFlag);

/**
 * The flag of config field `name` (its flag name) for another command, optionally with its help
 * and default replaced (e.g. `certify --eps`).
 */
export function configFlag(name: string, override: Partial<FlagSpec> = {}): FlagSpec {
  const f = CONFIG_FLAGS.find((x) => x.name === name);
  if (!f) throw new Error(`no config flag --${name}`);
  return { ...f, ...override };
}

const settingByFlag = new Map(CONFIG_SETTINGS.map((s) => [s.flag, s]));

function timestamp(): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${
    p(d.getMinutes())
  }${p(d.getSeconds())}`;
}

/**
 * Builds the TrainConfig from parsed flags: DEFAULT_CONFIG, then `--model-name`'s preset, then
 * every given config flag at its schema path. Throws a UsageError naming the flag of an invalid
 * field.
 */
export function configFromFlags(v: Record<string, unknown>): TrainConfig {
  const cfg = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const dataset = (v.dataset as string | undefined) ?? DEFAULT_CONFIG.dataset;
  cfg.trainDir = `runs/${dataset}-${timestamp()}`;
  if (v["model-name"] !== undefined) {
    cfg.arch = { ...archFromPreset(String(v["model-name"])), qMode: DEFAULT_CONFIG.arch.qMode };
  }
  let sizes = false;
  for (const s of CONFIG_SETTINGS) {
    if (v[s.flag] === undefined) continue;
    setPath(cfg, s.path, v[s.flag]);
    if (s.path[0] === "arch" && s.flag !== "q-mode" && s.flag !== "model-name") sizes = true;
  }
  // explicit sizes without a preset name: the network is no longer the default preset
  if (sizes && v["model-name"] === undefined) {
    (cfg.arch as Record<string, unknown>).name = undefined;
  }
  const clean = (o: Record<string, unknown>): void => {
    for (const k of Object.keys(o)) {
      if (o[k] === undefined) delete o[k];
      else if (o[k] && typeof o[k] === "object" && !Array.isArray(o[k])) {
        clean(o[k] as Record<string, unknown>);
      }
    }
  };
  clean(cfg);
  try {
    return parseTrainConfig(cfg, "flags");
  } catch (e) {
    const m = /flags is invalid: ([\w.]+): (.*?)(;|$)/.exec((e as Error).message);
    if (m) {
      const s = CONFIG_SETTINGS.find((x) => x.path.join(".") === m[1]);
      if (s) {
        throw new UsageError(
          `invalid value for --${s.flag}: ${showValue(getPath(cfg, s.path))} (expected ${
            describeFlag(settingFlag(s))
          })`,
        );
      }
    }
    throw new UsageError((e as Error).message);
  }
}

/**
 * The config of a resumed run: the checkpoint's `stored` config, with the flags the schema marks
 * `resumable` (epochs, save-every, log-every, eval-batch-size, eval-every, data-dir, train-dir)
 * taken from `v`. Any other given config flag must equal the stored value; else a UsageError
 * names the flag and both values.
 */
export function resumeConfig(stored: TrainConfig, v: Record<string, unknown>): TrainConfig {
  const wanted = configFromFlags(v);
  const out = structuredClone(stored) as unknown as Record<string, unknown>;
  for (const [flag, value] of Object.entries(v)) {
    const s = settingByFlag.get(flag);
    if (!s || value === undefined) continue;
    if (s.resumable) {
      setPath(out, s.path, value);
      continue;
    }
    if (flag === "model-name") {
      // a preset conflicts when its sizes differ from the stored network's
      const a = wanted.arch, b = stored.arch;
      const same = a.nConv === b.nConv && a.nDense === b.nDense && a.width === b.width &&
        a.convInnerDim === b.convInnerDim && a.denseInnerDim === b.denseInnerDim &&
        (a.spaceToDepth ?? 1) === (b.spaceToDepth ?? 1);
      if (same) continue;
      throw new UsageError(
        `--resume: --model-name ${value} (n_conv ${a.nConv}, n_dense ${a.nDense}, w ${a.width}) ` +
          `conflicts with the checkpoint's network (${
            b.name ?? "custom"
          }: n_conv ${b.nConv}, n_dense ${b.nDense}, w ${b.width}); drop --model-name, or ` +
          `start a new --train-dir`,
      );
    }
    const given = getPath(wanted, s.path), had = getPath(stored, s.path);
    if (JSON.stringify(given) !== JSON.stringify(had)) {
      throw new UsageError(
        `--resume: --${flag} ${showValue(given)} conflicts with the checkpoint's ${flag} ${
          showValue(had)
        }; drop --${flag} to continue the run as it was, or start a new --train-dir`,
      );
    }
  }
  return parseTrainConfig(out, "resumed config");
}

/**
 * The README's flag table of `specs` (Markdown): flag, default, accepted values, meaning.
 *
 * @example
 * ```ts
 * import { flagTable } from "./config_flags.ts";
 * flagTable([{ name: "epochs", kind: "posint", help: "passes", defaultText: "12" }]);
 * ```
 */
export function flagTable(specs: readonly FlagSpec[]): string {
  const esc = (t: string): string => t.replaceAll("|", "\\|").replaceAll("<", "&lt;");
  const rows = specs.map((s) => [
    `\`--${s.name}\``,
    s.defaultText === undefined ? "" : esc(s.defaultText),
    isSwitch(s) ? "switch" : esc(describeFlag(s).replace(/, e\.g\. [\d,]+$/, "")),
    esc(s.help),
  ]);
  const head = ["flag", "default", "values", "meaning"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    "| " + cells.map((c, i) => c.padEnd(w[i])).join(" | ") + " |";
  return [line(head), "| " + w.map((x) => "-".repeat(x)).join(" | ") + " |", ...rows.map(line)]
    .join("\n");
}
