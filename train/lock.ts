/**
 * An exclusive lock on a train dir: `<dir>/train.lock` holds the holder's pid (first line), host
 * and start time. Created with `createNew`, so of two processes exactly one gets it; a lock whose
 * pid is dead on this host is taken over by renaming it aside first (one rename wins), so two
 * processes finding the same stale lock cannot both proceed.
 * @module
 */
import { join } from "node:path";

/** The lock file's name inside a train dir. */
export const LOCK_FILE = "train.lock";

/** Thrown when another live process holds the train dir. */
export class TrainDirLockedError extends Error {
  /** The holder's pid. */
  readonly pid: number;
  /** Builds the message naming the dir, the holder's pid and how to proceed. */
  constructor(dir: string, pid: number, host: string, since: string) {
    super(
      `train dir ${dir} is in use by process ${pid}${host ? ` on ${host}` : ""}` +
        `${since ? ` (since ${since})` : ""}; stop that run first (kill ${pid}), or if it is ` +
        `gone, delete ${join(dir, LOCK_FILE)}`,
    );
    this.name = "TrainDirLockedError";
    this.pid = pid;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Whether `pid` runs on this machine; unknown (no /proc) counts as alive, to be safe. */
function alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  if (Deno.build.os !== "linux") return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function parse(text: string): { pid: number; host: string; since: string } {
  const [pid, host = "", since = ""] = text.split("\n");
  return { pid: Number(pid), host, since };
}

/** A held lock; `release()` removes the file if it is still ours. */
export interface TrainDirLock {
  /** The lock file. */
  path: string;
  /** Removes the lock file (only when it still names this process). */
  release(): void;
}

/**
 * Takes the exclusive lock of `dir` (created if missing). Throws TrainDirLockedError naming the
 * holder's pid when a live process holds it; takes over a lock whose process is dead.
 *
 * @example
 * ```ts
 * import { lockTrainDir, TrainDirLockedError } from "@sll/sll/train";
 * const dir = await Deno.makeTempDir();
 * const lock = lockTrainDir(dir);
 * try {
 *   lockTrainDir(dir); // a second holder is refused while this process lives
 * } catch (e) {
 *   console.log(e instanceof TrainDirLockedError); // true
 * } finally {
 *   lock.release();
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function lockTrainDir(dir: string): TrainDirLock {
  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const mine = `${Deno.pid}\n${hostname()}\n${new Date().toISOString()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = Deno.openSync(path, { write: true, createNew: true });
      try {
        f.writeSync(new TextEncoder().encode(mine));
      } finally {
        f.close();
      }
      return {
        path,
        release: () => {
          try {
            if (Deno.readTextFileSync(path) === mine) Deno.removeSync(path);
          } catch { /* already gone */ }
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      continue; // released meanwhile: try again
    }
    const held = parse(text);
    const sameHost = held.host === "" || held.host === hostname();
    if (!Number.isInteger(held.pid) || !sameHost || alive(held.pid)) {
      throw new TrainDirLockedError(dir, held.pid, held.host, held.since);
    }
    // stale: move it aside (atomic; of several takers one rename wins), check it was the stale
    // one we read, then try to create ours again
    const aside = `${path}.stale-${Deno.pid}`;
    try {
      Deno.renameSync(path, aside);
    } catch {
      continue;
    }
    const moved = Deno.readTextFileSync(aside);
    if (moved !== text) {
      // another process took over in between and we moved its live lock: put it back
      try {
        Deno.linkSync(aside, path);
      } catch { /* a third one holds it now */ }
      Deno.removeSync(aside);
      const h = parse(moved);
      throw new TrainDirLockedError(dir, h.pid, h.host, h.since);
    }
    Deno.removeSync(aside);
  }
  const h = (() => {
    try {
      return parse(Deno.readTextFileSync(path));
    } catch {
      return { pid: NaN, host: "", since: "" };
    }
  })();
  throw new TrainDirLockedError(dir, h.pid, h.host, h.since);
}
