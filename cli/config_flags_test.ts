/**
 * One source for every setting: each config field has a flag that sets exactly that field, the
 * README's tables equal the generated ones, numbers parse strictly (negative values as separate
 * arguments, no hex, no empty list items), and `--resume` refuses flags that disagree with the
 * checkpoint's config.
 * @module
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { DEFAULT_CONFIG, type TrainConfig } from "../train/config.ts";
import {
  flagChoices,
  flagSchema,
  type FlagSpec,
  isSwitch,
  parseFlags,
  UsageError,
} from "./args.ts";
import { CONFIG_SETTINGS, configFromFlags, resumeConfig, settingFlag } from "./config_flags.ts";
import { README_COMMANDS, tableCells, updateReadme } from "./readme_flags.ts";
import { TRAIN_FLAGS } from "./train_cmd.ts";

function getPath(o: unknown, path: readonly string[]): unknown {
  return path.reduce((a, k) => (a as Record<string, unknown>)?.[k], o);
}

/** A valid value for a flag that differs from the default, as typed on the command line. */
function otherValue(f: FlagSpec, def: unknown): string | undefined {
  const schema = flagSchema(f);
  const choices = flagChoices(f);
  if (choices) return choices.find((c) => c !== def && c !== "xlarge");
  if (schema instanceof z.ZodBoolean) return undefined;
  if (schema instanceof z.ZodArray) return "3,5";
  if (schema instanceof z.ZodNumber) {
    for (const v of [0.5, 3, 1, 0]) if (v !== def && schema.safeParse(v).success) return String(v);
  }
  return "somewhere";
}

Deno.test("config flags: every schema field has a flag, and the flag sets exactly that field", () => {
  const names = TRAIN_FLAGS.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, "duplicate flag names");
  for (const s of CONFIG_SETTINGS) {
    const f = settingFlag(s);
    const def = getPath(DEFAULT_CONFIG, s.path);
    const raw = otherValue(f, def);
    const argv = isSwitch(f) ? [`--${f.name}`] : [`--${f.name}`, raw!];
    const { values } = parseFlags("train", argv, TRAIN_FLAGS);
    const cfg = configFromFlags(values);
    const got = getPath(cfg, s.path);
    if (s.flag === "model-name") {
      assert.equal(cfg.arch.name, raw);
      continue;
    }
    assert.notDeepEqual(got, def, `--${f.name} ${raw ?? ""} did not change ${s.path.join(".")}`);
    assert.deepEqual(got, values[f.name], `--${f.name} set ${s.path.join(".")} to ${got}`);
    // and nothing else changed (but the derived preset name and the run dir)
    for (const t of CONFIG_SETTINGS) {
      if (t === s || ["train-dir", "model-name"].includes(t.flag)) continue;
      assert.deepEqual(
        getPath(cfg, t.path),
        getPath(DEFAULT_CONFIG, t.path),
        `--${f.name} also changed ${t.path.join(".")}`,
      );
    }
  }
});

Deno.test("config flags: README's flag tables equal the ones generated from the schema", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const fresh = updateReadme(readme);
  for (const cmd of Object.keys(README_COMMANDS)) {
    const want = tableCells(fresh, cmd), have = tableCells(readme, cmd);
    assert.ok(want.length > 1, `no generated table for ${cmd}`);
    assert.deepEqual(have, want, `README's ${cmd} flag table is stale: run \`deno task docs\``);
  }
  // the drift the issue found: --offset's default and the default preset
  const train = tableCells(readme, "train");
  const row = (flag: string) => train.find((r) => r[0] === `\`--${flag}\``);
  assert.equal(row("offset")?.[1], String(DEFAULT_CONFIG.offset));
  assert.equal(row("model-name")?.[1], DEFAULT_CONFIG.arch.name);
});

Deno.test("flags: a negative number as a separate argument works for every numeric flag", () => {
  for (const [cmd, specs] of Object.entries(README_COMMANDS)) {
    for (const f of specs) {
      const s = flagSchema(f);
      if (!(s instanceof z.ZodNumber)) continue;
      const ok = s.safeParse(-5).success;
      try {
        const { values } = parseFlags(cmd, [`--${f.name}`, "-5"], specs);
        assert.ok(ok, `${cmd} --${f.name} -5 was accepted against its schema`);
        assert.equal(values[f.name], -5);
      } catch (e) {
        assert.ok(e instanceof UsageError);
        assert.ok(!ok, `${cmd} --${f.name} -5: ${e.message}`);
        // refused for its range, never as a "missing value"
        assert.match(e.message, new RegExp(`^invalid value for --${f.name}: "-5" \\(expected`));
      }
    }
  }
  const { values } = parseFlags(
    "train",
    ["--offset", "-5", "--lr=1e-3", "--wd", ".5"],
    TRAIN_FLAGS,
  );
  assert.deepEqual([values.offset, values.lr, values.wd], [-5, 0.001, 0.5]);
  // a token with two dashes stays a flag: "--data-dir --offline" is a missing value
  assert.throws(() => parseFlags("train", ["--data-dir", "--offline"], TRAIN_FLAGS), {
    message: /missing value for --data-dir/,
  });
});

Deno.test("flags: hex, Infinity, empty list items and trailing junk are refused by name", () => {
  const bad: [string, string][] = [
    ["lr", "0x10"],
    ["lr", "Infinity"],
    ["lr", "1e"],
    ["lr", ""],
    ["epochs", "1.5"],
    ["epochs", "0b11"],
    ["eps", "1,,2"],
    ["eps", "1,2,"],
    ["eps", ",1"],
    ["eps", "1 2"],
    ["seed", "-1"],
  ];
  for (const [flag, raw] of bad) {
    assert.throws(
      () => parseFlags("train", [`--${flag}=${raw}`], TRAIN_FLAGS),
      (e: Error) =>
        e instanceof UsageError &&
        e.message.startsWith(`invalid value for --${flag}: "${raw}" (expected `),
      `--${flag} ${raw} was accepted`,
    );
  }
});

Deno.test("resume: a flag that disagrees with the checkpoint's config is refused, naming both", () => {
  const stored: TrainConfig = { ...structuredClone(DEFAULT_CONFIG), trainDir: "runs/r" };
  const parse = (argv: string[]) => parseFlags("train", argv, TRAIN_FLAGS).values;
  assert.throws(() => resumeConfig(stored, parse(["--lr", "0.02", "--train-dir", "runs/r"])), {
    message: /^--resume: --lr 0\.02 conflicts with the checkpoint's lr 0\.01; drop --lr/,
  });
  assert.throws(() => resumeConfig(stored, parse(["--train-dir", "runs/r", "--augment"])), {
    message: /--augment on conflicts with the checkpoint's augment off/,
  });
  assert.throws(() => resumeConfig(stored, parse(["--train-dir", "runs/r", "--n-conv", "3"])), {
    message: /--n-conv 3 conflicts with the checkpoint's n-conv 2/,
  });
  assert.throws(
    () => resumeConfig(stored, parse(["--train-dir", "runs/r", "--model-name", "xs"])),
    {
      message: /--model-name xs .*conflicts with the checkpoint's network \(fmnist/,
    },
  );
  // the same values, and the resumable flags, are fine
  const c = resumeConfig(
    stored,
    parse([
      "--train-dir",
      "runs/r",
      "--lr",
      "0.01",
      "--model-name",
      "fmnist",
      "--epochs",
      "20",
      "--log-every",
      "3",
    ]),
  );
  assert.deepEqual([c.lr, c.epochs, c.logEvery, c.arch.name], [0.01, 20, 3, "fmnist"]);
  assert.equal(c.trainDir, "runs/r");
});
