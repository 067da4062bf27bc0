/**
 * WGSL builders for batched matmul C = op(A)·op(B), register-blocked: the "software" profile's
 * kernels (GPUs run the workgroup-memory tiled GEMM of gemm.wgsl.ts instead).
 *
 * The wide kernel: each invocation computes a tm × (4·tn4) block of C, tm rows shared by the
 * workgroup and tn4 adjacent vec4 column groups of its own. The narrow kernel (outputs a few
 * columns wide, software adapters only): each invocation computes a few whole rows, so no lane
 * idles on a column that does not exist. Software rasterisers (llvmpipe, lavapipe) run a
 * workgroup as SIMD lanes on one core and want large per-invocation tiles.
 *
 * What a load costs on the software adapters (Mesa 22): every storage load is a loop over the
 * SIMD lanes, whatever the address pattern; stubbing loads out of a kernel puts it at roughly 11
 * cycles per load instruction plus 5 per component, more than the FMAs it feeds. So the kernels
 * load vec4s wherever the layout gives 4 adjacent values: 4 rows of A when A is stored
 * transposed, 4 columns of B, 4 k of a row of A or of a column of B stored transposed (the
 * narrow kernel).
 *
 * The k loop is cut into parts of at most LOOP_BUDGET iterations (Mesa truncates loops past
 * 65,535): with more than one part the partial products are written [part, batch, m, n] and
 * summed by the reduction.
 * @module
 */
import { type KernelSource, LOOP_BUDGET, paramsStruct, u } from "./wgsl.ts";

/** Register tile of the matmul kernels. */
export interface MatmulTile {
  /** Rows of C per workgroup (each invocation computes all of them). */
  tm: number;
  /** vec4 column groups per invocation (at most; shrunk for narrow outputs). */
  tn4: number;
  /** Invocations per workgroup, side by side along n. */
  wg: number;
  /**
   * Rows and vec4 column groups per invocation of the wide kernel when A's rows load as vec4s
   * (A stored transposed, m % 4 = 0), if they differ from tm, tn4.
   */
  vecA?: { tm: number; tn4: number };
  /** Widest n that takes the narrow kernel (0: never); it reads a transposed B in place. */
  narrowN: number;
  /**
   * Whether the caller should hand the wide kernel A stored transposed ([k, m], copied when it
   * is not), so that one vec4 load fetches 4 rows of A instead of 4 scalar loads: worth the copy
   * on software adapters, where loads cost per instruction; not on GPUs.
   */
  packA: boolean;
}

/**
 * Tile for CPU-backed adapters, measured on lavapipe: 16×32 per invocation, 8 per group, with
 * scalar A loads (24 rows or more fall off a cliff, 30–40% slower: likely the spilled
 * accumulators outgrowing the L1 cache); with vec4 A loads 32×16 is ~6% faster (same 12 loads
 * per k step, and a row's 4 B vec4s can stay in registers).
 */
export const CPU_TILE: MatmulTile = {
  tm: 16,
  tn4: 8,
  wg: 8,
  vecA: { tm: 32, tn4: 4 },
  narrowN: 16,
  packA: true,
};

/**
 * The k range one invocation covers (k parts split longer products).
 *
 * @example
 * ```ts
 * import { matmulParts } from "./matmul.wgsl.ts";
 * matmulParts(70000); // { parts: 5, kChunk: 16384 }
 * ```
 */
export function matmulParts(k: number): { parts: number; kChunk: number } {
  const kChunk = Math.min(Math.max(k, 1), LOOP_BUDGET);
  return { parts: Math.max(1, Math.ceil(k / kChunk)), kChunk };
}

/**
 * Whether `matmulKernel` takes B stored transposed ([n, k]) in place for this tile and n (the
 * narrow kernel: B is a few columns); otherwise the caller copies it to [k, n] first, so that
 * the wide kernel's B loads are vec4s of 4 columns (on GPUs: coalesced across the lanes).
 *
 * @example
 * ```ts
 * import { CPU_TILE, readsTransB } from "./matmul.wgsl.ts";
 * readsTransB(CPU_TILE, 10); // true
 * readsTransB(CPU_TILE, 1024); // false
 * ```
 */
export function readsTransB(tile: MatmulTile, n: number): boolean {
  return n <= tile.narrowN;
}

const XYZW = "xyzw";

/**
 * C[z] (+ part offset) = op(A[z]) · op(B[z]) over k ∈ chunk(part). `aStride`/`bStride` are the
 * matrix strides between batch items (0 broadcasts one matrix over the batch); with `transA`,
 * A is stored [k, m]; with `transB`, B is stored [n, k] (only where `readsTransB`).
 *
 * @example
 * ```ts
 * import { CPU_TILE, matmulKernel } from "./matmul.wgsl.ts";
 * const k = matmulKernel(64, 70000, 32, 1, 0, 0, false, CPU_TILE);
 * const t = matmulKernel(256, 1024, 10, 1, 0, 0, false, CPU_TILE, true); // B stored [10, 1024]
 * ```
 */
export function matmulKernel(
  m: number,
  k: number,
  n: number,
  batch: number,
  aStride: number,
  bStride: number,
  transA: boolean,
  tile: MatmulTile,
  transB = false,
): KernelSource {
  const d: Dims = { m, k, n, batch, aStride, bStride, transA };
  if (readsTransB(tile, n)) return narrowKernel(d, transB, tile.wg);
  if (transB) throw new RangeError(`matmulKernel: pass B [${n}, ${k}] copied to [${k}, ${n}]`);
  return wideKernel(d, tile);
}

/** The problem both kernels solve (`matmulKernel`'s arguments). */
interface Dims {
  m: number;
  k: number;
  n: number;
  batch: number;
  aStride: number;
  bStride: number;
  transA: boolean;
}

/** The Params struct both kernels share. */
function params({ m, k, n, batch, aStride, bStride }: Dims) {
  return paramsStruct([
    u("m", m, "rows of C"),
    u("k", k, "reduced length"),
    u("n", n, "columns of C"),
    u("batch", batch, "batch items (grid z = part · batch + item)"),
    u("aStride", aStride, "elements between A matrices (0: broadcast)"),
    u("bStride", bStride, "elements between B matrices (0: broadcast)"),
    u("kChunk", matmulParts(k).kChunk, "k entries per part"),
    u("cStride", batch * m * n, "elements between the parts' outputs"),
  ]);
}

/** The lines every kernel starts with: item, part, k range, operand bases. */
const PROLOGUE = `let item = wid.z % p.batch;
  let part = wid.z / p.batch;
  let k0 = part * p.kChunk;
  let k1 = min(p.k, k0 + p.kChunk);
  let aBase = item * p.aStride;
  let bBase = item * p.bStride;
  let cBase = part * p.cStride + item * p.m * p.n;`;

/**
 * How A is fetched for one step of `ku` k: lines computed once before the loop, the loads of
 * a step, and the WGSL expression of A[row r of the invocation, kk + j].
 */
function fetchA(
  tm: number,
  ku: number,
  m: number,
  transA: boolean,
): {
  mode: "k4" | "m4" | "s";
  setup: string[];
  loads: string[];
  at: (r: number, j: number) => string;
} {
  const R = Array.from({ length: tm }, (_, r) => r);
  const J = Array.from({ length: ku }, (_, j) => j);
  const kAt = (j: number) => (j ? `(kk + ${j}u)` : "kk");
  if (!transA && ku === 4) {
    // A[r, kk..kk+3] in one load
    return {
      mode: "k4",
      setup: R.map((r) => `let ar${r} = (aBase + min(row0 + ${r}u, p.m - 1u) * p.k) / 4u;`),
      loads: R.map((r) => `let av${r} = a4[ar${r} + kk / 4u];`),
      at: (r, j) => `av${r}.${XYZW[j]}`,
    };
  }
  if (transA && m % 4 === 0 && tm % 4 === 0) {
    // A stored [k, m]: rows row0..row0+3 are adjacent for each k (row0 % 4 = 0)
    const Q = Array.from({ length: tm / 4 }, (_, q) => q);
    return {
      mode: "m4",
      setup: Q.map((q) => `let aq${q} = aBase / 4u + min(row0 / 4u + ${q}u, p.m / 4u - 1u);`),
      loads: J.flatMap((j) =>
        Q.map((q) => `let av${j}_${q} = a4[aq${q} + ${kAt(j)} * (p.m / 4u)];`)
      ),
      at: (r, j) => `av${j}_${r >> 2}.${XYZW[r & 3]}`,
    };
  }
  return {
    mode: "s",
    setup: R.map((r) =>
      `let ar${r} = aBase + min(row0 + ${r}u, p.m - 1u)${transA ? "" : " * p.k"};`
    ),
    // loaded once per k step, not once per use
    loads: J.flatMap((j) =>
      R.map((r) => `let a${j}_${r} = a[ar${r} + ${transA ? `${kAt(j)} * p.m` : kAt(j)}];`)
    ),
    at: (r, j) => `a${j}_${r}`,
  };
}

/** A storage binding, as vec4s (name suffixed 4) or scalars. */
function binding(i: number, name: string, vec: boolean, access = "read"): string {
  return `@group(0) @binding(${i}) var<storage, ${access}> ${name}${vec ? "4" : ""}: array<${
    vec ? "vec4<f32>" : "f32"
  }>;`;
}

/** Any n (B stored [k, n]): tm rows per workgroup, 4·tn4 columns per invocation. */
function wideKernel(d: Dims, tile: MatmulTile): KernelSource {
  const { m, k, n, batch, transA } = d;
  const { parts } = matmulParts(k);
  const wg = tile.wg;
  const vecA = transA && m % 4 === 0 ? tile.vecA ?? tile : tile;
  // the tile shrunk to fit the output evenly (same workgroup count, fewest padded rows and
  // columns): m = 45 takes 3 × 15 rows instead of 3 × 16; n = 408 (102 vec4s over 2 groups of 8
  // lanes) takes 7 vec4s per lane instead of 8; narrow outputs keep one lane per vec4 column
  const n4 = Math.max(1, Math.ceil(n / 4));
  const tn4 = Math.ceil(n4 / (wg * Math.ceil(n4 / (wg * vecA.tn4))));
  let tm = Math.ceil(Math.max(m, 1) / Math.ceil(Math.max(m, 1) / vecA.tm));
  // rows in whole vec4s of a transposed A (row0 % 4 = 0)
  if (transA && m % 4 === 0 && vecA.tm % 4 === 0) tm = Math.ceil(tm / 4) * 4;
  // one k per step: stepping 4 k with A[r, kk..kk+3] loads measured slower on lavapipe (more
  // values live across the step); the caller transposes A instead (MatmulTile.packA)
  const A = fetchA(tm, 1, m, transA);
  const { decl, data } = params(d);
  const R = Array.from({ length: tm }, (_, r) => r);
  const G = Array.from({ length: tn4 }, (_, g) => g);
  const vec = n % 4 === 0;
  // column offsets (clamped for the loads; stores are masked), computed once outside the loop
  const setup = [...A.setup];
  const loads = [...A.loads];
  for (const g of G) {
    setup.push(
      vec
        ? `let cg${g} = bBase / 4u + min(col4 + ${g}u, n4 - 1u);`
        : [0, 1, 2, 3].map((i) =>
          `let c${g}_${i} = bBase + min((col4 + ${g}u) * 4u + ${i}u, p.n - 1u);`
        ).join(" "),
    );
    loads.push(
      vec
        ? `let bv${g} = b4[cg${g} + kk * n4];`
        : `let bv${g} = vec4<f32>(${
          [0, 1, 2, 3].map((i) => `b[kk * p.n + c${g}_${i}]`).join(", ")
        });`,
    );
  }
  const fma = R.map((r) => G.map((g) => `acc${r}_${g} += ${A.at(r, 0)} * bv${g};`).join(" "));
  // whole vec4 stores when n % 4 = 0 (a store, like a load, is a loop over the lanes)
  const store = (r: number, g: number) =>
    vec
      ? `if (col4 + ${g}u < n4) { out4[(cBase + (row0 + ${r}u) * p.n) / 4u + col4 + ${g}u] = acc${r}_${g}; }`
      : `store(cBase + (row0 + ${r}u) * p.n, (col4 + ${g}u) * 4u, acc${r}_${g});`;
  const code = `// C[z][r, c] = Σ_{kk ∈ chunk(part)} A[z][r, kk] · B[z][kk, c]${
    transA ? " (A stored transposed, [k, m])" : ""
  }
// workgroup (x, y, z): columns [x·${wg * tn4 * 4}, +${wg * tn4 * 4}), rows [y·${tm}, +${tm}),
// z = part · batch + item; each invocation accumulates ${tm}×${
    tn4 * 4
  } of C over ≤ ${LOOP_BUDGET} k steps.
${decl}
@group(0) @binding(0) var<uniform> p: Params;
${binding(1, "a", A.mode !== "s")}
${binding(2, "b", vec)}
${binding(3, "out", vec, "read_write")}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${PROLOGUE}
  let col4 = (wid.x * ${wg}u + lid.x) * ${tn4}u;
  let row0 = wid.y * ${tm}u;
  let n4 = (p.n + 3u) / 4u;
  ${setup.join("\n  ")}
  ${R.map((r) => G.map((g) => `var acc${r}_${g} = vec4<f32>(0.0);`).join(" ")).join("\n  ")}
  for (var kk = k0; kk < k1; kk++) {
    ${loads.join("\n    ")}
    ${fma.join("\n    ")}
  }
  ${
    R.map((r) => `if (row0 + ${r}u < p.m) {\n    ${G.map((g) => store(r, g)).join("\n    ")}\n  }`)
      .join("\n  ")
  }
}
${
    vec ? "" : `fn store(base: u32, col: u32, v: vec4<f32>) {
  if (col < p.n) { out[base + col] = v.x; }
  if (col + 1u < p.n) { out[base + col + 1u] = v.y; }
  if (col + 2u < p.n) { out[base + col + 2u] = v.z; }
  if (col + 3u < p.n) { out[base + col + 3u] = v.w; }
}
`
  }`;
  const grid: [number, number, number] = [
    Math.ceil(n / (wg * tn4 * 4)),
    Math.ceil(m / tm),
    batch * parts,
  ];
  return { code, grid, params: data };
}

/**
 * C with at most 16 columns: each invocation computes tm whole rows (lanes side by side along
 * m), so every lane does useful work and B's few values per k are loaded as whole vec4s.
 */
function narrowKernel(d: Dims, transB: boolean, wg: number): KernelSource {
  const { m, k, n, batch, transA } = d;
  const { parts } = matmulParts(k);
  // rows per invocation: 4 where that still leaves ≥ 16 workgroups to share out, else fewer
  const tm = m >= 64 * wg ? 4 : m >= 32 * wg ? 2 : 1;
  const ku = k % 4 === 0 ? 4 : 1;
  const A = fetchA(tm, ku, m, transA);
  const { decl, data } = params(d);
  const R = Array.from({ length: tm }, (_, r) => r);
  const J = Array.from({ length: ku }, (_, j) => j);
  const Q = Array.from({ length: Math.ceil(n / 4) }, (_, q) => q);
  const setup = [...A.setup];
  const loads = [...A.loads];
  let bAt: (j: number, c: number) => string;
  if (ku === 4 && !transB) {
    // 4 rows of B are 4n adjacent values, n whole vec4s (kk·n % 4 = 0)
    setup.push("let bq = bBase / 4u;");
    for (let i = 0; i < n; i++) loads.push(`let bq${i} = b4[bq + kk / 4u * p.n + ${i}u];`);
    bAt = (j, c) => `bq${(j * n + c) >> 2}.${XYZW[(j * n + c) & 3]}`;
  } else if (ku === 4) {
    // B stored [n, k]: 4 k of each column
    for (let c = 0; c < n; c++) {
      setup.push(`let bc${c} = (bBase + ${c}u * p.k) / 4u;`);
      loads.push(`let bt${c} = b4[bc${c} + kk / 4u];`);
    }
    bAt = (j, c) => `bt${c}.${XYZW[j]}`;
  } else if (!transB && n % 4 === 0) {
    // one row of B, n / 4 whole vec4s
    for (let i = 0; i < n / 4; i++) {
      loads.push(`let bq${i} = b4[(bBase + kk * p.n) / 4u + ${i}u];`);
    }
    bAt = (_j, c) => `bq${c >> 2}.${XYZW[c & 3]}`;
  } else {
    for (let c = 0; c < n; c++) {
      loads.push(`let b${c} = b[bBase + ${transB ? `${c}u * p.k + kk` : `kk * p.n + ${c}u`}];`);
    }
    bAt = (_j, c) => `b${c}`;
  }
  const bVec = (j: number, q: number) =>
    `vec4<f32>(${[0, 1, 2, 3].map((i) => (4 * q + i < n ? bAt(j, 4 * q + i) : "0.0")).join(", ")})`;
  const fma = R.map((r) =>
    Q.map((q) => J.map((j) => `acc${r}_${q} += ${A.at(r, j)} * ${bVec(j, q)};`).join(" ")).join(
      " ",
    )
  );
  const store = (r: number) =>
    Q.flatMap((q) =>
      [0, 1, 2, 3].filter((i) => 4 * q + i < n).map((i) =>
        `out[cBase + (row0 + ${r}u) * p.n + ${4 * q + i}u] = acc${r}_${q}.${XYZW[i]};`
      )
    ).join(" ");
  const code =
    `// C[z][r, c] = Σ_{kk ∈ chunk(part)} A[z][r, kk] · B[z][kk, c] for C ${n} columns wide${
      transA ? ", A stored transposed ([k, m])" : ""
    }${transB ? ", B stored transposed ([n, k])" : ""}
// workgroup (x, 1, z): rows [x·${wg * tm}, +${wg * tm}), ${tm} per invocation, all columns;
// z = part · batch + item; ≤ ${LOOP_BUDGET} steps of ${ku} k.
${decl}
@group(0) @binding(0) var<uniform> p: Params;
${binding(1, "a", A.mode !== "s")}
${binding(2, "b", ku === 4 || (!transB && n % 4 === 0))}
${binding(3, "out", false, "read_write")}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${PROLOGUE}
  let row0 = (wid.x * ${wg}u + lid.x) * ${tm}u;
  ${setup.join("\n  ")}
  ${R.map((r) => Q.map((q) => `var acc${r}_${q} = vec4<f32>(0.0);`).join(" ")).join("\n  ")}
  for (var kk = k0; kk < k1; kk += ${ku}u) {
    ${loads.join("\n    ")}
    ${fma.join("\n    ")}
  }
  ${R.map((r) => `if (row0 + ${r}u < p.m) { ${store(r)} }`).join("\n  ")}
}
`;
  return { code, grid: [Math.ceil(m / (wg * tm)), 1, batch * parts], params: data };
}
