/**
 * WebGPU's flag constants (buffer usage, map mode, shader stage) as the spec numbers them, so
 * the WebGPU backend does not depend on the host declaring the `GPUBufferUsage`, `GPUMapMode`
 * and `GPUShaderStage` globals (TypeScript's `dom` lib declares the types but not these values).
 * @module
 */

/** GPUBufferUsage flags (WebGPU spec §5.1). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  INDEX: 0x0010,
  VERTEX: 0x0020,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;

/** GPUMapMode flags (WebGPU spec §5.3). */
export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;

/** GPUShaderStage flags (WebGPU spec §8.1). */
export const ShaderStage = { VERTEX: 0x1, FRAGMENT: 0x2, COMPUTE: 0x4 } as const;
