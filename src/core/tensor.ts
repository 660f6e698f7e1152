/**
 * The tensor types.
 *
 * `Tensor` is what users hold. Outside any transformation it is a `ConcreteTensor`: a shape plus
 * dense row-major storage owned by a backend. Inside a transformation the same functions receive
 * `Tracer`s (defined in `trace.ts`), which are also `Tensor`s, so user code never needs to know
 * which one it has: this is how `grad(f)` can run `f` unchanged.
 *
 * Tensors are immutable. Operations return new tensors, and storage may be shared (reshape is free).
 *
 * @module
 */
import type { Backend, Storage } from '../backend/backend.ts';
import { type Shape, fmt, sizeOf } from '../base/shape.ts';

/** A nested array of numbers, as `toArray()` returns and `tensor()` accepts. */
export type NestedArray = number | NestedArray[];

/** A typed array of numbers (the BigInt arrays excluded): `tensor()` reads it as flat data or as a row. */
export type NumericArray =
  | Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint32Array | Uint16Array | Uint8Array | Uint8ClampedArray;

/** What `tensor()` accepts: a number, a typed array, or (possibly readonly) arrays nesting these. */
export type TensorData = number | NumericArray | readonly TensorData[];

/** Anything an operation accepts where a tensor is expected: plain numbers become scalars. */
export type TensorLike = Tensor | number;

/** The common face of concrete tensors and tracers. */
export abstract class Tensor {
  /** The shape, e.g. `[2, 3]`; `[]` for a scalar. */
  abstract readonly shape: Shape;

  /** The number of axes. */
  get ndim(): number {
    return this.shape.length;
  }

  /** The number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /**
   * The values as a flat row-major `Float64Array` (a fresh copy).
   * Inside a transformation this reads the primal value where one exists.
   */
  abstract toFloat64Array(): Float64Array;

  /**
   * The values as a flat row-major `Float64Array`, without blocking: the read that works on every
   * backend, including those whose kernels are asynchronous (gpu.js `webgpu`).
   *
   * @example
   * ```ts
   * const values = await tensor([1, 2]).data(); // Float64Array [1, 2]
   * ```
   */
  async data(): Promise<Float64Array> {
    return this.toFloat64Array();
  }

  /**
   * The values as nested arrays; a scalar gives a plain number.
   *
   * @example
   * ```ts
   * tensor([[1, 2], [3, 4]]).toArray(); // [[1, 2], [3, 4]]
   * tensor(5).toArray();                // 5
   * ```
   */
  toArray(): NestedArray {
    return nest(this.toFloat64Array(), this.shape);
  }

  /**
   * The single value of a one-element tensor.
   *
   * @example
   * ```ts
   * tensor([[3]]).item(); // 3
   * ```
   */
  item(): number {
    if (this.size !== 1) throw new Error(`item: tensor has shape ${fmt(this.shape)}, not exactly one element`);
    return this.toFloat64Array()[0]!;
  }

  /** A short description with the shape and values, for logging. */
  toString(): string {
    return `Tensor(shape=${fmt(this.shape)}, ${JSON.stringify(this.toArray())})`;
  }
}

/** Turns flat row-major values into nested arrays. */
export function nest(data: ArrayLike<number>, shape: Shape): NestedArray {
  if (shape.length === 0) return data[0]!;
  const build = (axis: number, offset: number, stride: number): NestedArray => {
    const n = shape[axis]!;
    const inner = stride / n;
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = axis === shape.length - 1 ? data[offset + i]! : build(axis + 1, offset + i * inner, inner);
    }
    return out;
  };
  return build(0, 0, sizeOf(shape));
}

/**
 * The open `tidy` scopes, innermost last. Each records the storages born while it is open (with
 * the backend that owns each), so that `tidy` can release what its function did not return.
 * Only storages no earlier tensor wrapped count as born: a tensor that shares an older one's
 * storage (a `reshape` of a parameter) must not take that storage with it.
 */
export const tidyScopes: Map<Storage, Backend>[] = [];

/** Every storage some concrete tensor has wrapped (weakly: it does not keep them alive). */
const wrapped = new WeakSet<object>();

/** A tensor with real storage on a backend. */
export class ConcreteTensor extends Tensor {
  constructor(
    /** The backend's opaque handle to the values (a `Float64Array` on the CPU). */
    readonly storage: Storage,
    readonly shape: Shape,
    /** The backend that owns `storage`. */
    readonly backend: Backend,
  ) {
    super();
    const handle = storage as object;
    if (typeof handle === 'object' && handle !== null && !wrapped.has(handle)) {
      wrapped.add(handle);
      if (tidyScopes.length) tidyScopes[tidyScopes.length - 1]!.set(storage, backend);
    }
  }

  toFloat64Array(): Float64Array {
    return this.backend.toFloat64(this.storage, this.size);
  }

  /**
   * The values as a flat row-major `Float64Array`, without blocking: the way to read results on
   * backends whose kernels are asynchronous (gpu.js `webgpu` today, every gpu.js mode in v3).
   *
   * @example
   * ```ts
   * const values = await tensor([1, 2]).data(); // Float64Array [1, 2]
   * ```
   */
  override async data(): Promise<Float64Array> {
    return this.backend.toFloat64Async
      ? this.backend.toFloat64Async(this.storage, this.size)
      : this.backend.toFloat64(this.storage, this.size);
  }
}
