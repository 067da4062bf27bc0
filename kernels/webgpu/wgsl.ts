/**
 * Shared pieces of the WGSL builders: the kernel description a builder returns (source, grid,
 * params), the `Params` struct generator (one commented field per value), grid sizing for 1-D
 * work over more than 65,535 workgroups, and the loop budget every kernel must respect.
 * @module
 */
import type { DType } from "../dtype.ts";

/**
 * Most loop iterations one invocation may run, all loops together. Mesa's llvmpipe/lavapipe
 * silently stop a shader after 65,535 iterations; we stay well below and split longer work
 * across invocations or passes.
 */
export const LOOP_BUDGET = 16384;

/** Threads per workgroup for the 1-D kernels. */
export const WG = 256;

/** Largest workgroup count per grid dimension (WebGPU's default limit). */
export const MAX_GROUPS = 65535;

/** One field of a kernel's `Params` uniform struct. */
export interface Field {
  /** WGSL identifier. */
  name: string;
  /** WGSL scalar type. */
  type: "u32" | "i32" | "f32";
  /** What the field means (becomes the comment in the source). */
  doc: string;
  /** Its value for this dispatch. */
  value: number;
}

/** What a builder returns: everything needed to encode one dispatch. */
export interface KernelSource {
  /** The WGSL module (the pipeline cache key). */
  code: string;
  /** Workgroup counts. */
  grid: [number, number, number];
  /** Raw bytes of the Params struct (32-bit words), in field order. */
  params: Uint32Array;
}

/**
 * The WGSL storage element type of a dtype (float64 is not stored on WebGPU).
 *
 * @example
 * ```ts
 * import { wgslType } from "./wgsl.ts";
 * wgslType("int32"); // "i32"
 * ```
 */
export function wgslType(dtype: DType): "f32" | "i32" {
  return dtype === "int32" ? "i32" : "f32";
}

/**
 * `struct Params { … }` with one commented line per field, plus the packed values.
 *
 * @example
 * ```ts
 * import { paramsStruct, u } from "./wgsl.ts";
 * const { decl, data } = paramsStruct([u("n", 10, "elements")]);
 * ```
 */
export function paramsStruct(fields: Field[]): { decl: string; data: Uint32Array } {
  const list = fields.length ? fields : [{ name: "unused", type: "u32", doc: "padding", value: 0 }];
  const decl = `struct Params {\n${
    list.map((f) => `  ${f.name}: ${f.type}, // ${f.doc}`).join("\n")
  }\n}`;
  const words = Math.ceil(list.length / 4) * 4; // uniform structs are 16-byte sized
  const data = new Uint32Array(words);
  const f32 = new Float32Array(data.buffer);
  const i32 = new Int32Array(data.buffer);
  list.forEach((f, i) => {
    if (f.type === "f32") f32[i] = f.value;
    else if (f.type === "i32") i32[i] = f.value;
    else data[i] = f.value >>> 0;
  });
  return { decl, data };
}

/**
 * Shorthand for a u32 field.
 *
 * @example
 * ```ts
 * import { u } from "./wgsl.ts";
 * u("n", 10, "number of elements");
 * ```
 */
export function u(name: string, value: number, doc: string): Field {
  return { name, type: "u32", value, doc };
}

/**
 * A 1-D grid of `groups` workgroups folded into x·y when it exceeds 65,535.
 *
 * @example
 * ```ts
 * import { grid1d } from "./wgsl.ts";
 * grid1d(100000); // [50000, 2, 1]
 * ```
 */
export function grid1d(groups: number): [number, number, number] {
  if (groups <= MAX_GROUPS) return [Math.max(groups, 1), 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/** The WGSL line computing the flat invocation index `i` of a grid made by `grid1d`. */
export const FLAT_INDEX =
  "let i = (wid.y * nwg.x + wid.x) * WG + lid.x; // flat index over the x·y folded grid";

/** Entry point header of the 1-D kernels (workgroup ids, local id, grid size). */
export const ENTRY_1D = `@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {`;
