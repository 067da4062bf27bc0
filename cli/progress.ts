/**
 * A one-line progress bar on stderr (epoch, step, loss, lr, img/s, ETA), redrawn in place on a
 * terminal and printed every few seconds otherwise (logs, CI). Results go to stdout, so
 * `--json` output stays clean.
 * @module
 */

/**
 * Formats seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(185); // "3m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** A bar drawn from fractions; `render` returns the line without writing it. */
export class ProgressBar {
  #last = 0;
  #tty: boolean;
  #width: number;
  #enabled: boolean;
  #silent = false;
  #dirty = false;
  #encoder = new TextEncoder();

  /** `enabled: false` hides the bar (e.g. under `--quiet`); `log` messages still print. */
  constructor(opts: { enabled?: boolean; width?: number } = {}) {
    this.#enabled = opts.enabled ?? true;
    this.#width = opts.width ?? 24;
    let tty = false;
    try {
      tty = Deno.stderr.isTerminal();
    } catch { /* no tty info */ }
    this.#tty = tty;
  }

  /** The text of a bar at `fraction` ∈ [0, 1] followed by `label`. */
  render(fraction: number, label: string): string {
    const f = Math.min(1, Math.max(0, fraction));
    const full = Math.round(f * this.#width);
    return `[${"█".repeat(full)}${"░".repeat(this.#width - full)}] ${label}`;
  }

  /** Draws (at most every 100 ms on a terminal, every 10 s otherwise unless `force`). */
  update(fraction: number, label: string, force = false): void {
    if (!this.#enabled) return;
    const now = performance.now();
    const every = this.#tty ? 100 : 10_000;
    if (!force && now - this.#last < every) return;
    this.#last = now;
    const line = this.render(fraction, label);
    if (this.#tty) {
      const cols = (() => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 120;
        }
      })();
      this.#write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
      this.#dirty = true;
    } else {
      this.#write(line + "\n");
    }
  }

  /** Ends the current line so other output starts clean. */
  clear(): void {
    if (this.#dirty) this.#write("\r\x1b[2K");
    this.#dirty = false;
  }

  /** Silences the bar and the messages (e.g. on MPI ranks other than 0). */
  hide(): void {
    this.#enabled = false;
    this.#silent = true;
  }

  /** Prints a message line on stderr above the bar (also when the bar is disabled). */
  log(message: string): void {
    if (this.#silent) return;
    this.clear();
    this.#write(message + "\n");
  }

  #write(s: string): void {
    Deno.stderr.writeSync(this.#encoder.encode(s));
  }
}
