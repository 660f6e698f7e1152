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
export type GpuMode = 'cpu' | 'webasm' | 'webgl2' | 'webgpu';

/** Every mode, in the order the checks report them. */
export const GPU_MODES: readonly GpuMode[] = ['cpu', 'webasm', 'webgl2', 'webgpu'];

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
  /** The kernel body. It may only use its arguments, `this.thread` and `this.constants`. */
  source: (...args: never[]) => number;
  /** Number of output cells (for an `Array(4)` return: of 4-float cells). */
  size: number;
  /**
   * A 2-D output `[width, height]` (width × height = size) instead of the flat 1-D default: gpu.js'
   * wasm backend vectorises along `thread.x` within a row, so `thread.y` is uniform across lanes.
   */
  output?: readonly [number, number];
  /** `'Array(4)'`: every cell returns four floats (default `'Number'`). */
  returnType?: 'Number' | 'Array(4)';
  /** Compile-time constants (shapes, strides, loop bounds). */
  constants?: Record<string, number>;
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
    this.gpu = new GPU({ mode: options.mode });
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
    if (v instanceof Float32Array || Array.isArray(v)) return;
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
