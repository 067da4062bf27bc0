/**
 * The process group this process belongs to: one process (rank 0 of 1, every collective a
 * no-op) or the ranks of an MPI job. Started once per process from `--distributed` and the
 * launcher's environment; the training loop and the evaluations take a `World` and never
 * branch on MPI themselves. Ending: `endWorld` finalises after success, `abortWorld` ends
 * every rank of the job (MPI_Abort) after an error on any one of them.
 * @module
 */
import { initMpi, type Mpi, type MpiBuffer, type ReduceOp } from "./mpi.ts";
import {
  checkLauncherReachable,
  detectLaunch,
  type DistributedMode,
  gpuSelectionEnv,
  localPlacement,
  wantsMpi,
} from "./launch.ts";
import { setThreads } from "../kernels/cpu/wasm/runtime.ts";

/** Collectives over the processes of a job; with one process they leave buffers unchanged. */
export interface World {
  /** This process's rank, from 0. */
  readonly rank: number;
  /** Number of processes. */
  readonly size: number;
  /** Rank 0: the one that writes files and prints. */
  readonly isRoot: boolean;
  /** One line: "1 process" or "rank 1 of 4 (MPICH …, libmpich.so.12)". */
  readonly description: string;
  /** In-place element-wise sum (default) or max over all ranks. */
  allReduce(buf: MpiBuffer, op?: ReduceOp): void;
  /** Every rank's `buf` becomes root's. */
  broadcast(buf: MpiBuffer | Uint8Array, root?: number): void;
  /** Waits for every rank. */
  barrier(): void;
}

/** The world of a single process. */
export const SINGLE_PROCESS: World = Object.freeze({
  rank: 0,
  size: 1,
  isRoot: true,
  description: "1 process",
  allReduce(): void {},
  broadcast(): void {},
  barrier(): void {},
});

let current: World = SINGLE_PROCESS;
let mpi: Mpi | undefined;

function environment(): Record<string, string> {
  try {
    return Deno.env.toObject();
  } catch {
    return {}; // no --allow-env: not launched as far as we can tell
  }
}

/**
 * Starts the world for `mode` (once; later calls return it): MPI when the launcher's
 * environment says this is one of several ranks (or `mode` is "on"), else one process. With
 * several ranks on one machine, each rank's CPU kernels use cores / (ranks on the machine)
 * threads (at least 1), and `SLL_RANK_GPUS` gives each rank its own GPU (see
 * `gpuSelectionEnv`); both must happen before the first kernel or adapter request.
 *
 * @example
 * ```ts ignore
 * import { startWorld } from "./world.ts";
 * const world = startWorld("auto"); // under `mpiexec -n 2 deno …`: rank 0 or 1 of 2
 * ```
 */
export function startWorld(mode: DistributedMode = "auto"): World {
  if (mpi || current !== SINGLE_PROCESS) return current;
  const env = environment();
  const launch = detectLaunch(env);
  if (!wantsMpi(mode, launch)) return current;
  checkLauncherReachable(env);
  const m = initMpi();
  mpi = m;
  if (m.size === 1) return current;
  const local = localPlacement(env);
  if (local.localSize !== undefined && local.localSize > 1) {
    const cores = globalThis.navigator?.hardwareConcurrency || 1;
    setThreads(Math.max(1, Math.floor(cores / local.localSize)));
  }
  for (const [k, v] of Object.entries(gpuSelectionEnv(env.SLL_RANK_GPUS, local.localRank))) {
    Deno.env.set(k, v); // read by the Vulkan loader when WebGPU first starts, after this
  }
  current = Object.freeze({
    rank: m.rank,
    size: m.size,
    isRoot: m.rank === 0,
    description: `rank ${m.rank} of ${m.size} (${m.version}, ${m.library})`,
    allReduce: (buf: MpiBuffer, op?: ReduceOp): void => m.allReduce(buf, op),
    broadcast: (buf: MpiBuffer | Uint8Array, root?: number): void => m.broadcast(buf, root),
    barrier: (): void => m.barrier(),
  });
  return current;
}

/**
 * The world started by `startWorld`, or the single process.
 *
 * @example
 * ```ts
 * import { currentWorld } from "./world.ts";
 * currentWorld().size; // 1 unless startWorld found an MPI launch
 * ```
 */
export function currentWorld(): World {
  return current;
}

/** Finalises MPI after a successful run on every rank (no-op without MPI). */
export function endWorld(): void {
  mpi?.finalize();
}

/**
 * Ends the whole job after an error on this rank: prints `message` prefixed with the rank
 * and calls MPI_Abort with `code` (never returns). Without MPI it does nothing and returns.
 *
 * @example
 * ```ts ignore
 * import { abortWorld } from "./world.ts";
 * abortWorld(1, "error: out of memory"); // under MPI: every rank ends, exit code 1
 * ```
 */
export function abortWorld(code: number, message: string): void {
  if (!mpi || current.size === 1) return;
  const text = new TextEncoder().encode(
    `[rank ${current.rank} of ${current.size}] ${message}\n` +
      `[rank ${current.rank} of ${current.size}] ending every rank of the job (MPI_Abort)\n`,
  );
  try {
    Deno.stderr.writeSync(text);
  } catch { /* stderr closed */ }
  mpi.abort(code || 1);
}
