/**
 * Data-parallel training and evaluation on MPI (MPICH or Open MPI through Deno's FFI): the
 * binding, launch detection, the process World, and the data-parallel helpers.
 * @module
 */
export {
  initMpi,
  missingLibraryMessage,
  type Mpi,
  type MpiBuffer,
  type MpiFlavor,
  mpiLibraryNames,
  probeMpiLibrary,
  type ReduceOp,
} from "./mpi.ts";
export {
  checkLauncherReachable,
  detectLaunch,
  DISTRIBUTED_MODES,
  type DistributedMode,
  gpuSelectionEnv,
  type LaunchInfo,
  type LocalPlacement,
  localPlacement,
  wantsMpi,
} from "./launch.ts";
export {
  abortWorld,
  currentWorld,
  endWorld,
  SINGLE_PROCESS,
  startWorld,
  type World,
} from "./world.ts";
export {
  averageOverRanks,
  broadcastJson,
  broadcastTree,
  checkSame,
  treeChecksum,
} from "./data_parallel.ts";
