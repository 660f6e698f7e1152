/**
 * Making tensors: from numbers and nested arrays, constant fills, ranges, identities, seeded random
 * draws, and ndarray interop.
 *
 * @module
 */
import ndarray from 'ndarray';
import type { NdArray } from 'ndarray';
import { getBackend } from '../backend/index.ts';
import { markSharedF64 } from '../backend/f64-pool.ts';
import { Rng } from './rng.ts';
import { type Shape, checkShape, fmt, sizeOf, stridesOf } from '../base/shape.ts';
import { ConcreteTensor, type NumericArray, Tensor, type TensorData, type TensorLike } from './tensor.ts';

/** Wraps host float64 data of a known shape as a tensor on the current backend. */
export function fromFloat64(data: Float64Array, shape: Shape): ConcreteTensor {
  checkShape('tensor', shape);
  if (data.length !== sizeOf(shape)) {
    throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} needed)`);
  }
  const backend = getBackend();
  return new ConcreteTensor(backend.fromFloat64(data), [...shape], backend);
}

/** The deepest nesting `tensor()` follows: far beyond any real tensor, and it stops a cyclic array. */
const MAX_RANK = 64;

/** A typed array of numbers; BigInt arrays are refused with a message saying how to convert them. */
function isNumericArray(x: unknown): x is NumericArray {
  if (!ArrayBuffer.isView(x) || x instanceof DataView) return false;
  if (x instanceof BigInt64Array || x instanceof BigUint64Array) {
    throw new Error(`tensor: a ${x.constructor.name} holds bigints; convert it first, e.g. Float64Array.from(data, Number)`);
  }
  return true;
}

/** An array level of the input: a plain array or a typed array (a row of numbers). */
const isLevel = (x: unknown): x is readonly TensorData[] | NumericArray => Array.isArray(x) || isNumericArray(x);

/** What a value is, for error messages. */
function describe(x: unknown): string {
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (isNumericArray(x)) return `a ${x.constructor.name} of length ${x.length}`;
  if (x === null) return 'null';
  return typeof x === 'object' ? `a ${(x as object).constructor?.name ?? 'object'}` : `a ${typeof x}`;
}

function inferShape(data: TensorData): number[] {
  const shape: number[] = [];
  let level: unknown = data;
  while (isLevel(level)) {
    if (shape.length === MAX_RANK) {
      throw new Error(`tensor: arrays nested more than ${MAX_RANK} deep (a cyclic array, one that contains itself?)`);
    }
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  return shape;
}

function flattenInto(data: unknown, shape: number[], axis: number, out: Float64Array, at: { i: number }, path: number[]): void {
  if (axis === shape.length) {
    if (typeof data !== 'number') {
      throw new Error(
        `tensor: expected a number at index [${path.join(', ')}] (inferred shape ${fmt(shape)}), got ${describe(data)}` +
          (isLevel(data) ? ' (ragged nesting: deeper here than at index 0)' : ''),
      );
    }
    out[at.i++] = data;
    return;
  }
  if (!isLevel(data) || data.length !== shape[axis]) {
    throw new Error(
      `tensor: ragged nested array: index [${path.join(', ')}] has ${isLevel(data) ? `length ${data.length}` : describe(data)}, ` +
        `expected length ${shape[axis]} for inferred shape ${fmt(shape)}`,
    );
  }
  if (axis === shape.length - 1 && isNumericArray(data)) {
    out.set(data, at.i); // a typed row holds only numbers
    at.i += data.length;
    return;
  }
  for (let i = 0; i < data.length; i++) {
    path.push(i);
    flattenInto(data[i], shape, axis + 1, out, at, path);
    path.pop();
  }
}

/**
 * Creates a float64 tensor from a number, a typed array (`Float64Array`, `Int32Array`,
 * `Float32Array`, `Uint8Array`, …), nested arrays (whose rows may be typed arrays), or flat data with
 * an explicit shape. The data is copied, and converted to float64.
 *
 * @example
 * ```ts
 * tensor(3).shape;                         // []
 * tensor([[1, 2, 3], [4, 5, 6]]).shape;    // [2, 3]
 * tensor(new Float64Array([1, 2, 3, 4]), [2, 2]).toArray(); // [[1, 2], [3, 4]]
 * tensor(new Int32Array([1, 2, 3])).toArray();              // [1, 2, 3]
 * tensor([new Float32Array([1, 2]), new Float32Array([3, 4])]).shape; // [2, 2]
 * ```
 */
export function tensor(data: TensorData, shape?: Shape): ConcreteTensor {
  if (isNumericArray(data)) return fromFloat64(Float64Array.from(data), shape ?? [data.length]);
  if (shape !== undefined) return fromFloat64(Float64Array.from(flattenAny(data)), shape);
  const inferred = inferShape(data);
  const flat = new Float64Array(sizeOf(inferred));
  flattenInto(data, inferred, 0, flat, { i: 0 }, []);
  return fromFloat64(flat, inferred);
}

/** The numbers of any nesting in row-major order (with an explicit shape, only the count must fit). */
function flattenAny(data: TensorData): number[] {
  const flat: number[] = [];
  const walk = (d: unknown, depth: number): void => {
    if (typeof d === 'number') flat.push(d);
    else if (isNumericArray(d)) for (const v of d) flat.push(v);
    else if (Array.isArray(d)) {
      if (depth === MAX_RANK) throw new Error(`tensor: arrays nested more than ${MAX_RANK} deep (a cyclic array, one that contains itself?)`);
      for (const e of d) walk(e, depth + 1);
    } else throw new Error(`tensor: expected numbers, typed arrays or arrays of them, got ${describe(d)}`);
  };
  walk(data, 0);
  return flat;
}

/**
 * Converts a number to a scalar tensor and passes tensors through.
 *
 * @example
 * ```ts
 * asTensor(2).shape;          // []
 * asTensor(tensor([1])).shape; // [1]
 * ```
 */
export function asTensor(x: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === 'number') return fromFloat64(new Float64Array([x]), []);
  throw new Error(`expected a Tensor or a number, got ${x === null ? 'null' : typeof x}`);
}

/**
 * A tensor filled with one value.
 *
 * @example
 * ```ts
 * full([2, 2], 7).toArray(); // [[7, 7], [7, 7]]
 * ```
 */
export function full(shape: Shape, value: number): ConcreteTensor {
  checkShape('full', shape);
  const backend = getBackend();
  return new ConcreteTensor(backend.fill(sizeOf(shape), value), [...shape], backend);
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * zeros([3]).toArray(); // [0, 0, 0]
 * ```
 */
export function zeros(shape: Shape): ConcreteTensor {
  return full(shape, 0);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * ones([2]).toArray(); // [1, 1]
 * ```
 */
export function ones(shape: Shape): ConcreteTensor {
  return full(shape, 1);
}

/**
 * Evenly spaced values in `[start, stop)`, like `numpy.arange`. With one argument, `[0, stop)`.
 *
 * @example
 * ```ts
 * arange(4).toArray();         // [0, 1, 2, 3]
 * arange(1, 2, 0.25).toArray(); // [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1): ConcreteTensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromFloat64(data, [n]);
}

/**
 * The identity matrix (or an `n × m` matrix with ones on the diagonal).
 *
 * @example
 * ```ts
 * eye(2).toArray(); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, m = n): ConcreteTensor {
  checkShape('eye', [n, m]);
  const data = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return fromFloat64(data, [n, m]);
}

function rngOf(seed: number | Rng): Rng {
  return seed instanceof Rng ? seed : new Rng(seed);
}

/**
 * Uniform draws in `[low, high)` from a seeded generator (a seed or an `Rng` to continue).
 *
 * @example
 * ```ts
 * const u = randomUniform([2, 3], 42);       // the same on every run
 * const v = randomUniform([4], new Rng(1), -1, 1);
 * ```
 */
export function randomUniform(shape: Shape, seed: number | Rng, low = 0, high = 1): ConcreteTensor {
  checkShape('randomUniform', shape);
  const rng = rngOf(seed);
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.uniform();
  return fromFloat64(data, shape);
}

/**
 * Normal draws with the given mean and standard deviation from a seeded generator.
 *
 * @example
 * ```ts
 * const w = randomNormal([784], 0, 0, 0.01); // small random weights, seed 0
 * ```
 */
export function randomNormal(shape: Shape, seed: number | Rng, mean = 0, std = 1): ConcreteTensor {
  checkShape('randomNormal', shape);
  const rng = rngOf(seed);
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
  return fromFloat64(data, shape);
}

/**
 * Makes a tensor from an ndarray. Storage is shared when the ndarray is a dense row-major
 * `Float64Array` view on the CPU backend (do not mutate it afterwards: tensors are immutable);
 * otherwise the values are copied.
 *
 * @example
 * ```ts
 * import ndarray from 'ndarray';
 * const t = fromNdarray(ndarray(new Float64Array([1, 2, 3, 4]), [2, 2]));
 * t.toArray(); // [[1, 2], [3, 4]]
 * ```
 */
export function fromNdarray(nd: NdArray): ConcreteTensor {
  const shape = [...nd.shape];
  const size = sizeOf(shape);
  const rowMajor = stridesOf(shape);
  const dense = nd.stride.every((s, i) => s === rowMajor[i] || shape[i] === 1);
  const backend = getBackend();
  if (dense && nd.data instanceof Float64Array && backend.name === 'cpu') {
    const view = nd.data.subarray(nd.offset, nd.offset + size);
    return new ConcreteTensor(backend.fromFloat64(view), shape, backend);
  }
  const data = new Float64Array(size);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < size; k++) {
    data[k] = nd.get(...idx);
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      if (++idx[ax]! < shape[ax]!) break;
      idx[ax] = 0;
    }
  }
  return fromFloat64(data, shape);
}

/**
 * Views a tensor as an ndarray (row-major, over a `Float64Array`). On the CPU backend the storage is
 * shared, so treat the result as read-only.
 *
 * @example
 * ```ts
 * const nd = toNdarray(tensor([[1, 2], [3, 4]]));
 * nd.get(1, 0); // 3
 * ```
 */
export function toNdarray(t: Tensor): NdArray<Float64Array> {
  if (!(t instanceof ConcreteTensor && t.backend.name === 'cpu')) return ndarray(t.toFloat64Array(), [...t.shape]);
  if (t.backend.isReleased?.(t.storage)) throw new Error('toNdarray: the tensor was released by tidy or dispose');
  const data = t.storage as Float64Array;
  // The view outlives any release of t: its array must never be detached or reused.
  markSharedF64(data);
  return ndarray(data, [...t.shape]);
}
