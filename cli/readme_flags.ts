/**
 * The README's flag tables, generated from the commands' flag specs (which come from the config
 * schema): `deno task docs` rewrites the text between `<!-- flags:<command> -->` and
 * `<!-- /flags:<command> -->`, and a test fails when README and the specs disagree.
 * @module
 */
import type { FlagSpec } from "./args.ts";
import { flagTable } from "./config_flags.ts";
import { TRAIN_FLAGS } from "./train_cmd.ts";
import { CERTIFY_FLAGS } from "./certify_cmd.ts";
import { ATTACK_FLAGS } from "./attack_cmd.ts";
import { LIPSCHITZ_FLAGS } from "./lipschitz_cmd.ts";
import { REPRODUCE_FLAGS } from "./reproduce_cmd.ts";
import { PLOT_FLAGS } from "./plot_cmd.ts";
import { COMPARE_FLAGS } from "./compare_cmd.ts";

/** The commands whose flag tables the README carries, with their specs. */
export const README_COMMANDS: Readonly<Record<string, readonly FlagSpec[]>> = {
  train: TRAIN_FLAGS,
  certify: CERTIFY_FLAGS,
  attack: ATTACK_FLAGS,
  lipschitz: LIPSCHITZ_FLAGS,
  reproduce: REPRODUCE_FLAGS,
  plot: PLOT_FLAGS,
  compare: COMPARE_FLAGS,
};

/** The start and end markers of a command's table. */
export function markers(command: string): [string, string] {
  return [`<!-- flags:${command} -->`, `<!-- /flags:${command} -->`];
}

/**
 * `readme` with every command's table replaced by the generated one. Throws naming a command
 * whose markers are missing.
 */
export function updateReadme(readme: string): string {
  let out = readme;
  for (const [cmd, specs] of Object.entries(README_COMMANDS)) {
    const [start, end] = markers(cmd);
    const i = out.indexOf(start), j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README.md lacks the markers ${start} … ${end}`);
    out = out.slice(0, i + start.length) + "\n\n" + flagTable(specs) + "\n\n" + out.slice(j);
  }
  return out;
}

/** The cells of the table rows between a command's markers (whitespace-insensitive). */
export function tableCells(readme: string, command: string): string[][] {
  const [start, end] = markers(command);
  const i = readme.indexOf(start), j = readme.indexOf(end);
  if (i < 0 || j < i) return [];
  return readme.slice(i + start.length, j).split("\n")
    .filter((l) => l.trim().startsWith("|") && !/^\|[\s-|]+\|$/.test(l.trim()))
    .map((l) => l.trim().slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim().replace(/\s+/g, " ")));
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  await Deno.writeTextFile(path, updateReadme(await Deno.readTextFile(path)));
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", path.pathname] }).output();
  if (fmt.code !== 0) throw new Error("deno fmt README.md failed");
  console.error("README.md: flag tables regenerated");
}
