/**
 * Shared test helpers: comparisons with tolerances that say what they mean, finite differences in
 * float64, and fast-check arbitraries for tensors.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { type Tensor, tensor } from '../src/index.ts';
import { fmt, sizeOf } from '../src/base/shape.ts';
import { smallestEigenvalue } from '../src/linalg/dense.ts';

/** Flat float64 values of a tensor or plain numbers. */
export function values(x: Tensor | number | ArrayLike<number>): Float64Array {
  if (typeof x === 'number') return new Float64Array([x]);
  if ('toFloat64Array' in (x as object)) return (x as Tensor).toFloat64Array();
  return Float64Array.from(x as ArrayLike<number>);
}

/**
 * Asserts |a − b| ≤ atol + rtol·|b| elementwise (numpy's allclose), reporting the worst element.
 */
export function expectClose(
  actual: Tensor | number | ArrayLike<number>,
  expected: Tensor | number | ArrayLike<number>,
  { rtol = 1e-10, atol = 1e-12, what = 'value' }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  const a = values(actual);
  const b = values(expected);
  if (typeof actual === 'object' && 'shape' in (actual as object) && typeof expected === 'object' && 'shape' in (expected as object)) {
    expect(fmt((actual as Tensor).shape), `${what}: shape`).toBe(fmt((expected as Tensor).shape));
  }
  expect(a.length, `${what}: number of elements`).toBe(b.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - b[i]!) - (atol + rtol * Math.abs(b[i]!));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: element ${worst} is ${a[worst]} but expected ${b[worst]} (|diff| = ${Math.abs(a[worst]! - b[worst]!)}, rtol ${rtol}, atol ${atol})`,
    );
  }
}

/**
 * Runs `fn`, expects it to throw an instance of `type`, and returns the error so its fields can be
 * checked.
 *
 * @example
 * ```ts
 * const e = thrown(() => newton(obj, { maxIter: 1 }), ConvergenceError);
 * expect(e.iterations).toBe(1);
 * ```
 */
export function thrown<E>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  return err as E;
}

/** The largest absolute value, for scaling tolerances. */
export function maxAbs(x: Tensor | ArrayLike<number>): number {
  let m = 0;
  for (const v of values(x as Tensor)) m = Math.max(m, Math.abs(v));
  return m;
}

/** max |a − b| / max |b| over flat values: the error relative to the reference b's largest entry. */
export function maxRelErr(a: Tensor | ArrayLike<number>, b: Tensor | ArrayLike<number>): number {
  const x = values(a as Tensor);
  const y = values(b as Tensor);
  let m = 0;
  for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m / maxAbs(y);
}

/** The dense p × p matrix (row-major) of a linear operator on ℝᵖ, column by column: M e_j = op(e_j). */
export function operatorMatrix(op: (v: Float64Array) => Float64Array, p: number): Float64Array {
  const M = new Float64Array(p * p);
  for (let j = 0; j < p; j++) {
    const e = new Float64Array(p);
    e[j] = 1;
    const col = op(e);
    for (let i = 0; i < p; i++) M[i * p + j] = col[i]!;
  }
  return M;
}

/** ⟨a, b⟩ of flat values. */
export function inner(a: Tensor | ArrayLike<number>, b: Tensor | ArrayLike<number>): number {
  const x = values(a as Tensor);
  const y = values(b as Tensor);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** x + h·t as a new tensor of x's shape. */
export function step(x: Tensor, t: Tensor, h: number): Tensor {
  const a = x.toFloat64Array();
  const b = t.toFloat64Array();
  return tensor(a.map((v, i) => v + h * b[i]!), x.shape);
}

/**
 * Central difference of F along direction t at x: (F(x + h t) − F(x − h t)) / 2h. Its error is
 * h²/6 · F''' (truncation) plus about ε·|F|/h (rounding), so h = 1e-5 gives ~1e-10 on O(1) data.
 */
export function centralDifference(F: (x: Tensor) => Tensor, x: Tensor, t: Tensor, h = 1e-5): Float64Array {
  const plus = F(step(x, t, h)).toFloat64Array();
  const minus = F(step(x, t, -h)).toFloat64Array();
  return plus.map((v, i) => (v - minus[i]!) / (2 * h));
}

/** An arbitrary tensor of a fixed shape with entries in [lo, hi]. */
export function arbTensor(shape: readonly number[], lo = -2, hi = 2): fc.Arbitrary<Tensor> {
  const n = sizeOf(shape);
  return fc
    .array(fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n })
    .map((xs) => tensor(Float64Array.from(xs), shape));
}

/** Deterministic pseudo-random data for a shape (for directions and cotangents). */
export function seededTensor(shape: readonly number[], seed: number, lo = -1, hi = 1): Tensor {
  let s = seed >>> 0 || 1;
  const data = new Float64Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = lo + ((hi - lo) * s) / 4294967296;
  }
  return tensor(data, shape);
}

/**
 * How far apart two approximate minimisers of a convex objective may be, from their gradient norms
 * `ga` and `gb`: near the optimum R is λ_min-strongly convex off its gauge directions, so
 * ‖θ − θ*‖ ≤ ‖∇R(θ)‖ / λ_min and ‖a − b‖ ≤ (ga + gb) / λ_min, doubled because λ_min is read off the
 * Hessian at `theta` rather than minimised along the segment. λ_min is computed, not assumed: the
 * weights have λ_min ≥ λ, but unregularised intercepts get their curvature from the data alone,
 * which on (nearly) separable softmax data can be 1e-10 (seen: n = 21, d = 5, λ = 0.02), and then
 * the optimum is only determined to ~1e-1. Never below 2e-8, the bound at ‖∇R‖ = 1e-10 and
 * λ_min = 1e-2, which also leaves room for float64 rounding in the gradients when a method ends
 * far below 1e-10. The gauge direction (softmax: all intercepts up by one constant, R unchanged)
 * has curvature 0 and is skipped; callers compare points that agree along it.
 */
export function optimaTolerance(
  obj: { dim: number; hessian(theta: Float64Array): Float64Array; spec: { gauge?: Float64Array[] } },
  theta: Float64Array,
  ga: number,
  gb: number,
): number {
  const lambdaMin = smallestEigenvalue(obj.hessian(theta), obj.dim, obj.spec.gauge?.length ?? 0);
  return Math.max(2e-8, (2 * (ga + gb)) / lambdaMin);
}
