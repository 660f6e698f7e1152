/**
 * The kernel context: one gpu.js instance, one execution mode, and a cache of compiled kernels.
 *
 * Every kernel factory in `kernels/` goes through {@link KernelContext.kernel}, so a kernel is
 * compiled once per (operation, shapes, mode, pipeline) and reused afterwards, and every call goes
 * through {@link KernelContext.call}, which refuses to return a result computed by anything other
 * than the requested backend (gpu.js silently degrades to its `cpu` backend when it cannot
 * translate a kernel; a silent degradation would make every GPU check below meaningless).
 *
 * Async-ready: every run function returns a {@link MaybePromise}. On the backends whose gpu.js
 * calls are synchronous today (cpu, webasm, webgl2) that is the result itself, which lets the
 * synchronous `Backend` interface use them; on webgpu (and on every backend once gpu.js v3 makes
 * kernel calls async) it is a Promise. `await` works on both, so async callers need not care.
 *
 * @module
 */
import * as gpujs from 'gpu.js';
import { GPU } from 'gpu.js';

// gpu.js' typings predate its webasm and webgpu backends; the classes are exported all the same.
const backends = gpujs as unknown as Record<'CPUKernel' | 'WebAssemblyKernel' | 'WebGL2Kernel' | 'WebGPUKernel', unknown>;

/** The gpu.js backends this project supports: `cpu`/`webasm` in Node, `webgl2`/`webgpu` in a browser. */
export const GPU_MODES = ['cpu', 'webasm', 'webgl2', 'webgpu'] as const;

/** One of {@link GPU_MODES}. */
export type GpuMode = (typeof GPU_MODES)[number];

/**
 * A result left on the device by a pipeline-mode kernel: a gpu.js `Texture` (webgl2), a
 * `WebGPUBufferResult` (webgpu), or a plain `Float32Array` (cpu and webasm, which have no device
 * memory; gpu.js hands them a fresh array per call).
 */
export interface DeviceHandle {
  toArray(): unknown;
  delete(): void;
}

/** What a kernel returns: host floats, or a device handle in pipeline mode. */
export type KernelValue = Float32Array | DeviceHandle;

/** What a kernel accepts: host numbers, or a value a previous kernel returned. */
export type KernelInput = Float32Array | readonly number[] | KernelValue;

/** Options for {@link KernelContext}. */
export interface KernelContextOptions {
  /** The gpu.js backend every kernel must run on. */
  mode: GpuMode;
  /**
   * Keep results on the device (`pipeline: true`, `immutable: true`): kernels return
   * {@link DeviceHandle}s that feed later kernels without a readback. Release them with
   * {@link KernelContext.release}. Default `false`: kernels return `Float32Array`s.
   */
  pipeline?: boolean;
}

/** A value now (synchronous backends) or later (webgpu, gpu.js v3). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Applies `f` to a value that may still be pending: synchronously when it is already there, so
 * synchronous backends stay synchronous end to end. (Not named `then`: a module exporting `then`
 * is a thenable, and `await import()` of it would call it.)
 *
 * @example
 * ```ts
 * andThen(2, (x) => x + 1);                 // 3
 * await andThen(Promise.resolve(2), (x) => x + 1); // 3
 * ```
 */
export function andThen<T, R>(v: MaybePromise<T>, f: (t: T) => MaybePromise<R>): MaybePromise<R> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** Thrown when gpu.js ran a kernel on another backend than the one asked for. */
export class KernelFallbackError extends Error {
  constructor(mode: GpuMode, key: string, detail: string) {
    super(`kernel ${key}: asked for gpu.js mode '${mode}' but ${detail}`);
    this.name = 'KernelFallbackError';
  }
}

/** The part of a gpu.js kernel shortcut this module relies on. */
interface RunShortcut {
  (...args: unknown[]): unknown;
  kernel: { fallbackReason?: string | null };
  destroy(removeCanvasReferences?: boolean): void;
}

/** How a factory describes a kernel it wants compiled. */
export interface KernelSpec {
  /**
   * The kernel body: a function, or the source text of one (for bodies generated per operation).
   * It may only use its arguments, `this.thread` and `this.constants`.
   */
  source: ((...args: never[]) => number) | string;
  /** Number of output cells (for an `Array(n)` return: of n-float cells). */
  size: number;
  /**
   * A 2-D output `[width, height]` (width × height = size) instead of the flat 1-D default: gpu.js'
   * wasm backend vectorises along `thread.x` within a row, so `thread.y` is uniform across lanes.
   */
  output?: readonly [number, number];
  /** `'Array(n)'`: every cell returns n floats (default `'Number'`, one). */
  returnType?: 'Number' | 'Array(2)' | 'Array(3)' | 'Array(4)';
  /**
   * Compile-time constants (shapes, strides, loop bounds), and on `webasm` a resident operand
   * (see {@link KernelContext.callResident}).
   */
  constants?: Record<string, number | Float32Array>;
  /** The longest loop in the kernel, so gpu.js' `loopMaxIterations` (1000) never truncates it. */
  maxLoop?: number;
  /** Helper functions the body calls, as `[name, function]`; the function is renamed to `name`. */
  functions?: readonly (readonly [string, (...args: number[]) => number])[];
  /**
   * Force pipeline mode for this kernel whatever the context says: for intermediates that a
   * composite kernel consumes itself and releases (the first pass of a two-pass kernel).
   */
  pipeline?: boolean;
}

/** The parts of gpu.js 2.24's `WebAssemblyKernel` that {@link KernelContext.callResident} touches. */
interface WasmInternals {
  built?: boolean;
  constants?: Record<string, unknown>;
  _active?: {
    f32?: unknown;
    layout?: { constantArrays?: Record<string, { offset: number; flatLength: number } | undefined> };
  } | null;
}

const EMPTY_F32 = new Float32Array(0);

/** Largest flat size whose indices stay exact integers in float32 index arithmetic (2^24). */
export const MAX_ELEMENTS = 16_777_216;

/**
 * Owns a gpu.js instance in one mode, the compiled-kernel cache and the fallback guard.
 *
 * @example
 * ```ts
 * const ctx = new KernelContext({ mode: 'webasm' });
 * const y = await unary(ctx, 'exp', new Float32Array([0, 1])); // Float32Array [1, 2.718…]
 * await ctx.destroy();
 * ```
 */
export class KernelContext {
  readonly mode: GpuMode;
  readonly pipeline: boolean;
  /** The gpu.js instance (typed loosely: its typings do not describe pipeline handles). */
  readonly gpu: InstanceType<typeof GPU>;
  private readonly cache = new Map<string, RunShortcut>();
  private readonly expected: new (...args: never[]) => unknown;

  constructor(options: KernelContextOptions) {
    this.mode = options.mode;
    this.pipeline = options.pipeline ?? false;
    try {
      this.gpu = new GPU({ mode: options.mode });
    } catch (e) {
      // gpu.js says only "A requested mode of "webgl2" and is not supported"; say where it is.
      const where = options.mode === 'webgl2' || options.mode === 'webgpu'
        ? `${options.mode === 'webgl2' ? 'WebGL2' : 'WebGPU'} exists only in a browser (or a runtime that provides it); in Node use 'webasm' or 'cpu'`
        : 'this runtime does not provide it';
      throw new Error(`gpu.js mode '${options.mode}' is not available here: ${where} (gpu.js: ${(e as Error).message})`);
    }
    const expected = {
      cpu: backends.CPUKernel,
      webasm: backends.WebAssemblyKernel,
      webgl2: backends.WebGL2Kernel,
      webgpu: backends.WebGPUKernel,
    }[options.mode];
    if (typeof expected !== 'function') throw new Error(`gpu.js exports no kernel class for mode '${options.mode}'`);
    this.expected = expected as new (...args: never[]) => unknown;
  }

  /** How many distinct kernels have been compiled so far (one per cache key). */
  get compiledCount(): number {
    return this.cache.size;
  }

  /**
   * The compiled kernel for `key`, built from `spec()` on first use only.
   *
   * @example
   * ```ts
   * const k = ctx.kernel('double:4', () => ({
   *   source: function (this: any, a: any) { return 2 * a[this.thread.x]; },
   *   size: 4,
   * }));
   * ```
   */
  kernel(key: string, spec: () => KernelSpec): RunShortcut & { key: string } {
    const fullKey = `${key}|${this.pipeline ? 'pipe' : 'host'}`;
    let k = this.cache.get(fullKey);
    if (!k) {
      const s = spec();
      if (s.output && s.output[0] * s.output[1] !== s.size) throw new RangeError(`kernel ${key}: output ${s.output} is not ${s.size} cells`);
      if (!(s.size >= 1 && s.size <= MAX_ELEMENTS)) {
        throw new RangeError(`kernel ${key}: output size ${s.size} outside 1..${MAX_ELEMENTS}`);
      }
      k = this.gpu.createKernel(s.source as never, {
        output: s.output ? [...s.output] : [s.size],
        constants: s.constants ?? {},
        // gpu.js stops any loop at loopMaxIterations without a word; every loop here is
        // bounded by a constant, and this keeps the limit above that constant.
        loopMaxIterations: Math.max(1000, (s.maxLoop ?? 0) + 1),
        pipeline: s.pipeline ?? this.pipeline,
        // Without `immutable`, a pipeline kernel overwrites its previous output on the next call,
        // which would corrupt any handle a caller still holds.
        immutable: true,
        // float32 storage and highp arithmetic on the GL backends (the defaults may pick less).
        precision: 'single',
        tactic: 'precision',
        returnType: s.returnType ?? 'Number',
        functions: (s.functions ?? []).map(([name, fn]) => ({
          // tsx and esbuild rename a function whose name is also used as a free identifier
          // elsewhere in the module (`applyOp` → `applyOp2`); name it explicitly here instead.
          source: fn.toString().replace(/^function\s*[\w$]*\s*\(/, `function ${name}(`),
          settings: { argumentTypes: fn.length === 1 ? ['Number'] : ['Number', 'Number'], returnType: 'Number' },
        })),
      } as never) as unknown as RunShortcut;
      this.cache.set(fullKey, k);
    }
    return Object.assign(k, { key: fullKey });
  }

  /**
   * Runs a kernel and checks that the requested backend ran it.
   *
   * @example
   * ```ts
   * const out = await ctx.call(k, [new Float32Array([1, 2, 3, 4])]); // no await needed off webgpu
   * ```
   */
  call(k: RunShortcut & { key: string }, args: readonly (KernelInput | number)[]): MaybePromise<KernelValue> {
    const prepared = args.map((a) => (Array.isArray(a) ? Float32Array.from(a as number[]) : a));
    return andThen(k(...prepared) as MaybePromise<KernelValue>, (result) => {
      this.assertBackend(k);
      return result;
    });
  }

  /**
   * How the resident-operand path ({@link KernelContext.callResident}) has fared: `uploads` copies
   * of an operand into a kernel's memory, `reuses` calls that found it already there, `fallbacks`
   * calls that could not use the path (and copied the operand as an ordinary argument instead).
   */
  readonly residentStats = { uploads: 0, reuses: 0, fallbacks: 0 };
  /** Per resident kernel: the array its constant region holds now. */
  private readonly residents = new Map<RunShortcut, { name: string; occupant: WeakRef<Float32Array> | null }>();

  /**
   * `webasm` only: runs `k`, whose body reads the large operand `value` as the constant array
   * `this.constants[name]` rather than as an argument, and copies `value` into the kernel's wasm
   * memory only when a different array arrived since the last call. gpu.js copies every argument
   * into the module's memory on every call (6.3 MB, about 0.8 ms, for a 2000 × 784 matrix); a
   * constant array is written once, when the module is instantiated, and then left alone. The
   * swap for a different array writes the same region gpu.js filled (the module's memory and the
   * constant's layout record are gpu.js internals; if they are not where 2.24 keeps them, this
   * returns `null` and counts a fallback, and the caller runs its ordinary kernel).
   *
   * The caller promises that `value` is never modified while it may be passed again: identity is
   * the only check. The backend's storages are immutable, so they qualify; call
   * {@link KernelContext.release} on the array when it is freed.
   *
   * @example
   * ```ts
   * const y = ctx.callResident(k, 'RA', bigMatrix, [vector]) ?? ctx.call(plainKernel, [bigMatrix, vector]);
   * ```
   */
  callResident(
    k: RunShortcut & { key: string },
    name: string,
    value: Float32Array,
    args: readonly (KernelInput | number)[],
  ): MaybePromise<KernelValue> | null {
    if (this.mode !== 'webasm') return null;
    const inner = k.kernel as unknown as WasmInternals;
    let rec = this.residents.get(k);
    if (!rec) this.residents.set(k, (rec = { name, occupant: null }));
    if (rec.occupant?.deref() === value && inner.built) {
      this.residentStats.reuses++;
      return this.call(k, args);
    }
    if (!inner.built) {
      // The first call instantiates the module and copies the constant in with it.
      if (!inner.constants || typeof inner.constants !== 'object') return this.residentFallback(k);
      inner.constants[name] = value;
    } else {
      const entry = inner._active;
      const slot = entry?.layout?.constantArrays?.[name];
      if (!entry || !(entry.f32 instanceof Float32Array) || !slot || slot.flatLength !== value.length || !inner.constants) {
        return this.residentFallback(k);
      }
      entry.f32.set(value, slot.offset / 4);
      inner.constants[name] = value; // what a re-instantiation would copy
    }
    rec.occupant = new WeakRef(value);
    this.residentStats.uploads++;
    return this.call(k, args);
  }

  private residentFallback(k: RunShortcut): null {
    this.residents.delete(k);
    this.residentStats.fallbacks++;
    return null;
  }

  /** Throws {@link KernelFallbackError} unless `k` ran on this context's backend. */
  private assertBackend(k: RunShortcut & { key: string }): void {
    const inner = k.kernel as { fallbackReason?: string | null; constructor: { name: string } };
    if (inner.fallbackReason) {
      throw new KernelFallbackError(this.mode, k.key, `gpu.js fell back: ${inner.fallbackReason}`);
    }
    if (!(inner instanceof this.expected)) {
      throw new KernelFallbackError(this.mode, k.key, `it ran on ${inner.constructor.name}`);
    }
  }

  /**
   * Reads any kernel value back to the host as a `Float32Array` of exactly `size` elements.
   *
   * @example
   * ```ts
   * const host = await ctx.read(handle, 4);
   * ```
   */
  read(v: KernelInput, size: number): MaybePromise<Float32Array> {
    let out: MaybePromise<unknown>;
    if (v instanceof Float32Array) out = v;
    else if (Array.isArray(v)) out = Float32Array.from(v as number[]);
    else out = (v as DeviceHandle).toArray() as MaybePromise<unknown>;
    return andThen(out, (o) => {
      // Some backends return a plain array or another typed array for tiny outputs.
      const f = o instanceof Float32Array ? o : Float32Array.from(o as ArrayLike<number>);
      if (f.length < size) throw new Error(`read: expected ${size} values, got ${f.length}`);
      return f.length === size ? f : f.slice(0, size);
    });
  }

  /**
   * Frees a value's device memory now rather than whenever the garbage collector runs. A no-op on
   * host arrays; a handle must not be used after it is released.
   *
   * @example
   * ```ts
   * ctx.release(handle);
   * ```
   */
  release(v: KernelInput): void {
    if (v instanceof Float32Array) {
      // A resident kernel holding this array forgets it (and drops its reference to it, so the
      // array can be collected; the copy in the kernel's memory is overwritten by the next one).
      if (this.residents.size > 0) {
        for (const [k, rec] of this.residents) {
          if (rec.occupant?.deref() !== v) continue;
          rec.occupant = null;
          const inner = k.kernel as unknown as WasmInternals;
          if (inner.constants) inner.constants[rec.name] = EMPTY_F32;
        }
      }
      return;
    }
    if (Array.isArray(v)) return;
    (v as DeviceHandle).delete();
  }

  /**
   * Destroys every compiled kernel and the gpu.js instance. The context is unusable afterwards.
   *
   * @example
   * ```ts
   * await ctx.destroy();
   * ```
   */
  async destroy(): Promise<void> {
    this.cache.clear();
    this.residents.clear();
    await this.gpu.destroy();
  }
}

/**
 * Checks that a flat size matches a shape and is representable; returns the size.
 *
 * @example
 * ```ts
 * sizeOf([2, 3]); // 6
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}
