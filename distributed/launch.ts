/**
 * Launch detection: whether this process was started by an MPI launcher, read from the
 * environment the launcher sets (Hydra/Slurm PMI: PMI_RANK, PMI_SIZE, PMI_FD or PMI_PORT;
 * Open MPI: OMPI_COMM_WORLD_RANK/_SIZE), and the check that a rank can reach its launcher
 * before MPI_Init would die inside the library (Hydra's PMI_FD does not survive `npx`).
 * @module
 */

/** How `--distributed` chooses: from the launcher's environment, always, or never. */
export type DistributedMode = "auto" | "on" | "off";

/** The `--distributed` values. */
export const DISTRIBUTED_MODES: readonly ["auto", "on", "off"] = ["auto", "on", "off"];

/** What the environment says about the launch. */
export interface LaunchInfo {
  /** Which launcher protocol set the variables ("none" when not launched by MPI). */
  launcher: "pmi" | "openmpi" | "none";
  /** Rank from the environment, when given. */
  rank?: number;
  /** Number of processes from the environment, when given (Hydra's -pmi-port does not). */
  size?: number;
}

const int = (s: string | undefined): number | undefined => {
  if (s === undefined || s === "") return undefined;
  const n = Number(s);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
};

/**
 * Reads the launcher's variables from `env`.
 *
 * @example
 * ```ts
 * import { detectLaunch } from "./launch.ts";
 * detectLaunch({ PMI_RANK: "1", PMI_SIZE: "4", PMI_FD: "6" }); // { launcher: "pmi", rank: 1, size: 4 }
 * detectLaunch({}); // { launcher: "none" }
 * ```
 */
export function detectLaunch(env: Readonly<Record<string, string>>): LaunchInfo {
  if (env.OMPI_COMM_WORLD_SIZE !== undefined || env.OMPI_COMM_WORLD_RANK !== undefined) {
    return {
      launcher: "openmpi",
      rank: int(env.OMPI_COMM_WORLD_RANK),
      size: int(env.OMPI_COMM_WORLD_SIZE),
    };
  }
  if (
    env.PMI_RANK !== undefined || env.PMI_SIZE !== undefined || env.PMI_FD !== undefined ||
    env.PMI_PORT !== undefined
  ) {
    return {
      launcher: "pmi",
      rank: int(env.PMI_RANK ?? env.PMI_ID),
      size: int(env.PMI_SIZE),
    };
  }
  return { launcher: "none" };
}

/**
 * Whether MPI should be initialised for `mode` and this launch: "off" never, "on" always (an
 * error without a launcher), "auto" when a launcher started more than one process (or did not
 * say how many, as Hydra's `-pmi-port`).
 *
 * @example
 * ```ts
 * import { wantsMpi } from "./launch.ts";
 * wantsMpi("auto", { launcher: "pmi", rank: 0, size: 2 }); // true
 * wantsMpi("auto", { launcher: "none" }); // false
 * ```
 */
export function wantsMpi(mode: DistributedMode, launch: LaunchInfo): boolean {
  if (mode === "off") return false;
  if (launch.launcher === "none") {
    if (mode === "on") {
      throw new Error(
        "--distributed on, but this process was not started by an MPI launcher (no PMI_RANK, " +
          "PMI_PORT or OMPI_COMM_WORLD_RANK in its environment); start it with " +
          "`mpiexec -n N deno task …`, or drop --distributed on",
      );
    }
    return false;
  }
  return mode === "on" || launch.size === undefined || launch.size > 1;
}

/** Names of this process's ancestors, nearest first (Linux /proc; empty elsewhere). */
function ancestors(max = 12): string[] {
  const names: string[] = [];
  try {
    let pid = Deno.pid;
    for (let i = 0; i < max; i++) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!ppid) break;
      names.push(Deno.readTextFileSync(`/proc/${ppid}/comm`).trim());
      pid = ppid;
    }
  } catch { /* not Linux, or no --allow-read: skip the check */ }
  return names;
}

/**
 * Throws a message with the fix when this rank cannot reach its launcher: under Hydra's
 * default PMI, the launcher hands each rank a socket as file descriptor `PMI_FD`; npm's `npx`
 * wrapper (node) does not pass it on to deno, and MPI_Init would then die inside the library
 * ("PMI_Get_appnum returned -1"). Found from the process's ancestors (a node between this
 * process and `hydra_pmi_proxy`) or a descriptor that is not open.
 *
 * @example
 * ```ts ignore
 * import { checkLauncherReachable } from "./launch.ts";
 * checkLauncherReachable(Deno.env.toObject());
 * ```
 */
export function checkLauncherReachable(
  env: Readonly<Record<string, string>>,
  parents: readonly string[] = ancestors(),
): void {
  const fd = env.PMI_FD;
  if (fd === undefined || env.PMI_PORT !== undefined) return;
  const fix = "start the ranks with the deno binary itself (`mpiexec -n N deno task …`, deno on " +
    "PATH) or let Hydra pass PMI over a port: `mpiexec -pmi-port -n N npx deno task …`";
  const proxy = parents.findIndex((p) => /hydra_pmi_proxy|mpiexec|mpirun|srun|slurmstepd/.test(p));
  const before = proxy < 0 ? [] : parents.slice(0, proxy);
  const wrapper = before.find((p) => p === "node" || p.startsWith("npm") || p === "npx");
  if (wrapper !== undefined) {
    throw new Error(
      `this rank (PMI_RANK=${env.PMI_RANK ?? "?"}) cannot reach its MPI launcher: it was started ` +
        `through ${wrapper} (npx), which does not pass Hydra's PMI file descriptor ` +
        `PMI_FD=${fd} on to deno; ${fix}`,
    );
  }
  if (Deno.build.os === "linux" && parents.length > 0) {
    let open = true;
    try {
      Deno.statSync(`/proc/self/fd/${fd}`);
    } catch {
      open = false;
    }
    if (!open) {
      throw new Error(
        `this rank (PMI_RANK=${env.PMI_RANK ?? "?"}) cannot reach its MPI launcher: ` +
          `PMI_FD=${fd} is not an open file descriptor here (a wrapper between mpiexec and ` +
          `deno closed it); ${fix}`,
      );
    }
  }
}

/** This process's place among the ranks on its own machine, when the launcher says. */
export interface LocalPlacement {
  /** Rank among the processes on this machine (Hydra, Open MPI, Slurm). */
  localRank?: number;
  /** Number of ranks on this machine. */
  localSize?: number;
}

/**
 * Reads the node-local rank and count: Hydra's MPI_LOCALRANKID/MPI_LOCALNRANKS, Open MPI's
 * OMPI_COMM_WORLD_LOCAL_RANK/_LOCAL_SIZE, Slurm's SLURM_LOCALID/SLURM_NTASKS_PER_NODE.
 *
 * @example
 * ```ts
 * import { localPlacement } from "./launch.ts";
 * localPlacement({ MPI_LOCALRANKID: "1", MPI_LOCALNRANKS: "2" }); // { localRank: 1, localSize: 2 }
 * ```
 */
export function localPlacement(env: Readonly<Record<string, string>>): LocalPlacement {
  return {
    localRank: int(env.MPI_LOCALRANKID ?? env.OMPI_COMM_WORLD_LOCAL_RANK ?? env.SLURM_LOCALID),
    localSize: int(
      env.MPI_LOCALNRANKS ?? env.OMPI_COMM_WORLD_LOCAL_SIZE ?? env.SLURM_NTASKS_PER_NODE,
    ),
  };
}

/**
 * The environment that makes this rank's WebGPU see one GPU of `SLL_RANK_GPUS` (a comma list,
 * one entry per GPU, taken by local rank modulo its length): an entry `pci-DDDD_BB_DD_F` (PCI
 * address, tells identical GPUs apart) becomes `DRI_PRIME`, an entry `vendor:device` (hex)
 * becomes `MESA_VK_DEVICE_SELECT`; both with `MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE=1`, so
 * Mesa's Vulkan device-select layer (an implicit loader layer, also in front of non-Mesa
 * drivers when installed) exposes only that GPU to wgpu. Empty without the list or a rank.
 *
 * @example
 * ```ts
 * import { gpuSelectionEnv } from "./launch.ts";
 * gpuSelectionEnv("pci-0000_01_00_0,pci-0000_02_00_0", 1);
 * // { DRI_PRIME: "pci-0000_02_00_0", MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: "1" }
 * ```
 */
export function gpuSelectionEnv(
  list: string | undefined,
  localRank: number | undefined,
): Record<string, string> {
  const gpus = (list ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (gpus.length === 0 || localRank === undefined) return {};
  const pick = gpus[localRank % gpus.length];
  if (/^pci-[0-9a-f]{4}_[0-9a-f]{2}_[0-9a-f]{2}_[0-7]$/i.test(pick)) {
    return { DRI_PRIME: pick, MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: "1" };
  }
  if (/^[0-9a-f]{1,4}:[0-9a-f]{1,4}$/i.test(pick)) {
    return { MESA_VK_DEVICE_SELECT: pick, MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: "1" };
  }
  throw new Error(
    `SLL_RANK_GPUS entry "${pick}" is neither a PCI address pci-DDDD_BB_DD_F nor a ` +
      `vendor:device pair in hex (e.g. 10de:2330); list the GPUs with ` +
      "`MESA_VK_DEVICE_SELECT=list vulkaninfo` or `lspci -D`",
  );
}
