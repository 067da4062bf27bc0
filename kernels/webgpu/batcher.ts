/**
 * The command batcher: dispatches are encoded into one pending compute pass and submitted in
 * batches of at most MAX_BATCH (or when a read needs them). It owns the pipeline cache (by WGSL
 * source), one bind-group layout per input count, the bind-group cache, the per-batch uniform
 * buffer (every dispatch's Params at its own dynamic offset, written just before the submit),
 * and the error scopes: device errors are collected per batch and rethrown, naming the ops, at
 * the next read or call.
 * @module
 */
import { BufferUsage, MapMode, ShaderStage } from "./flags.ts";
import type { KernelSource } from "./wgsl.ts";
import { type BatchState, type BufferPool, sizeClass } from "./pool.ts";
import type { GpuStorage } from "./storage.ts";

/** Dispatches per submitted command buffer. */
const MAX_BATCH = 512;
/**
 * Bytes every dispatch's Params binding spans (at its dynamic offset): one fixed window, so a
 * bind group fits every kernel with the same buffers (the largest Params struct is ~150 bytes).
 */
export const PARAMS_WINDOW = 256;
/** Bytes of the per-batch uniform buffer. */
const UNIFORM_BYTES = 1 << 18;
/** Cached bind groups at most (the cache is cleared when full). */
const MAX_BIND_GROUPS = 16384;

/** Bind-group and pipeline layout shared by every kernel with the same number of inputs. */
interface Layout {
  group: GPUBindGroupLayout;
  pipe: GPUPipelineLayout;
}

/** Encodes dispatches into batches, submits them, and reports device errors. */
export class CommandBatcher {
  /** Dispatches encoded since creation. */
  dispatches = 0;
  /** Command buffers submitted since creation. */
  submits = 0;
  /** The batch being recorded (shared with the buffer pool). */
  readonly batch: BatchState;
  readonly #device: GPUDevice;
  readonly #pool: BufferPool;
  readonly #uniformAlign: number;
  readonly #uniformBuffer: GPUBuffer;
  readonly #uniformStage = new Uint32Array(UNIFORM_BYTES / 4);
  #uniformUsed = 0;
  readonly #layouts = new Map<number, Layout>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  // bind groups by (input count, buffer ids); buffers are never destroyed while pooled, so a
  // cached group stays valid until the pool is trimmed
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 1;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #inBatch = 0;
  #lastPipeline: GPUComputePipeline | null = null;
  #labels: string[] = [];
  #pendingChecks: Promise<void>[] = [];
  #deviceError: Error | null = null;
  #lost: string | null = null;

  /** A batcher on `device`, allocating from `pool` (whose batch state it drives). */
  constructor(device: GPUDevice, pool: BufferPool, batch: BatchState) {
    this.#device = device;
    this.#pool = pool;
    this.batch = batch;
    this.#uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.#uniformBuffer = device.createBuffer({
      label: "sll params (one batch)",
      size: UNIFORM_BYTES,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    });
    device.lost.then((info) => {
      this.#lost = `${info.reason}: ${info.message}`;
    });
    device.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.#deviceError ??= new Error(`webgpu: uncaptured device error: ${err.message}`);
    });
  }

  /** Compiled pipelines (cached by WGSL source). */
  get pipelines(): number {
    return this.#pipelines.size;
  }

  /** Throws when the device was lost, or rethrows (once) a device error seen since. */
  checkAlive(op: string): void {
    if (this.#lost !== null) {
      throw new Error(
        `${op}: the WebGPU device was lost (${this.#lost}); call initWebGpu() again and recreate the tensors`,
      );
    }
    if (this.#deviceError) {
      const e = this.#deviceError;
      this.#deviceError = null;
      throw e;
    }
  }

  /** Encodes one dispatch of `k` reading `inputs` and writing `out` into the pending batch. */
  dispatch(lbl: string, k: KernelSource, inputs: GpuStorage[], out: GpuStorage): void {
    const bytes = k.params.byteLength;
    const slot = Math.ceil(bytes / this.#uniformAlign) * this.#uniformAlign;
    if (bytes > PARAMS_WINDOW) {
      throw new RangeError(
        `${lbl}: ${bytes} bytes of Params exceed the ${PARAMS_WINDOW}-byte window`,
      );
    }
    if (
      this.#encoder &&
      (this.#inBatch >= MAX_BATCH || this.#uniformUsed + PARAMS_WINDOW > UNIFORM_BYTES)
    ) {
      this.flush();
    }
    if (!this.#encoder) this.#begin();
    for (const s of inputs) {
      if (!s.buffer) throw new Error(`${lbl}: internal error: an input was never computed`);
    }
    const pipe = this.#pipeline(k.code, lbl, inputs.length);
    const off = this.#uniformUsed;
    this.#uniformStage.set(k.params, off / 4);
    this.#uniformUsed += slot;
    const id = this.batch.id;
    for (const s of inputs) s.batch = id;
    out.batch = id;
    const bg = this.#bindGroup(lbl, inputs, out);
    this.#labels.push(lbl);
    const pass = this.#pass!;
    if (pipe !== this.#lastPipeline) pass.setPipeline(pipe);
    this.#lastPipeline = pipe;
    pass.setBindGroup(0, bg, [off]);
    pass.dispatchWorkgroups(k.grid[0], k.grid[1], k.grid[2]);
    this.#inBatch++;
    this.dispatches++;
  }

  /** Submits the pending batch (nothing when none is open). */
  flush(): void {
    const encoder = this.#encoder;
    if (!encoder) return;
    this.#pass!.end();
    const queue = this.#device.queue;
    if (this.#uniformUsed) {
      queue.writeBuffer(this.#uniformBuffer, 0, this.#uniformStage, 0, this.#uniformUsed / 4);
    }
    queue.submit([encoder.finish()]);
    this.submits++;
    const labels = this.#labels;
    const v = this.#device.popErrorScope();
    const m = this.#device.popErrorScope();
    this.#pendingChecks.push(
      Promise.all([v, m]).then(([ve, me]) => {
        const e = ve ?? me;
        if (e) {
          const ops = [...new Set(labels)].slice(0, 12).join("; ");
          this.#deviceError ??= new Error(
            `webgpu: ${
              me && !ve ? "out of memory" : "validation error"
            } in a batch running: ${ops}: ${e.message}`,
          );
        }
      }),
    );
    this.#encoder = null;
    this.#pass = null;
    this.#inBatch = 0;
    this.#uniformUsed = 0;
    this.#labels = [];
    this.batch.id++;
    this.batch.open = false;
    this.#pool.onSubmit();
  }

  /**
   * Copies `bytes` of `src` into `into` through a staging buffer (flushing the pending batch
   * first); device errors of every submitted batch surface here.
   */
  async readBytes(src: GPUBuffer, bytes: number, into: Uint8Array): Promise<void> {
    this.flush();
    if (bytes === 0) {
      await this.settled("read");
      return;
    }
    const cls = sizeClass(bytes);
    const st = this.#pool.staging(cls);
    const enc = this.#device.createCommandEncoder({ label: "sll read-back" });
    enc.copyBufferToBuffer(src, 0, st, 0, bytes);
    this.#device.queue.submit([enc.finish()]);
    this.submits++;
    this.batch.id++; // later frees of the source may go straight to the pool: the copy is queued
    try {
      await st.mapAsync(MapMode.READ, 0, bytes);
    } catch (e) {
      await this.settled("read");
      throw new Error(`read: mapping the read-back buffer failed: ${(e as Error).message}`);
    }
    into.set(new Uint8Array(st.getMappedRange(0, bytes)));
    st.unmap();
    this.#pool.returnStaging(cls, st);
    await this.settled("read");
  }

  /** Waits for the error checks of every submitted batch, then rethrows any device error. */
  async settled(op: string): Promise<void> {
    const c = this.#pendingChecks;
    this.#pendingChecks = [];
    await Promise.all(c);
    this.checkAlive(op);
  }

  /** Forgets cached bind groups (their buffers are about to be destroyed). */
  clearBindGroups(): void {
    this.#bindGroups.clear();
  }

  #begin(): void {
    const id = this.batch.id;
    this.#device.pushErrorScope("out-of-memory");
    this.#device.pushErrorScope("validation");
    this.#encoder = this.#device.createCommandEncoder({ label: `sll batch ${id}` });
    this.#pass = this.#encoder.beginComputePass({ label: `sll batch ${id} pass` });
    this.#lastPipeline = null;
    this.batch.open = true;
  }

  #idOf(b: GPUBuffer): number {
    let id = this.#bufferIds.get(b);
    if (id === undefined) this.#bufferIds.set(b, id = this.#nextBufferId++);
    return id;
  }

  // One layout per input count, shared by every kernel (uniforms → inputs → output); the
  // Params binding has a dynamic offset, so a bind group only names buffers and is reusable.
  #layoutFor(nIn: number): Layout {
    let l = this.#layouts.get(nIn);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{
        binding: 0,
        visibility: ShaderStage.COMPUTE,
        buffer: { type: "uniform", hasDynamicOffset: true },
      }];
      for (let i = 0; i < nIn; i++) {
        entries.push({
          binding: i + 1,
          visibility: ShaderStage.COMPUTE,
          buffer: { type: "read-only-storage" },
        });
      }
      entries.push({
        binding: nIn + 1,
        visibility: ShaderStage.COMPUTE,
        buffer: { type: "storage" },
      });
      const group = this.#device.createBindGroupLayout({
        label: `sll ${nIn}-input layout`,
        entries,
      });
      const pipe = this.#device.createPipelineLayout({
        label: `sll ${nIn}-input pipeline layout`,
        bindGroupLayouts: [group],
      });
      this.#layouts.set(nIn, l = { group, pipe });
    }
    return l;
  }

  #pipeline(code: string, lbl: string, nIn: number): GPUComputePipeline {
    let p = this.#pipelines.get(code);
    if (!p) {
      const name = lbl.split(" ")[0];
      const module = this.#device.createShaderModule({ label: `sll ${name}`, code });
      p = this.#device.createComputePipeline({
        label: `sll ${name} pipeline`,
        layout: this.#layoutFor(nIn).pipe,
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(code, p);
    }
    return p;
  }

  #bindGroup(lbl: string, inputs: GpuStorage[], out: GpuStorage): GPUBindGroup {
    let key = `${inputs.length}|${this.#idOf(out.buffer!)}`;
    for (const s of inputs) key += `,${this.#idOf(s.buffer!)}`;
    let bg = this.#bindGroups.get(key);
    if (!bg) {
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: this.#uniformBuffer, offset: 0, size: PARAMS_WINDOW } },
      ];
      inputs.forEach((s, i) => entries.push({ binding: i + 1, resource: { buffer: s.buffer! } }));
      entries.push({ binding: inputs.length + 1, resource: { buffer: out.buffer! } });
      if (this.#bindGroups.size >= MAX_BIND_GROUPS) this.#bindGroups.clear();
      bg = this.#device.createBindGroup({
        label: lbl,
        layout: this.#layoutFor(inputs.length).group,
        entries,
      });
      this.#bindGroups.set(key, bg);
    }
    return bg;
  }
}
