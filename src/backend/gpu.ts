/**
 * The GPU backend: the {@link Backend} interface on top of the gpu.js kernels in `kernels/`, in
 * float32.
 *
 * Storage. A {@link GpuStorage} wraps one kernel result. Every kernel runs in pipeline mode with
 * immutable outputs, so on `webgl2` and `webgpu` results stay in device memory (a texture, a
 * storage buffer) and feed the next kernel without a readback; only `toFloat64` reads back. On
 * `cpu` and `webasm` there is no device memory and the storage is a fresh `Float32Array`.
 *
 * Synchronous and asynchronous modes. The `Backend` interface is synchronous. gpu.js calls are
 * synchronous in `cpu`, `webasm` and `webgl2`, and there every method computes immediately. In
 * `webgpu` every kernel call returns a Promise: storage then holds a pending result, methods chain
 * onto it without blocking, and the one thing that cannot be synchronous, reading back, is
 * {@link GpuBackend.toFloat64Async} (`toFloat64` throws and says so). The same holds for every mode
 * once gpu.js v3 makes all kernel calls async.
 *
 * Deterministic release. Device memory is not reclaimed by the JavaScript garbage collector on any
 * schedule one can rely on, so release is explicit: {@link GpuBackend.release} frees one storage's
 * texture or buffer immediately (a pending one as soon as it settles) and marks it dead, so a
 * later use throws instead of reading freed memory; {@link GpuBackend.destroy} frees every kernel
 * and the gpu.js instance. The engine can call `release` when a tensor is disposed or from a
 * `FinalizationRegistry`. Intermediates a method creates internally (multi-axis reductions,
 * concatenations) are released by the method itself.
 *
 * @module
 */
import { sizeOf } from '../base/shape.ts';
import type { Backend, BinaryOp, ReduceOp, Storage, UnaryOp } from './backend.ts';
import {
  KernelContext,
  binary as kBinary,
  broadcastTo,
  concat as kConcat,
  fill as kFill,
  matmul as kMatmul,
  pad as kPad,
  reduceAxis,
  scatterAdd as kScatterAdd,
  select as kSelect,
  slice as kSlice,
  stridedView,
  take as kTake,
  transpose as kTranspose,
  unary as kUnary,
} from '../../kernels/index.ts';
import type { GpuMode, KernelInput, KernelValue, MaybePromise } from '../../kernels/index.ts';

/** Options for {@link GpuBackend}. */
export interface GpuBackendOptions {
  /** The gpu.js mode: `'webasm'` (default) or `'cpu'` in Node; `'webgl2'` or `'webgpu'` in a browser. */
  mode?: GpuMode;
}

/** One tensor's storage on the GPU backend. Opaque to everything above the backend. */
export class GpuStorage {
  /**
   * How many storages exist and have not been released, over all GPU backends: the number a
   * memory test watches (a loop under `tidy` must keep it flat).
   */
  static live = 0;
  /** @internal */
  value: MaybePromise<KernelValue> | null;
  readonly size: number;
  constructor(value: MaybePromise<KernelValue>, size: number) {
    this.value = value;
    this.size = size;
    GpuStorage.live++;
  }
  /** Whether {@link GpuBackend.release} has freed this storage. */
  get released(): boolean {
    return this.value === null;
  }
}

const EMPTY = new Float32Array(0);

/**
 * The float32 backend on gpu.js kernels.
 *
 * @example
 * ```ts
 * const gpu = new GpuBackend({ mode: 'webasm' });
 * const x = gpu.fromFloat64(new Float64Array([1, 2, 3]));
 * const y = gpu.unary('exp', x, 3);
 * gpu.toFloat64(y, 3);           // Float64Array [2.718…, 7.389…, 20.08…]
 * gpu.release(x); gpu.release(y);
 * ```
 */
export class GpuBackend implements Backend {
  readonly name = 'gpu';
  readonly precision = 'float32' as const;
  readonly mode: GpuMode;
  /** The kernel context (pipeline mode, immutable outputs). */
  readonly ctx: KernelContext;

  constructor(options: GpuBackendOptions = {}) {
    this.mode = options.mode ?? 'webasm';
    this.ctx = new KernelContext({ mode: this.mode, pipeline: true });
  }

  /** Runs `f` on the inputs' values once they are all available; sizes 0 never reach a kernel. */
  private lift(inputs: readonly Storage[], size: number, f: (...xs: KernelInput[]) => MaybePromise<KernelValue>): GpuStorage {
    const vals = inputs.map((s) => this.valueOf(s));
    if (size === 0) return new GpuStorage(EMPTY, 0);
    if (vals.some((v) => v instanceof Promise)) {
      return new GpuStorage(Promise.all(vals).then((vs) => f(...vs)), size);
    }
    return new GpuStorage(f(...(vals as KernelValue[])), size);
  }

  private valueOf(s: Storage): MaybePromise<KernelValue> {
    if (!(s instanceof GpuStorage)) throw new TypeError('gpu backend: storage from another backend');
    if (s.value === null) throw new Error('gpu backend: storage used after release');
    return s.value;
  }

  fromFloat64(data: Float64Array): Storage {
    const host = Float32Array.from(data);
    if (host.length === 0) return new GpuStorage(EMPTY, 0);
    // On the device modes, copy once into device memory so later kernels do not re-upload it.
    if (this.mode === 'webgl2' || this.mode === 'webgpu') {
      return new GpuStorage(stridedView(this.ctx, host, [host.length], [1], 0, host.length), host.length);
    }
    return new GpuStorage(host, host.length);
  }

  /**
   * Reads storage back. Synchronous wherever gpu.js is; on `webgpu` use {@link toFloat64Async}.
   *
   * @example
   * ```ts
   * gpu.toFloat64(s, 3); // Float64Array of 3 values
   * ```
   */
  toFloat64(s: Storage, size: number): Float64Array {
    const v = this.valueOf(s);
    if (size === 0) return new Float64Array(0);
    const host = v instanceof Promise ? v : this.ctx.read(v, size);
    if (host instanceof Promise) {
      host.catch(() => undefined); // the error below is the report; do not leave a rejection unhandled
      throw new Error(`gpu backend (${this.mode}): no synchronous readback here; use await toFloat64Async()`);
    }
    return Float64Array.from(host);
  }

  /**
   * Reads storage back in any mode.
   *
   * @example
   * ```ts
   * await gpu.toFloat64Async(s, 3); // Float64Array of 3 values
   * ```
   */
  async toFloat64Async(s: Storage, size: number): Promise<Float64Array> {
    if (size === 0) return new Float64Array(0);
    const v = await this.valueOf(s);
    return Float64Array.from(await this.ctx.read(v, size));
  }

  /**
   * Frees a storage's device memory now; using it afterwards throws. Idempotent.
   *
   * @example
   * ```ts
   * gpu.release(s);
   * ```
   */
  release(s: Storage): void {
    if (!(s instanceof GpuStorage) || s.value === null) return;
    const v = s.value;
    s.value = null;
    GpuStorage.live--;
    if (v instanceof Promise) v.then((h) => this.ctx.release(h), () => undefined);
    else this.ctx.release(v);
  }

  /**
   * Frees every compiled kernel and the gpu.js instance; the backend is unusable afterwards.
   *
   * @example
   * ```ts
   * await gpu.destroy();
   * ```
   */
  destroy(): Promise<void> {
    return this.ctx.destroy();
  }

  fill(size: number, value: number): Storage {
    return this.lift([], size, () => kFill(this.ctx, size, value));
  }

  unary(op: UnaryOp, x: Storage, size: number): Storage {
    return this.lift([x], size, (xv) => kUnary(this.ctx, op, xv!, size));
  }

  binary(op: BinaryOp, a: Storage, b: Storage, size: number): Storage {
    return this.lift([a, b], size, (av, bv) => kBinary(this.ctx, op, av!, [size], bv!, [size]));
  }

  select(cond: Storage, a: Storage, b: Storage, size: number): Storage {
    return this.lift([cond, a, b], size, (c, av, bv) => kSelect(this.ctx, c!, av!, bv!, size));
  }

  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    const outShape = shape.filter((_, i) => !axes.includes(i));
    const outSize = sizeOf(outShape);
    const inSize = sizeOf(shape);
    if (inSize === 0) return this.fill(outSize, op === 'sum' ? 0 : -Infinity);
    // Contiguous runs of reduced axes become one axis each; runs are reduced last to first so the
    // earlier runs' positions do not move.
    const runs: [number, number][] = [];
    for (const a of [...axes].sort((p, q) => p - q)) {
      const last = runs[runs.length - 1];
      if (last && last[1] === a) last[1] = a + 1;
      else runs.push([a, a + 1]);
    }
    if (runs.length === 0) return this.lift([x], inSize, (v) => stridedView(this.ctx, v!, [inSize], [1], 0, inSize));
    let cur: Storage = x;
    let curShape = [...shape];
    for (let r = runs.length - 1; r >= 0; r--) {
      const [lo, hi] = runs[r]!;
      const view = [...curShape.slice(0, lo), sizeOf(curShape.slice(lo, hi)), ...curShape.slice(hi)];
      const next = this.lift([cur], sizeOf(view) / view[lo]!, (v) => reduceAxis(this.ctx, op, v!, view, lo));
      if (cur !== x) this.release(cur);
      cur = next;
      curShape = [...curShape.slice(0, lo), ...curShape.slice(hi)];
    }
    return cur;
  }

  broadcast(x: Storage, shape: readonly number[], to: readonly number[]): Storage {
    return this.lift([x], sizeOf(to), (v) => broadcastTo(this.ctx, v!, shape, to));
  }

  transpose(x: Storage, shape: readonly number[], perm: readonly number[]): Storage {
    return this.lift([x], sizeOf(shape), (v) => kTranspose(this.ctx, v!, shape, perm));
  }

  slice(x: Storage, shape: readonly number[], starts: readonly number[], sizes: readonly number[]): Storage {
    return this.lift([x], sizeOf(sizes), (v) => kSlice(this.ctx, v!, shape, starts, sizes));
  }

  pad(x: Storage, shape: readonly number[], lo: readonly number[], hi: readonly number[]): Storage {
    const out = shape.map((d, i) => d + lo[i]! + hi[i]!);
    return this.lift([x], sizeOf(out), (v) => kPad(this.ctx, v!, shape, lo, hi));
  }

  concat(xs: readonly Storage[], shapes: readonly (readonly number[])[], axis: number): Storage {
    const out = [...shapes[0]!];
    out[axis] = shapes.reduce((s, sh) => s + sh[axis]!, 0);
    return this.lift(xs, sizeOf(out), (...vs) => kConcat(this.ctx, vs, shapes, axis));
  }

  take(x: Storage, shape: readonly number[], indices: Float64Array, axis: number): Storage {
    const size = sizeOf(shape.slice(0, axis)) * indices.length * sizeOf(shape.slice(axis + 1));
    return this.lift([x], size, (v) => kTake(this.ctx, v!, shape, indices, axis));
  }

  scatterAdd(g: Storage, gShape: readonly number[], indices: Float64Array, axis: number, axisSize: number): Storage {
    const size = sizeOf(gShape.slice(0, axis)) * axisSize * sizeOf(gShape.slice(axis + 1));
    if (sizeOf(gShape) === 0) return this.fill(size, 0);
    return this.lift([g], size, (v) => kScatterAdd(this.ctx, v!, gShape, indices, axis, axisSize));
  }

  matmul(a: Storage, b: Storage, batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): Storage {
    const size = batch * m * n;
    if (k === 0) return this.fill(size, 0);
    // A large A (a data matrix) stays resident in the webasm kernel's memory across calls: storage
    // is immutable, so the same array is the same values (see KernelContext.callResident).
    const residentA = this.mode === 'webasm' && batch * m * k >= RESIDENT_MIN;
    return this.lift([a, b], size, (av, bv) => kMatmul(this.ctx, av!, bv!, { batch, m, k, n, transA, transB, residentA }));
  }
}

/**
 * Operands at least this large (256 KiB of float32) are kept resident on `webasm`: below it the
 * per-call copy costs less than a swap is worth.
 */
const RESIDENT_MIN = 65_536;
