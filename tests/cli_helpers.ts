/**
 * Runs the CLI as a subprocess (as users do) and returns its exit code and output.
 * @module
 */
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** The smallest SLL network the CLI tests train: one conv and one dense layer of width 4. */
export const TINY_NET: readonly string[] = [
  "--n-conv",
  "1",
  "--n-dense",
  "1",
  "--w",
  "4",
  "--conv-inner-dim",
  "4",
  "--dense-inner-dim",
  "32",
];

/** Exit code, stdout and stderr of one `sll …` run. */
export interface CliRun {
  /** Process exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `deno run -A cli/main.ts ...args` with the CPU backend unless given. */
export async function sll(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-webgpu", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The lines of stderr starting with "error:". */
export function errorLines(r: CliRun): string[] {
  return r.stderr.split("\n").filter((l) => l.startsWith("error:"));
}
