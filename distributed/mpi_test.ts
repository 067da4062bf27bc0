import assert from "node:assert/strict";
import { mpiLibraryNames, probeMpiLibrary } from "./mpi.ts";

Deno.test("a missing MPI library is one error naming what was tried and what to install", () => {
  assert.throws(
    () => probeMpiLibrary("libmpi-that-does-not-exist.so.99"),
    (e: Error) =>
      /cannot open an MPI library \(tried libmpi-that-does-not-exist\.so\.99/.test(e.message) &&
      /apt-get install mpich/.test(e.message) && /SLL_MPI_LIB/.test(e.message),
  );
});

Deno.test("MPICH is tried before Open MPI, by soname", () => {
  assert.deepEqual(mpiLibraryNames("linux").slice(0, 2), ["libmpich.so.12", "libmpi.so.40"]);
  assert.ok(mpiLibraryNames("darwin").every((n) => n.endsWith(".dylib")));
});
