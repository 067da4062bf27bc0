/**
 * MPI through Deno's FFI: opens MPICH (`libmpich.so.12`) or Open MPI (`libmpi.so.40`), or the
 * file named by `SLL_MPI_LIB`, and exposes the few calls data-parallel training needs on
 * MPI_COMM_WORLD. Handles differ by implementation: MPICH's are plain ints from its `mpi.h`,
 * Open MPI's are addresses of global objects (read with Deno's `statics`). Only the main JS
 * thread may call MPI (initialised with MPI_THREAD_FUNNELED); every call blocks that thread.
 * @module
 */

/** Element types an all-reduce or broadcast accepts. */
export type MpiBuffer = Float32Array | Float64Array | Int32Array;

/** Reduction operators. */
export type ReduceOp = "sum" | "max";

/** The MPI implementation a library file belongs to. */
export type MpiFlavor = "mpich" | "openmpi";

/** An initialised MPI library bound to MPI_COMM_WORLD. */
export interface Mpi {
  /** This process's rank in MPI_COMM_WORLD. */
  readonly rank: number;
  /** Number of processes in MPI_COMM_WORLD. */
  readonly size: number;
  /** The library file that was opened. */
  readonly library: string;
  /** MPICH or Open MPI. */
  readonly flavor: MpiFlavor;
  /** The library's own version line (MPI_Get_library_version, first line). */
  readonly version: string;
  /** In-place all-reduce: every rank's `buf` becomes the element-wise sum (or max). */
  allReduce(buf: MpiBuffer, op?: ReduceOp): void;
  /** Overwrites `buf` on every rank with root's `buf` (all ranks pass the same length). */
  broadcast(buf: MpiBuffer | Uint8Array, root?: number): void;
  /** Waits until every rank reached the barrier. */
  barrier(): void;
  /** MPI_Abort on MPI_COMM_WORLD: ends every rank of the job with `code`. Never returns. */
  abort(code: number): never;
  /** MPI_Finalize (idempotent). After it, no other call is allowed. */
  finalize(): void;
}

/** MPICH's handle values (`mpi.h` of MPICH 3.x/4.x: MPI_COMM_WORLD, MPI_FLOAT, …). */
const MPICH_HANDLES = {
  comm: 0x44000000,
  float: 0x4c00040a,
  double: 0x4c00080b,
  int: 0x4c000405,
  byte: 0x4c00010d,
  sum: 0x58000003,
  max: 0x58000001,
} as const;

/** Open MPI's predefined objects whose addresses are the handles (`OMPI_PREDEFINED_GLOBAL`). */
const OMPI_GLOBALS = {
  comm: "ompi_mpi_comm_world",
  float: "ompi_mpi_float",
  double: "ompi_mpi_double",
  int: "ompi_mpi_int",
  byte: "ompi_mpi_byte",
  sum: "ompi_mpi_op_sum",
  max: "ompi_mpi_op_max",
} as const;

type HandleName = keyof typeof MPICH_HANDLES;
type Handle = number | Deno.PointerValue;

/** MPI_THREAD_FUNNELED: 1 in both MPICH's and Open MPI's `mpi.h`. */
const THREAD_FUNNELED = 1;
/** MPI counts are C ints: larger buffers go in pieces of this many elements. */
const MAX_COUNT = 1 << 30;

/**
 * Library names tried in order when `SLL_MPI_LIB` is not set: MPICH first (Debian's and
 * Fedora's default), then Open MPI.
 *
 * @example
 * ```ts
 * import { mpiLibraryNames } from "./mpi.ts";
 * mpiLibraryNames("linux")[0]; // "libmpich.so.12"
 * ```
 */
export function mpiLibraryNames(os: string = Deno.build.os): string[] {
  return os === "darwin"
    ? ["libmpich.12.dylib", "libmpi.40.dylib", "libmpich.dylib", "libmpi.dylib"]
    : ["libmpich.so.12", "libmpi.so.40", "libmpich.so", "libmpi.so.12", "libmpi.so"];
}

/** The symbols, with handles typed as i32 (MPICH) or pointer (Open MPI). */
function functionTable(h: "i32" | "pointer") {
  return {
    MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
    MPI_Initialized: { parameters: ["buffer"], result: "i32" },
    MPI_Finalized: { parameters: ["buffer"], result: "i32" },
    MPI_Comm_rank: { parameters: [h, "buffer"], result: "i32" },
    MPI_Comm_size: { parameters: [h, "buffer"], result: "i32" },
    MPI_Allreduce: { parameters: ["pointer", "buffer", "i32", h, h, h], result: "i32" },
    MPI_Bcast: { parameters: ["buffer", "i32", h, "i32", h], result: "i32" },
    MPI_Barrier: { parameters: [h], result: "i32" },
    MPI_Abort: { parameters: [h, "i32"], result: "i32" },
    MPI_Finalize: { parameters: [], result: "i32" },
    MPI_Error_string: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  } as const;
}

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => number;
type Symbols = { [K in keyof ReturnType<typeof functionTable>]: Fn };

/** Says how to get an MPI library onto this machine. */
export function missingLibraryMessage(tried: readonly string[], detail: string): string {
  return `cannot open an MPI library (tried ${tried.join(", ")}: ${detail}); install one — ` +
    `Debian/Ubuntu: apt-get install mpich (or openmpi-bin), Fedora: dnf install mpich, ` +
    `macOS: brew install mpich — or point SLL_MPI_LIB at libmpich.so / libmpi.so`;
}

/** Opens the first library that loads and says which implementation it is. */
function openLibrary(
  names: readonly string[],
): { path: string; flavor: MpiFlavor; version: string } {
  const errors: string[] = [];
  for (const name of names) {
    let probe;
    try {
      probe = Deno.dlopen(
        name,
        {
          MPI_Get_library_version: { parameters: ["buffer", "buffer"], result: "i32" },
        } as const,
      );
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    // MPI-3 allows MPI_Get_library_version before MPI_Init (MPI 4.0 §9.1.1)
    const text = new Uint8Array(8192);
    const len = new Int32Array(1);
    probe.symbols.MPI_Get_library_version(text, len);
    probe.close();
    const version = new TextDecoder().decode(text.subarray(0, Math.max(0, len[0])))
      .replace(/\0.*$/s, "").trim();
    const flavor: MpiFlavor = /open mpi/i.test(version) ? "openmpi" : "mpich";
    return { path: name, flavor, version: version.split("\n")[0] };
  }
  throw new Error(missingLibraryMessage(names, errors.join("; ")));
}

/**
 * Finds the MPI library `initMpi` would open (without initialising it): its file, flavor and
 * version line. Throws the install hint when none loads.
 *
 * @example
 * ```ts ignore
 * import { probeMpiLibrary } from "./mpi.ts";
 * probeMpiLibrary(); // { path: "libmpich.so.12", flavor: "mpich", version: "MPICH Version: 4.0.2" }
 * ```
 */
export function probeMpiLibrary(
  library?: string,
): { path: string; flavor: MpiFlavor; version: string } {
  let envLib: string | undefined;
  try {
    envLib = Deno.env.get("SLL_MPI_LIB") || undefined;
  } catch { /* no --allow-env */ }
  return openLibrary(library ? [library] : envLib ? [envLib] : mpiLibraryNames());
}

let opened: Mpi | undefined;

/**
 * Opens and initialises MPI (once per process; later calls return the same object). The
 * library is `options.library`, else `$SLL_MPI_LIB`, else the first of `mpiLibraryNames()` that
 * loads. Must run on the main thread of a process started by an MPI launcher (or as a
 * singleton of size 1). Sets `UCX_ERROR_SIGNALS=""` unless set, so UCX (used by MPICH's ch4
 * and by Open MPI) leaves SIGSEGV to V8's WebAssembly trap handler.
 *
 * @example
 * ```ts ignore
 * import { initMpi } from "./mpi.ts";
 * const mpi = initMpi();
 * const g = new Float32Array([mpi.rank]);
 * mpi.allReduce(g, "sum"); // 0 + 1 + … + (size − 1) on every rank
 * mpi.finalize();
 * ```
 */
export function initMpi(options: { library?: string } = {}): Mpi {
  if (opened) return opened;
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
    throw new Error("initMpi: MPI may only be used from the main JS thread, not from a worker");
  }
  try {
    if (Deno.env.get("UCX_ERROR_SIGNALS") === undefined) Deno.env.set("UCX_ERROR_SIGNALS", "");
  } catch { /* no --allow-env */ }
  const { path, flavor, version } = probeMpiLibrary(options.library);

  let handle: (n: HandleName) => Handle;
  let inPlace: Deno.PointerValue;
  let sym: Symbols;
  if (flavor === "mpich") {
    sym = Deno.dlopen(path, functionTable("i32")).symbols as unknown as Symbols;
    handle = (n) => MPICH_HANDLES[n];
    inPlace = Deno.UnsafePointer.create(0xffffffffffffffffn); // MPI_IN_PLACE = (void *) -1
  } else {
    const statics = Object.fromEntries(
      Object.values(OMPI_GLOBALS).map((g) => [g, { type: "pointer" }] as const),
    ) as Record<string, { type: "pointer" }>;
    const lib = Deno.dlopen(path, { ...functionTable("pointer"), ...statics });
    sym = lib.symbols as unknown as Symbols;
    const values = lib.symbols as unknown as Record<string, Deno.PointerValue>;
    handle = (n) => values[OMPI_GLOBALS[n]]; // the address of the global is the handle
    inPlace = Deno.UnsafePointer.create(1n); // Open MPI: MPI_IN_PLACE = (void *) 1
  }

  const check = (what: string, rc: number): void => {
    if (rc === 0) return;
    const text = new Uint8Array(1024);
    const len = new Int32Array(1);
    let detail = `error code ${rc}`;
    try {
      if (sym.MPI_Error_string(rc, text, len) === 0) {
        detail = new TextDecoder().decode(text.subarray(0, len[0]));
      }
    } catch { /* keep the code */ }
    throw new Error(`${what} failed: ${detail}`);
  };
  const flag = new Int32Array(1);
  check("MPI_Initialized", sym.MPI_Initialized(flag));
  if (!flag[0]) {
    const provided = new Int32Array(1);
    check("MPI_Init_thread", sym.MPI_Init_thread(null, null, THREAD_FUNNELED, provided));
  }
  const out = new Int32Array(1);
  const comm = handle("comm");
  check("MPI_Comm_rank", sym.MPI_Comm_rank(comm, out));
  const rank = out[0];
  check("MPI_Comm_size", sym.MPI_Comm_size(comm, out));
  const size = out[0];
  let finalized = false;

  const datatype = (buf: MpiBuffer | Uint8Array): Handle => {
    if (buf instanceof Float32Array) return handle("float");
    if (buf instanceof Float64Array) return handle("double");
    if (buf instanceof Int32Array) return handle("int");
    if (buf instanceof Uint8Array) return handle("byte");
    throw new TypeError(
      `MPI: unsupported buffer ${
        (buf as object)?.constructor?.name
      }; use Float32Array, Float64Array or Int32Array`,
    );
  };
  const live = (what: string): void => {
    if (finalized) throw new Error(`${what} after MPI_Finalize: MPI is finished in this process`);
  };
  // views of at most MAX_COUNT elements, in order
  const pieces = <T extends MpiBuffer | Uint8Array>(buf: T): T[] => {
    const out: T[] = [];
    for (let i = 0; i < buf.length; i += MAX_COUNT) {
      out.push(buf.subarray(i, Math.min(buf.length, i + MAX_COUNT)) as T);
    }
    return out;
  };

  opened = {
    rank,
    size,
    library: path,
    flavor,
    version,
    allReduce(buf: MpiBuffer, op: ReduceOp = "sum"): void {
      live("allReduce");
      const t = datatype(buf);
      if (op !== "sum" && op !== "max") {
        throw new RangeError(`MPI allReduce: unknown op "${op}"; use "sum" or "max"`);
      }
      for (const p of pieces(buf)) {
        check(
          `MPI_Allreduce(${p.length} × ${buf.constructor.name}, ${op})`,
          sym.MPI_Allreduce(inPlace, p, p.length, t, handle(op), comm),
        );
      }
    },
    broadcast(buf: MpiBuffer | Uint8Array, root = 0): void {
      live("broadcast");
      if (!Number.isInteger(root) || root < 0 || root >= size) {
        throw new RangeError(`MPI broadcast: root ${root} is not a rank of 0..${size - 1}`);
      }
      const t = datatype(buf);
      for (const p of pieces(buf)) {
        check(`MPI_Bcast(${p.length}, root ${root})`, sym.MPI_Bcast(p, p.length, t, root, comm));
      }
    },
    barrier(): void {
      live("barrier");
      check("MPI_Barrier", sym.MPI_Barrier(comm));
    },
    abort(code: number): never {
      sym.MPI_Abort(comm, code);
      // MPI_Abort does not return on a working library; make sure this process ends anyway
      Deno.exit(code || 1);
    },
    finalize(): void {
      if (finalized) return;
      finalized = true;
      check("MPI_Finalize", sym.MPI_Finalize());
    },
  };
  return opened;
}
