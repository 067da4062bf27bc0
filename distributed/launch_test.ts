import assert from "node:assert/strict";
import {
  checkLauncherReachable,
  detectLaunch,
  gpuSelectionEnv,
  localPlacement,
  wantsMpi,
} from "./launch.ts";

Deno.test("detectLaunch reads Hydra/Slurm PMI and Open MPI variables", () => {
  assert.deepEqual(detectLaunch({}), { launcher: "none" });
  assert.deepEqual(detectLaunch({ PMI_RANK: "1", PMI_SIZE: "4", PMI_FD: "6" }), {
    launcher: "pmi",
    rank: 1,
    size: 4,
  });
  // Hydra's -pmi-port: no PMI_SIZE, the rank as PMI_ID
  assert.deepEqual(detectLaunch({ PMI_PORT: "host:4242", PMI_ID: "3" }), {
    launcher: "pmi",
    rank: 3,
    size: undefined,
  });
  assert.deepEqual(detectLaunch({ OMPI_COMM_WORLD_RANK: "0", OMPI_COMM_WORLD_SIZE: "2" }), {
    launcher: "openmpi",
    rank: 0,
    size: 2,
  });
});

Deno.test("wantsMpi: auto follows the launcher, off never, on needs a launcher", () => {
  const two = { launcher: "pmi" as const, rank: 0, size: 2 };
  const one = { launcher: "pmi" as const, rank: 0, size: 1 };
  assert.equal(wantsMpi("auto", two), true);
  assert.equal(wantsMpi("auto", one), false); // mpiexec -n 1: plain single process
  assert.equal(wantsMpi("auto", { launcher: "pmi" }), true); // size unknown (-pmi-port)
  assert.equal(wantsMpi("off", two), false);
  assert.equal(wantsMpi("on", one), true);
  assert.equal(wantsMpi("auto", { launcher: "none" }), false);
  assert.throws(
    () => wantsMpi("on", { launcher: "none" }),
    /not started by an MPI launcher.*mpiexec/,
  );
});

Deno.test("a rank started through npx under Hydra is told how to fix the command", () => {
  const env = { PMI_RANK: "0", PMI_SIZE: "2", PMI_FD: "6" };
  const viaNpx = ["node", "sh", "npm exec deno r", "hydra_pmi_proxy", "mpiexec", "bash"];
  assert.throws(
    () => checkLauncherReachable(env, viaNpx),
    (e: Error) =>
      /cannot reach its MPI launcher/.test(e.message) && /-pmi-port/.test(e.message) &&
      /PMI_FD=6/.test(e.message),
  );
  // the deno binary directly, or through deno task: fine (fd 0 is open in every process)
  checkLauncherReachable({ ...env, PMI_FD: "0" }, ["hydra_pmi_proxy", "mpiexec"]);
  checkLauncherReachable({ ...env, PMI_FD: "0" }, ["deno", "hydra_pmi_proxy", "mpiexec"]);
  // PMI over a port needs no descriptor
  checkLauncherReachable({ PMI_PORT: "h:1", PMI_ID: "0" }, viaNpx);
  if (Deno.build.os === "linux") {
    assert.throws(
      () => checkLauncherReachable({ ...env, PMI_FD: "987654" }, ["hydra_pmi_proxy"]),
      /PMI_FD=987654 is not an open file descriptor/,
    );
  }
});

Deno.test("local placement and per-rank GPU selection from the environment", () => {
  assert.deepEqual(localPlacement({ MPI_LOCALRANKID: "1", MPI_LOCALNRANKS: "2" }), {
    localRank: 1,
    localSize: 2,
  });
  assert.deepEqual(
    localPlacement({ OMPI_COMM_WORLD_LOCAL_RANK: "3", OMPI_COMM_WORLD_LOCAL_SIZE: "4" }),
    { localRank: 3, localSize: 4 },
  );
  assert.deepEqual(localPlacement({}), { localRank: undefined, localSize: undefined });
  const list = "pci-0000_01_00_0, pci-0000_41_00_0";
  assert.deepEqual(gpuSelectionEnv(list, 0), {
    DRI_PRIME: "pci-0000_01_00_0",
    MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: "1",
  });
  assert.equal(gpuSelectionEnv(list, 3).DRI_PRIME, "pci-0000_41_00_0"); // modulo the list
  assert.deepEqual(gpuSelectionEnv("10de:2330", 1), {
    MESA_VK_DEVICE_SELECT: "10de:2330",
    MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE: "1",
  });
  assert.deepEqual(gpuSelectionEnv(undefined, 0), {});
  assert.deepEqual(gpuSelectionEnv(list, undefined), {});
  assert.throws(() => gpuSelectionEnv("gpu0", 0), /SLL_RANK_GPUS entry "gpu0".*lspci/);
});
