/**
 * The kernel checks, shared by the Node tests (gpu.js `cpu` and `webasm`) and the browser run
 * (`webgl2` and `webgpu`). Each check draws seeded inputs, rounds them to float32, runs one kernel,
 * and compares every output element with a float64 reference computed here in plain TypeScript.
 *
 * Tolerances. Inputs are rounded to float32 *before* the reference is computed, so the reference is
 * the exact answer for the numbers the kernel actually received and each bound only has to cover
 * the kernel's own arithmetic. With u = 2^-24 (float32 unit roundoff) and γ_k = k·u / (1 − k·u):
 *
 * - A length-k dot product, in any summation order (we use four interleaved accumulators), is off
 *   by at most γ_k · Σ|aᵢbᵢ| (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1). A
 *   sum of k terms: γ_(k−1) · Σ|xᵢ|. These are worst-case bounds, so they cannot flake, yet a wrong
 *   index or a truncated loop is off by O(Σ|aᵢbᵢ|) and fails them by orders of magnitude.
 * - +, −, ×, comparisons, max, select, sign, abs, negation and data movement are exact or
 *   correctly rounded (≤ half an ulp; we allow one).
 * - ÷ and sqrt: 2.5 ulp in GLSL ES 3.00 and WGSL; we allow 4.
 * - exp: (3 + 2|x|) ulp (GLSL ES 3.00 and WGSL); log: 3 ulp, or 2^-21 absolute on [0.5, 2].
 * - sin, cos: 2^-11 absolute on [−π, π] (WGSL, Vulkan); the kernels reduce the argument there
 *   first, which adds about |x|·2^-23.
 * - pow = exp2(b·log2 a) on the GPU: exp2's (3 + 2|z|) ulp plus log2's error scaled by |b|·ln 2.
 * - Composite formulas (log1p, tanh, erf) propagate those bounds through their few operations; see
 *   each entry of `UNARY_CASES`.
 *
 * @module
 */
import { Rng } from '../../src/core/rng.ts';
import { erf as erf64 } from '../../src/backend/special.ts';
import { stridesOf } from '../../src/base/shape.ts';
import type { KernelContext, KernelValue } from '../../kernels/index.ts';
import {
  binary,
  BINARY_OPS,
  broadcastTo,
  concat,
  fill,
  matmul,
  pad,
  reduceAxis,
  scatterAdd,
  select,
  slice,
  take,
  transpose,
  unary,
  UNARY_OPS,
} from '../../kernels/index.ts';
import type { BinaryOp, UnaryOp } from '../../kernels/index.ts';

/** float32 unit roundoff. */
export const U = 2 ** -24;
/** One ulp of a float32 relative to its magnitude (an upper bound: 2^-23·|y|). */
const ulp = (y: number) => Math.abs(y) * 2 ** -23;
/** Higham's γ_k. */
export const gamma = (k: number) => (k * U) / (1 - k * U);

/** One named kernel check; `run` throws with a description on any mismatch. */
export interface KernelCheck {
  name: string;
  run(ctx: KernelContext): Promise<void>;
}

/** Rounds to float32 and returns both views (the float64 copy holds the same values). */
export function f32(values: ArrayLike<number>): { f: Float32Array; d: Float64Array } {
  const f = Float32Array.from(values);
  return { f, d: Float64Array.from(f) };
}

/** Seeded normal draws scaled by `scale`, rounded to float32. */
export function normals(rng: Rng, n: number, scale = 1): { f: Float32Array; d: Float64Array } {
  return f32(Array.from({ length: n }, () => rng.normal() * scale));
}

/** Seeded uniform draws in [lo, hi), rounded to float32. */
export function uniforms(rng: Rng, n: number, lo: number, hi: number): { f: Float32Array; d: Float64Array } {
  return f32(Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform()));
}

/**
 * Compares `got` with `want` elementwise under per-element tolerances; throws on the first
 * failures (listing up to five) and returns the worst error/tolerance ratio.
 *
 * @example
 * ```ts
 * expectClose('add', new Float32Array([1]), new Float64Array([1]), () => 0);
 * ```
 */
export function expectClose(
  what: string,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: (i: number) => number,
): number {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, expected ${want.length}`);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const t = tol(i);
    const err = Math.abs(g - w);
    if (t === Infinity) continue; // outside the operation's specified domain
    if (Number.isNaN(w) ? !Number.isNaN(g) : !(err <= t)) {
      if (bad.length < 5) bad.push(`[${i}] got ${g}, want ${w} (|err| ${err.toExponential(2)} > tol ${t.toExponential(2)})`);
      else if (bad.length === 5) bad.push('…');
    } else if (t > 0) worst = Math.max(worst, err / t);
  }
  if (bad.length) throw new Error(`${what}: ${bad.join('; ')}`);
  return worst;
}

/** Reads a kernel result back (device handles included) and releases device memory. */
async function readBack(ctx: KernelContext, v: KernelValue, size: number): Promise<Float32Array> {
  const out = await ctx.read(v, size);
  const copy = out.slice();
  ctx.release(v);
  return copy;
}

// ---------------------------------------------------------------- float64 references

/**
 * Xᵀ(D ⊙ (X v)) in float64 for X [n, d], with the float32 error bound of the two passes per
 * entry: w_i is off by γ_(d+1)·D_i·Σ_k |x_ik v_k|, and the second pass adds γ_n relative to
 * Σ_i |x_ij w_i|.
 */
function refLogisticHvp(x: Float64Array, dw: Float64Array, v: Float64Array, n: number, d: number): { want: Float64Array; tol: Float64Array } {
  const want = new Float64Array(d);
  const tol = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let xv = 0;
    let axv = 0;
    for (let k = 0; k < d; k++) {
      xv += x[i * d + k]! * v[k]!;
      axv += Math.abs(x[i * d + k]! * v[k]!);
    }
    for (let j = 0; j < d; j++) {
      want[j]! += x[i * d + j]! * dw[i]! * xv;
      tol[j]! += gamma(n + d + 4) * Math.abs(x[i * d + j]! * dw[i]!) * axv;
    }
  }
  return { want, tol };
}

/** C = op(A) op(B), batched, all float64 and row-major. */
export function refMatmul(
  a: Float64Array,
  b: Float64Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
  bShared = false,
): { c: Float64Array; abs: Float64Array } {
  const c = new Float64Array(batch * m * n);
  const abs = new Float64Array(batch * m * n); // Σ|a·b| per cell, for the error bound
  for (let t = 0; t < batch; t++) {
    const bo = bShared ? 0 : t * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let sa = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[t * m * k + p * m + i]! : a[t * m * k + i * k + p]!;
          const bv = transB ? b[bo + j * k + p]! : b[bo + p * n + j]!;
          s += av * bv;
          sa += Math.abs(av * bv);
        }
        c[t * m * n + i * n + j] = s;
        abs[t * m * n + i * n + j] = sa;
      }
    }
  }
  return { c, abs };
}


function coords(flat: number, shape: readonly number[]): number[] {
  const c = shape.map(() => 0);
  for (let i = shape.length - 1; i >= 0; i--) {
    c[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return c;
}

const prod = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

/** Numpy broadcasting of two operands through `f`, float64. */
export function refBroadcast(
  f: (x: number, y: number) => number,
  a: Float64Array,
  aShape: readonly number[],
  b: Float64Array,
  bShape: readonly number[],
): { out: Float64Array; shape: number[]; ia: number[]; ib: number[] } {
  const rank = Math.max(aShape.length, bShape.length);
  const pa = [...Array(rank - aShape.length).fill(1), ...aShape];
  const pb = [...Array(rank - bShape.length).fill(1), ...bShape];
  const shape = pa.map((d, i) => (d === 1 ? pb[i]! : d));
  const sa = stridesOf(pa);
  const sb = stridesOf(pb);
  const size = prod(shape);
  const out = new Float64Array(size);
  const ia: number[] = [];
  const ib: number[] = [];
  for (let x = 0; x < size; x++) {
    const c = coords(x, shape);
    let i = 0;
    let j = 0;
    c.forEach((v, d) => {
      if (pa[d] !== 1) i += v * sa[d]!;
      if (pb[d] !== 1) j += v * sb[d]!;
    });
    ia.push(i);
    ib.push(j);
    out[x] = f(a[i]!, b[j]!);
  }
  return { out, shape, ia, ib };
}

// ---------------------------------------------------------------- unary and binary cases

interface UnaryCase {
  ref: (x: number) => number;
  /** Inputs the op is defined on (and that exercise its branches). */
  domain: (rng: Rng, n: number) => { f: Float32Array; d: Float64Array };
  tol: (x: number, y: number) => number;
}

const expTol = (x: number, y: number) => (4 + 2 * Math.abs(x)) * ulp(y);

/**
 * The erf kernel's error bound. Below |x| = 0.85 it is a Horner series of 10 alternating terms in
 * x²: ≤ 2 roundings per step, one for x², one for the final ×x and one per coefficient rounded to
 * float32, each relative to at most the sum of the terms' magnitudes, plus the truncated tail
 * (< 6.4e-10·|y|). Above, y = 1 − e^(−x²)/(√π f): f's error comes from a running bound of its
 * bottom-up recurrence f_k = |x| + g_k, g_k = (k/2)/f_(k+1) (an error d in f_(k+1) and one rounding
 * each in ÷ and + leave u + (g_k/f_k)(u + d) in f_k); e^(−x²) adds (3 + 2x²) ulp plus x²·u for
 * rounding x²; three roundings form erfc and the continued fraction's truncation is ≤ 3.3e-9; all of
 * that is relative to erfc = 1 − |y|, and 1 − erfc rounds once more.
 */
function erfTol(x: number, y: number): number {
  const ax = Math.abs(x);
  if (ax < 0.85) {
    let mag = 0;
    let term = (2 / Math.sqrt(Math.PI)) * ax;
    for (let n = 0; n < 10; n++) {
      mag += term / (2 * n + 1);
      term *= (ax * ax) / (n + 1);
    }
    return 24 * U * mag + 6.4e-10 * Math.abs(y);
  }
  let f = ax;
  let d = 0;
  for (let k = 80; k >= 1; k--) {
    const g = k / 2 / f;
    f = ax + g;
    d = U + (g / f) * (U + d);
  }
  const erfc = 1 - Math.abs(y);
  return (d + (6 + 5 * ax * ax) * U + 3 * U + 3.3e-9) * erfc + ulp(y);
}
const logTol = (y: number) => Math.max(3 * ulp(y), 2 ** -21) + ulp(y);

/** Reference, test domain and justified tolerance for each unary op. */
export const UNARY_CASES: Record<UnaryOp, UnaryCase> = {
  neg: { ref: (x) => -x, domain: (r, n) => normals(r, n, 3), tol: () => 0 },
  exp: { ref: Math.exp, domain: (r, n) => uniforms(r, n, -20, 20), tol: expTol },
  log: { ref: Math.log, domain: (r, n) => f32(Array.from({ length: n }, () => Math.exp(r.uniform() * 20 - 10))), tol: (_x, y) => logTol(y) },
  // |x| < 1/16: a Horner series of 8 terms, ≤ 16 roundings relative to |y| (the terms alternate
  // but shrink by |x| each, so no cancellation). Elsewhere log(u)·x/(u − 1): log's bound relative
  // to log(u) ≈ y, plus 4 roundings.
  log1p: {
    ref: Math.log1p,
    domain: (r, n) => f32(Array.from({ length: n }, (_, i) => (i % 2 ? r.uniform() * 0.12 - 0.06 : r.uniform() * 20 - 0.9))),
    tol: (x, y) => (Math.abs(x) < 0.0625 ? 16 * ulp(y) : logTol(y) * Math.abs(y / Math.log1p(x)) + 6 * ulp(y)),
  },
  sin: { ref: Math.sin, domain: (r, n) => uniforms(r, n, -20, 20), tol: (x) => 2 ** -11 + Math.abs(x) * 2 ** -22 },
  cos: { ref: Math.cos, domain: (r, n) => uniforms(r, n, -20, 20), tol: (x) => 2 ** -11 + Math.abs(x) * 2 ** -22 },
  // t = exp(−2|x|) carries (4 + 4|x|) ulp of t; r = (1 − t)/(1 + t) doubles an error in t
  // (|dr/dt| ≤ 2) and adds ~4 roundings of quantities ≤ 1. Below 5e-4: a cubic, 4 roundings.
  tanh: {
    ref: Math.tanh,
    domain: (r, n) => f32(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? (r.uniform() - 0.5) * 1e-3 : (r.uniform() - 0.5) * 60))),
    tol: (x, y) => {
      if (Math.abs(x) < 0.0005) return 4 * ulp(y);
      const t = Math.exp(-2 * Math.abs(x));
      return 2 * (4 + 4 * Math.abs(x)) * t * 2 ** -23 + 4 * 2 ** -24 + ulp(y);
    },
  },
  sqrt: { ref: Math.sqrt, domain: (r, n) => uniforms(r, n, 0, 100), tol: (_x, y) => 4 * ulp(y) },
  abs: { ref: Math.abs, domain: (r, n) => normals(r, n, 3), tol: () => 0 },
  sign: {
    ref: Math.sign,
    domain: (r, n) => f32(Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 0 : r.normal()))),
    tol: () => 0,
  },
  // The float64 oracle is the CPU backend's erf. Tiny, series-range and continued-fraction-range
  // inputs, both signs, out to where erf is ±1 in float32.
  erf: {
    ref: erf64,
    domain: (r, n) => f32(Array.from({ length: n }, (_, i) => (r.uniform() - 0.5) * [2e-3, 1.7, 8, 20][i % 4]!)),
    tol: erfTol,
  },  relu: {
    ref: (x) => Math.max(x, 0),
    domain: (r, n) => f32(Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 0 : r.normal()))),
    tol: () => 0,
  },
};

interface BinaryCase {
  ref: (a: number, b: number) => number;
  domain: (rng: Rng, na: number, nb: number) => { a: ReturnType<typeof f32>; b: ReturnType<typeof f32> };
  tol: (a: number, b: number, y: number) => number;
}

/** Normal operands where about a third of b repeats an a value, so ties are exercised. */
function withTies(rng: Rng, na: number, nb: number): { a: ReturnType<typeof f32>; b: ReturnType<typeof f32> } {
  const a = normals(rng, na, 2);
  const b = f32(Array.from({ length: nb }, (_, i) => (i % 3 === 0 ? a.d[(i * 7) % na]! : rng.normal() * 2)));
  return { a, b };
}

const exact = () => 0;
const cmp = (f: (a: number, b: number) => boolean) => (a: number, b: number) => (f(a, b) ? 1 : 0);

/** Reference, test domain and justified tolerance for each binary op. */
export const BINARY_CASES: Record<BinaryOp, BinaryCase> = {
  add: { ref: (a, b) => a + b, domain: withTies, tol: (_a, _b, y) => ulp(y) },
  sub: { ref: (a, b) => a - b, domain: withTies, tol: (_a, _b, y) => ulp(y) },
  mul: { ref: (a, b) => a * b, domain: withTies, tol: (_a, _b, y) => ulp(y) },
  div: {
    ref: (a, b) => a / b,
    domain: (r, na, nb) => ({ a: normals(r, na, 2), b: f32(Array.from({ length: nb }, () => (r.uniform() + 0.1) * (r.uniform() < 0.5 ? -3 : 3))) }),
    tol: (_a, _b, y) => 4 * ulp(y),
  },
  pow: {
    ref: Math.pow,
    // Positive bases with any exponent; negative bases meet integer exponents on the odd
    // positions (numpy's real domain), including b = 0 for x**0 = 1.
    domain: (r, na, nb) => {
      const a = f32(Array.from({ length: na }, (_, i) => (i % 2 ? -(0.5 + 2 * r.uniform()) : 0.1 + 3.9 * r.uniform())));
      const b = f32(Array.from({ length: nb }, (_, i) => (i % 2 ? r.int(7) - 3 : -3 + 6 * r.uniform())));
      return { a, b };
    },
    tol: (a, b, y) => {
      // With broadcasting a negative base can meet a fractional exponent: unspecified on the GPU.
      if (a < 0 && !Number.isInteger(b)) return Infinity;
      const z = b * Math.log2(Math.abs(a));
      const log2Err = Math.max(2 ** -21, 3 * Math.abs(Math.log2(Math.abs(a))) * 2 ** -23);
      return Math.abs(y) * ((4 + 2 * Math.abs(z)) * 2 ** -23 + Math.LN2 * Math.abs(b) * log2Err);
    },
  },
  maximum: { ref: Math.max, domain: withTies, tol: exact },
  greater: { ref: cmp((a, b) => a > b), domain: withTies, tol: exact },
  greaterEqual: { ref: cmp((a, b) => a >= b), domain: withTies, tol: exact },
  less: { ref: cmp((a, b) => a < b), domain: withTies, tol: exact },
  lessEqual: { ref: cmp((a, b) => a <= b), domain: withTies, tol: exact },
  equal: { ref: cmp((a, b) => a === b), domain: withTies, tol: exact },
  notEqual: { ref: cmp((a, b) => a !== b), domain: withTies, tol: exact },  // b·(1 − a²): a² rounds once (≤ 2⁻²⁴·a²), 1 − a² once (≤ 2⁻²⁴·|1 − a²|), the product once
  // (≤ ulp of the result): |b|·(a² + |1 − a²|)·2⁻²⁴ + ulp(y), doubled for the GPU's last-bit
  // freedom in multiplication and subtraction.
  tanhGrad: {
    ref: (a, b) => b * (1 - a * a),
    domain: (r, na, nb) => ({ a: uniforms(r, na, -1.2, 1.2), b: normals(r, nb, 2) }),
    tol: (a, b, y) => 2 * (Math.abs(b) * (a * a + Math.abs(1 - a * a)) * 2 ** -24 + ulp(y)),
  },
  reluGrad: {
    ref: (a, b) => (a > 0 ? b : 0),
    domain: (r, na, nb) => ({ a: f32(Array.from({ length: na }, (_, i) => (i % 4 === 0 ? 0 : r.normal()))), b: normals(r, nb, 2) }),
    tol: exact,
  },
};

// ---------------------------------------------------------------- checks

/**
 * Checks one matmul configuration against the float64 reference with the γ_k·Σ|ab| bound.
 *
 * @example
 * ```ts
 * await checkMatmul(ctx, 1, 3, 5, 4, false, true, 42);
 * ```
 */
export async function checkMatmul(
  ctx: KernelContext,
  batch: number,
  m: number,
  k: number,
  n: number,
  transA: boolean,
  transB: boolean,
  seed: number,
  bShared = false,
): Promise<number> {
  const rng = new Rng(seed);
  const a = normals(rng, batch * m * k);
  const b = normals(rng, (bShared ? 1 : batch) * k * n);
  const { c, abs } = refMatmul(a.d, b.d, batch, m, k, n, transA, transB, bShared);
  const out = await matmul(ctx, a.f, b.f, { batch, m, k, n, transA, transB, bBatchStride: bShared ? 0 : k * n });
  const got = await readBack(ctx, out, batch * m * n);
  return expectClose(`matmul ${batch}x${m}x${k}x${n} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`, got, c, (i) => gamma(k + 2) * abs[i]!);
}

/**
 * Checks one broadcast binary op.
 *
 * @example
 * ```ts
 * await checkBinary(ctx, 'add', [3, 1], [4], 1);
 * ```
 */
export async function checkBinary(
  ctx: KernelContext,
  op: BinaryOp,
  aShape: readonly number[],
  bShape: readonly number[],
  seed: number,
): Promise<number> {
  const cs = BINARY_CASES[op];
  const { a, b } = cs.domain(new Rng(seed), prod(aShape), prod(bShape));
  const { out, shape, ia, ib } = refBroadcast(cs.ref, a.d, aShape, b.d, bShape);
  const got = await readBack(ctx, await binary(ctx, op, a.f, aShape, b.f, bShape), prod(shape));
  return expectClose(`${op} [${aShape}]·[${bShape}]`, got, out, (i) => cs.tol(a.d[ia[i]!]!, b.d[ib[i]!]!, out[i]!));
}

/**
 * Checks a reduction along one axis.
 *
 * @example
 * ```ts
 * await checkReduce(ctx, 'sum', [4, 5, 6], 1, 3);
 * ```
 */
export async function checkReduce(
  ctx: KernelContext,
  op: 'sum' | 'max',
  shape: readonly number[],
  axis: number,
  seed: number,
): Promise<number> {
  const x = normals(new Rng(seed), prod(shape));
  const len = shape[axis]!;
  const outer = prod(shape.slice(0, axis));
  const inner = prod(shape.slice(axis + 1));
  const want = new Float64Array(outer * inner);
  const abs = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = op === 'sum' ? 0 : -Infinity;
      let sa = 0;
      for (let l = 0; l < len; l++) {
        const v = x.d[(o * len + l) * inner + i]!;
        s = op === 'sum' ? s + v : Math.max(s, v);
        sa += Math.abs(v);
      }
      want[o * inner + i] = s;
      abs[o * inner + i] = sa;
    }
  }
  const got = await readBack(ctx, await reduceAxis(ctx, op, x.f, shape, axis), outer * inner);
  return expectClose(`${op} [${shape}] axis ${axis}`, got, want, (i) => (op === 'sum' ? gamma(len + 2) * abs[i]! : 0));
}

/** Reference strided view: out[c] = x[offset + Σ c·strides]. */
function refView(x: Float64Array, outShape: readonly number[], strides: readonly number[], offset: number): Float64Array {
  const out = new Float64Array(prod(outShape));
  for (let f = 0; f < out.length; f++) {
    out[f] = x[coords(f, outShape).reduce((acc, c, i) => acc + c * strides[i]!, offset)]!;
  }
  return out;
}

/**
 * Checks a transpose of a random tensor.
 *
 * @example
 * ```ts
 * await checkTranspose(ctx, [2, 3, 4], [2, 0, 1], 5);
 * ```
 */
export async function checkTranspose(ctx: KernelContext, shape: readonly number[], perm: readonly number[], seed: number): Promise<number> {
  const x = normals(new Rng(seed), prod(shape));
  const st = stridesOf(shape);
  const want = refView(x.d, perm.map((p) => shape[p]!), perm.map((p) => st[p]!), 0);
  const got = await readBack(ctx, await transpose(ctx, x.f, shape, perm), want.length);
  return expectClose(`transpose [${shape}] by [${perm}]`, got, want, exact);
}

/**
 * Checks broadcasting of a random tensor to a larger shape.
 *
 * @example
 * ```ts
 * await checkBroadcastTo(ctx, [3, 1, 2], [3, 4, 2], 6);
 * ```
 */
export async function checkBroadcastTo(ctx: KernelContext, shape: readonly number[], to: readonly number[], seed: number): Promise<number> {
  const x = normals(new Rng(seed), prod(shape));
  const st = stridesOf(shape);
  const want = refView(x.d, to, shape.map((d, i) => (d === 1 ? 0 : st[i]!)), 0);
  const got = await readBack(ctx, await broadcastTo(ctx, x.f, shape, to), want.length);
  return expectClose(`broadcast [${shape}] to [${to}]`, got, want, exact);
}

/**
 * The full list of kernel checks. Every kernel in `kernels/` appears at least once, with shapes
 * that exercise its edge cases: sizes not divisible by the 4-wide unrolling, loops longer than
 * gpu.js' default `loopMaxIterations` (1000), broadcasting over several collapsed axes, and
 * pipeline mode (device-resident intermediates that must not alias).
 *
 * @example
 * ```ts
 * for (const c of kernelChecks()) await c.run(ctx);
 * ```
 */
export function kernelChecks(): KernelCheck[] {
  const checks: KernelCheck[] = [];
  const add = (name: string, run: (ctx: KernelContext) => Promise<unknown>) =>
    checks.push({ name, run: async (ctx) => void (await run(ctx)) });

  UNARY_OPS.forEach((op, s) =>
    add(`unary ${op}`, async (ctx) => {
      const cs = UNARY_CASES[op];
      const x = cs.domain(new Rng(100 + s), 203);
      const want = x.d.map(cs.ref);
      const got = await readBack(ctx, await unary(ctx, op, x.f), x.f.length);
      return expectClose(`unary ${op}`, got, want, (i) => cs.tol(x.d[i]!, want[i]!));
    }),
  );

  // Broadcasting patterns: equal shapes (contiguous fast path), a scalar, a row against a column,
  // and a 5-D pattern that stays 4 axes after collapsing.
  const patterns: [number[], number[]][] = [
    [[37], [37]],
    [[5, 7], []],
    [[6, 1], [1, 9]],
    [[2, 3, 1, 4, 5], [3, 2, 1, 5]],
  ];
  BINARY_OPS.forEach((op, s) =>
    add(`binary ${op}`, async (ctx) => {
      for (const [p, [as, bs]] of patterns.entries()) await checkBinary(ctx, op, as, bs, 200 + 10 * s + p);
    }),
  );

  add('select', async (ctx) => {
    const rng = new Rng(300);
    const n = 101;
    const cond = f32(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : rng.normal())));
    const a = normals(rng, n);
    const b = normals(rng, n);
    const want = cond.d.map((c, i) => (c !== 0 ? a.d[i]! : b.d[i]!));
    const got = await readBack(ctx, await select(ctx, cond.f, a.f, b.f), n);
    return expectClose('select', got, want, exact);
  });

  add('matmul NN', (ctx) => checkMatmul(ctx, 1, 7, 13, 9, false, false, 400));
  add('matmul TN (Aᵀ B)', (ctx) => checkMatmul(ctx, 1, 6, 11, 5, true, false, 401));
  add('matmul NT (A Bᵀ)', (ctx) => checkMatmul(ctx, 1, 5, 10, 7, false, true, 402));
  add('matmul TT', (ctx) => checkMatmul(ctx, 1, 4, 9, 6, true, true, 403));
  add('matmul batched', (ctx) => checkMatmul(ctx, 3, 5, 6, 4, false, true, 404));
  add('matmul batched, shared B', (ctx) => checkMatmul(ctx, 4, 3, 5, 2, true, false, 405, true));
  add('matmul k = 4501 (> loopMaxIterations)', (ctx) => checkMatmul(ctx, 1, 3, 4501, 2, false, false, 406));
  add('matmul 64³', (ctx) => checkMatmul(ctx, 1, 64, 64, 64, false, false, 407));
  add('matmul k = 0', async (ctx) => {
    const got = await readBack(ctx, await matmul(ctx, new Float32Array(0), new Float32Array(0), { m: 2, k: 0, n: 3 }), 6);
    return expectClose('matmul k = 0', got, new Float64Array(6), exact);
  });

  add('reduce sum', async (ctx) => {
    await checkReduce(ctx, 'sum', [4, 7, 5], 0, 500);
    await checkReduce(ctx, 'sum', [4, 7, 5], 1, 501);
    await checkReduce(ctx, 'sum', [4, 7, 5], 2, 502);
    await checkReduce(ctx, 'sum', [3, 1500], 1, 503); // longer than loopMaxIterations
  });
  add('reduce max', async (ctx) => {
    await checkReduce(ctx, 'max', [4, 7, 5], 0, 510);
    await checkReduce(ctx, 'max', [4, 7, 5], 1, 511);
    await checkReduce(ctx, 'max', [4, 7, 5], 2, 512);
    await checkReduce(ctx, 'max', [2, 2500], 1, 513);
  });

  add('transpose', async (ctx) => {
    await checkTranspose(ctx, [5, 7], [1, 0], 600);
    await checkTranspose(ctx, [2, 3, 4, 5], [3, 1, 0, 2], 601);
    await checkTranspose(ctx, [2, 3, 4], [0, 1, 2], 602);
  });
  add('broadcast', async (ctx) => {
    await checkBroadcastTo(ctx, [3, 1, 2], [3, 4, 2], 610);
    await checkBroadcastTo(ctx, [1, 5], [6, 5], 611);
    await checkBroadcastTo(ctx, [1, 1], [3, 4], 612);
  });
  add('slice', async (ctx) => {
    const x = normals(new Rng(620), 4 * 5 * 6);
    const want = refView(x.d, [2, 3, 4], stridesOf([4, 5, 6]), 1 * 30 + 2 * 6 + 1);
    const got = await readBack(ctx, await slice(ctx, x.f, [4, 5, 6], [1, 2, 1], [2, 3, 4]), want.length);
    return expectClose('slice', got, want, exact);
  });
  // The same view (the first 6 elements) of inputs of different lengths: gpu.js fixes each
  // argument's size when a kernel first runs, so these must not share a cached kernel (an MLP's
  // HVP slices 6 weights out of 7 parameters, then out of a stacked [w; v] of 12).
  add('slice, same view of different lengths', async (ctx) => {
    for (const n of [7, 12, 7]) {
      const x = normals(new Rng(621 + n), n);
      const got = await readBack(ctx, await slice(ctx, x.f, [n], [0], [6]), 6);
      expectClose(`slice of ${n}`, got, x.d.slice(0, 6), exact);
    }
  });
  add('pad', async (ctx) => {
    const x = normals(new Rng(630), 2 * 3 * 2);
    const out = [2 + 1 + 0, 3 + 0 + 2, 2 + 2 + 1];
    const want = new Float64Array(prod(out));
    for (let f = 0; f < want.length; f++) {
      const [i, j, k] = coords(f, out) as [number, number, number];
      const [si, sj, sk] = [i - 1, j, k - 2];
      if (si >= 0 && si < 2 && sj >= 0 && sj < 3 && sk >= 0 && sk < 2) want[f] = x.d[si * 6 + sj * 2 + sk]!;
    }
    const got = await readBack(ctx, await pad(ctx, x.f, [2, 3, 2], [1, 0, 2], [0, 2, 1]), want.length);
    return expectClose('pad', got, want, exact);
  });
  add('concat', async (ctx) => {
    const rng = new Rng(640);
    const parts = [normals(rng, 3 * 2 * 4), normals(rng, 3 * 1 * 4), normals(rng, 3 * 5 * 4)];
    const widths = [2, 1, 5];
    const want = new Float64Array(3 * 8 * 4);
    for (let o = 0; o < 3; o++) {
      let col = 0;
      parts.forEach((p, t) => {
        const w = widths[t]!;
        for (let j = 0; j < w; j++) for (let i = 0; i < 4; i++) want[(o * 8 + col + j) * 4 + i] = p.d[(o * w + j) * 4 + i]!;
        col += w;
      });
    }
    const got = await readBack(ctx, await concat(ctx, parts.map((p) => p.f), widths.map((w) => [3, w, 4]), 1), want.length);
    return expectClose('concat', got, want, exact);
  });
  add('take', async (ctx) => {
    const x = normals(new Rng(650), 3 * 5 * 2);
    const idx = [4, 0, -1, 2, 2];
    const want = new Float64Array(3 * idx.length * 2);
    for (let o = 0; o < 3; o++) {
      idx.forEach((v, p) => {
        const r = v < 0 ? v + 5 : v;
        for (let i = 0; i < 2; i++) want[(o * idx.length + p) * 2 + i] = x.d[(o * 5 + r) * 2 + i]!;
      });
    }
    const got = await readBack(ctx, await take(ctx, x.f, [3, 5, 2], idx, 1), want.length);
    return expectClose('take', got, want, exact);
  });
  add('scatterAdd', async (ctx) => {
    const idx = [3, 0, 3, 1, 3, 0];
    const g = normals(new Rng(660), 2 * idx.length * 3);
    const want = new Float64Array(2 * 5 * 3);
    const abs = new Float64Array(want.length);
    for (let o = 0; o < 2; o++) {
      idx.forEach((v, p) => {
        for (let i = 0; i < 3; i++) {
          want[(o * 5 + v) * 3 + i]! += g.d[(o * idx.length + p) * 3 + i]!;
          abs[(o * 5 + v) * 3 + i]! += Math.abs(g.d[(o * idx.length + p) * 3 + i]!);
        }
      });
    }
    const got = await readBack(ctx, await scatterAdd(ctx, g.f, [2, idx.length, 3], idx, 1, 5), want.length);
    // Up to three repeated indices accumulate: a 3-term sum, γ_2·Σ|g|.
    return expectClose('scatterAdd', got, want, (i) => gamma(3) * abs[i]!);
  });
  add('fill', async (ctx) => {
    const got = await readBack(ctx, await fill(ctx, 17, -0.375), 17);
    return expectClose('fill', got, new Float64Array(17).fill(-0.375), exact);
  });

  return checks;
}

/**
 * Checks that chain kernels through device-resident values: results of one kernel feed the next
 * without a readback, several results of one compiled kernel stay distinct (immutable outputs),
 * and released handles do not disturb live ones. Run with a pipeline-mode context.
 *
 * @example
 * ```ts
 * const ctx = new KernelContext({ mode: 'webgl2', pipeline: true });
 * for (const c of pipelineChecks()) await c.run(ctx);
 * ```
 */
export function pipelineChecks(): KernelCheck[] {
  return [
    {
      name: 'pipeline chain matmul → tanh → mul → sum',
      run: async (ctx) => {
        const rng = new Rng(800);
        const [m, k, n] = [6, 10, 5];
        const a = normals(rng, m * k);
        const b = normals(rng, k * n);
        const s = normals(rng, n);
        const { c, abs } = refMatmul(a.d, b.d, 1, m, k, n, false, false);
        const h1 = await matmul(ctx, a.f, b.f, { m, k, n });
        const h2 = await unary(ctx, 'tanh', h1, m * n);
        const h3 = await binary(ctx, 'mul', h2, [m, n], s.f, [n]);
        const h4 = await reduceAxis(ctx, 'sum', h3, [m, n], 1);
        const got = await ctx.read(h4, m);
        const want = new Float64Array(m);
        const tol = new Float64Array(m);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            want[i]! += Math.tanh(c[i * n + j]!) * s.d[j]!;
            // tanh is 1-Lipschitz: the matmul error passes through, plus tanh's own ~1e-6
            // (see UNARY_CASES), the product's ulp and the n-term sum's γ_n.
            tol[i]! += Math.abs(s.d[j]!) * (gamma(k + 2) * abs[i * n + j]! + 2 ** -19) + gamma(n + 2) * Math.abs(s.d[j]!);
          }
        }
        expectClose('pipeline chain', got, want, (i) => tol[i]!);
        for (const h of [h1, h2, h3, h4]) ctx.release(h);
      },
    },
    {
      name: 'pipeline results are immutable',
      run: async (ctx) => {
        const x = f32([1, 2, 3, 4]);
        const y = f32([10, 20, 30, 40]);
        const first = await binary(ctx, 'add', x.f, [4], x.f, [4]);
        const second = await binary(ctx, 'add', y.f, [4], y.f, [4]); // same compiled kernel
        const third = await binary(ctx, 'add', first, [4], second, [4]); // reads both
        expectClose('first result kept', await ctx.read(first, 4), [2, 4, 6, 8], exact);
        expectClose('second result', await ctx.read(second, 4), [20, 40, 60, 80], exact);
        expectClose('sum of both', await ctx.read(third, 4), [22, 44, 66, 88], exact);
        ctx.release(first);
        const fourth = await binary(ctx, 'add', second, [4], third, [4]);
        expectClose('after a release', await ctx.read(fourth, 4), [42, 84, 126, 168], exact);
        for (const h of [second, third, fourth]) ctx.release(h);
      },
    },
    {
      name: 'pipeline logistic HVP Xᵀ(D ⊙ Xv) chained on the device',
      run: async (ctx) => {
        const rng = new Rng(820);
        const [n, d] = [33, 6];
        const x = normals(rng, n * d);
        const dw = uniforms(rng, n, 0, 0.25);
        const v = normals(rng, d);
        // The inputs themselves come from kernels (a copy through transpose), so every argument
        // is a device handle, and each pass reads the previous pass's result without a readback.
        const xh = await transpose(ctx, x.f, [n, d], [0, 1]);
        const vh = await transpose(ctx, v.f, [d], [0]);
        const xv = await matmul(ctx, xh, vh, { m: n, k: d, n: 1 });
        const scaled = await binary(ctx, 'mul', xv, [n], dw.f, [n]);
        const h = await matmul(ctx, xh, scaled, { m: d, k: n, n: 1, transA: true });
        const { want, tol } = refLogisticHvp(x.d, dw.d, v.d, n, d);
        expectClose('pipeline logistic HVP', await ctx.read(h, d), want, (j) => tol[j]!);
        for (const hh of [xh, vh, xv, scaled, h]) ctx.release(hh);
      },
    },
  ];
}
