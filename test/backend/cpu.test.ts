/**
 * The CPU backend against naive definitions written independently of it (index arithmetic, one
 * element at a time; the matrix product's is `refMatmul`, the float64 reference the kernel tests
 * share). The backend's loops are optimised (register tiles, strided odometers); these
 * tests pin them to the definitions on sizes that exercise every tile edge and axis combination.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend as cpu } from '../../src/backend/cpu.ts';
import { sizeOf, stridesOf } from '../../src/base/shape.ts';
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../../src/base/op-list.ts';
import { refMatmul } from '../gpu/suite.ts';
import { windowMaxComposed } from '../../src/prims/max-pool.ts';

const data = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 2);
const unravel = (k: number, shape: number[]) => {
  const st = stridesOf(shape);
  return shape.map((_, i) => Math.floor(k / st[i]!) % shape[i]!);
};
const ravel = (idx: number[], shape: number[]) => idx.reduce((o, v, i) => o + v * stridesOf(shape)[i]!, 0);

/** Sums of products of k terms of size ≤ 4: rounding differs by at most ~k·ε·Σ|terms|. */
function close(a: Float64Array, b: Float64Array, tol = 1e-12) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
}

/**
 * The definition of each unary op, one element at a time. A `Record` over the op list: a new op
 * fails to compile here until it has a definition, and the loop below then tests it.
 */
const UNARY_DEFS: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  log1p: Math.log1p,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sqrt: Math.sqrt,
  abs: Math.abs,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  erf: erfBySimpson,
  relu: (x) => (Number.isNaN(x) ? x : Math.max(x, 0) + 0), // + 0 turns −0 into +0
};

/** Ops whose definition above is itself approximate, and by how much (default 0: identical). */
const UNARY_TOL: Partial<Record<UnaryOp, number>> = { erf: 1e-12 };

/**
 * erf x = (2/√π) ∫₀ˣ e^(−t²) dt by Simpson's rule with step ≤ 1/1000, the integral cut at 8
 * (e^(−64) ≈ 1e-28 is far below float64 resolution of erf there). Simpson's error bound
 * (b/180) h⁴ max|f⁗| ≤ (8/180) · 1e-12 · 13.6 ≈ 6e-13; the rounding of ≤ 8000 terms stays below that.
 */
function erfBySimpson(x: number): number {
  if (Number.isNaN(x) || x === 0) return x;
  const b = Math.min(Math.abs(x), 8);
  const n = 2 * Math.ceil(b * 500);
  const h = b / n;
  let s = 1 + Math.exp(-b * b);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-(i * h) * (i * h));
  return Math.sign(x) * ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
}

/** The definition of each binary op (maximum propagates NaN, as numpy and JAX do). */
const BINARY_DEFS: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  greater: (a, b) => Number(a > b),
  greaterEqual: (a, b) => Number(a >= b),
  less: (a, b) => Number(a < b),
  lessEqual: (a, b) => Number(a <= b),
  equal: (a, b) => Number(a === b),
  notEqual: (a, b) => Number(a !== b),
  // d/dx tanh = 1 − tanh², times the cotangent; ReLU's derivative is the step [x > 0] (NaN passes).
  tanhGrad: (y, g) => g * (1 - y * y),
  reluGrad: (x, g) => (x > 0 || Number.isNaN(x) ? g : 0),
};

/** Elementwise agreement within `tol` relative to 1 + |want|; NaN must meet NaN, ±∞ the same ∞. */
function closeOrBothNaN(got: Float64Array, want: readonly number[], tol: number, what: string) {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => {
    if (Number.isNaN(w)) expect(got[i], `${what} [${i}]`).toBeNaN();
    else if (!Number.isFinite(w)) expect(got[i], `${what} [${i}]`).toBe(w);
    else expect(Math.abs(got[i]! - w), `${what} [${i}]: got ${got[i]}, want ${w}`).toBeLessThanOrEqual(tol * (1 + Math.abs(w)));
  });
}

describe('cpu backend evaluates every op of the op list by its definition', () => {
  // Zeros, signs, ties between the two operands, an infinity and a NaN.
  const xs = [0, -0, 1, -1, 0.5, -2.5, 3, 1e-8, -7, 40, Infinity, NaN];
  const ys = [0, 1, 1, -2, 0.5, 2, -3, 1e-8, 2, 0.25, 1, 2];

  it.each([...UNARY_OPS])('unary %s', (op) => {
    const got = cpu.unary(op, Float64Array.from(xs), xs.length) as Float64Array;
    closeOrBothNaN(got, xs.map(UNARY_DEFS[op]), UNARY_TOL[op] ?? 0, op);
  });

  it.each([...BINARY_OPS])('binary %s', (op) => {
    const got = cpu.binary(op, Float64Array.from(xs), Float64Array.from(ys), xs.length) as Float64Array;
    closeOrBothNaN(got, xs.map((x, i) => BINARY_DEFS[op](x, ys[i]!)), 0, op);
  });
});

describe('cpu backend matches naive definitions', () => {
  it('matmul: every transpose combination, batch, and sizes across the 4×4 tile edges', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 11 }), fc.boolean(), fc.boolean(),
        (batch, m, k, n, tA, tB) => {
          const a = data(batch * m * k, m + k);
          const b = data(batch * k * n, k + n + 1);
          close(cpu.matmul(a, b, batch, m, k, n, tA, tB) as Float64Array, refMatmul(a, b, batch, m, k, n, tA, tB).c);
        },
      ),
      { numRuns: 200 },
    );
  });

  const arbShape = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });

  it('reduce sum and max over any set of axes', () => {
    fc.assert(
      fc.property(arbShape, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (shape, pick) => {
        const axes = shape.map((_, i) => i).filter((i) => pick[i]);
        const x = data(sizeOf(shape), shape.length);
        const outShape = shape.filter((_, i) => !axes.includes(i));
        const sum = new Float64Array(sizeOf(outShape));
        const max = new Float64Array(sizeOf(outShape)).fill(-Infinity);
        for (let k = 0; k < x.length; k++) {
          const idx = unravel(k, shape).filter((_, i) => !axes.includes(i));
          const o = ravel(idx, outShape);
          sum[o] += x[k]!;
          max[o] = Math.max(max[o]!, x[k]!);
        }
        close(cpu.reduce('sum', x, shape, axes) as Float64Array, sum);
        close(cpu.reduce('max', x, shape, axes) as Float64Array, max, 0);
      }),
      { numRuns: 100 },
    );
  });

  it('transpose, broadcast, slice and pad move each element where the definition says', () => {
    fc.assert(
      fc.property(arbShape, fc.integer({ min: 0, max: 1000 }), (shape, seed) => {
        const x = data(sizeOf(shape), seed);
        const rank = shape.length;
        // transpose by reversing the axes
        const perm = shape.map((_, i) => rank - 1 - i);
        const tShape = perm.map((p) => shape[p]!);
        const t = cpu.transpose(x, shape, perm) as Float64Array;
        for (let k = 0; k < x.length; k++) {
          const idx = unravel(k, shape);
          expect(t[ravel(perm.map((p) => idx[p]!), tShape)]).toBe(x[k]);
        }
        // broadcast axis 0 (made size 1) to size 3
        const one = [1, ...shape.slice(1)];
        const to = [3, ...shape.slice(1)];
        const src = data(sizeOf(one), seed + 1);
        const bc = cpu.broadcast(src, one, to) as Float64Array;
        for (let k = 0; k < bc.length; k++) expect(bc[k]).toBe(src[ravel([0, ...unravel(k, to).slice(1)], one)]);
        // slice off the first element of every axis of size > 1, then pad it back
        const starts = shape.map((d) => (d > 1 ? 1 : 0));
        const sizes = shape.map((d, i) => d - starts[i]!);
        const sl = cpu.slice(x, shape, starts, sizes) as Float64Array;
        for (let k = 0; k < sl.length; k++) expect(sl[k]).toBe(x[ravel(unravel(k, sizes).map((v, i) => v + starts[i]!), shape)]);
        const padded = cpu.pad(sl, sizes, starts, shape.map(() => 0)) as Float64Array;
        for (let k = 0; k < padded.length; k++) {
          const inside = unravel(k, shape).every((v, i) => v >= starts[i]!);
          expect(padded[k]).toBe(inside ? x[k] : 0);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('every permutation moves each element where the definition says (block swaps take a tiled path)', () => {
    // Sizes up to 37 cross the 16 × 16 tiles' edges; every permutation of rank ≤ 4 is drawn, so
    // both the block-swap path ([0, 2, 3, 1], [0, 3, 1, 2], [1, 0], …) and the strided gather run.
    const shapeArb = fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 1, maxLength: 4 }).filter((s) => sizeOf(s) <= 20000);
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 23 }), (shape, seed, pick) => {
        const perms: number[][] = [];
        const build = (prefix: number[]) => {
          if (prefix.length === shape.length) return void perms.push(prefix);
          for (let i = 0; i < shape.length; i++) if (!prefix.includes(i)) build([...prefix, i]);
        };
        build([]);
        const perm = perms[pick % perms.length]!;
        const x = data(sizeOf(shape), seed);
        const tShape = perm.map((p) => shape[p]!);
        const t = cpu.transpose(x, shape, perm) as Float64Array;
        for (let k = 0; k < x.length; k++) {
          const idx = unravel(k, shape);
          expect(t[ravel(perm.map((p) => idx[p]!), tShape)]).toBe(x[k]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('take copies whole slices for any slice length (1: a plain gather; ≥ 32: block copies)', () => {
    for (const inner of [1, 3, 31, 32, 45]) {
      const x = data(4 * 5 * inner, inner); // [4, 5, inner]
      const idx = new Float64Array([4, 0, 4, 2]);
      const t = cpu.take(x, [4, 5, inner], idx, 1) as Float64Array; // [4, 4, inner]
      for (let o = 0; o < 4; o++) {
        for (let j = 0; j < 4; j++) {
          for (let q = 0; q < inner; q++) expect(t[(o * 4 + j) * inner + q]).toBe(x[(o * 5 + idx[j]!) * inner + q]);
        }
      }
    }
  });

  it('concat, take and scatterAdd', () => {
    const a = data(6, 1), b = data(4, 2);
    const c = cpu.concat([a, b], [[3, 2], [2, 2]], 0) as Float64Array;
    expect([...c]).toEqual([...a, ...b]);
    const c1 = cpu.concat([a, b], [[2, 3], [2, 2]], 1) as Float64Array;
    expect([...c1]).toEqual([a[0], a[1], a[2], b[0], b[1], a[3], a[4], a[5], b[2], b[3]]);
    const x = data(12, 3); // [3, 4]
    const idx = new Float64Array([2, 0, 2]);
    const t = cpu.take(x, [3, 4], idx, 1) as Float64Array; // [3, 3]
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(t[i * 3 + j]).toBe(x[i * 4 + idx[j]!]);
    const g = data(9, 4);
    const s = cpu.scatterAdd(g, [3, 3], idx, 1, 4) as Float64Array; // [3, 4], index 2 twice
    for (let i = 0; i < 3; i++) {
      expect(s[i * 4 + 0]).toBe(g[i * 3 + 1]);
      expect(s[i * 4 + 1]).toBe(0);
      expect(s[i * 4 + 2]).toBe(g[i * 3 + 0]! + g[i * 3 + 2]!);
      expect(s[i * 4 + 3]).toBe(0);
    }
  });

  it('propagates NaN through maximum, max and matmul instead of hiding it', () => {
    const nan = new Float64Array([NaN, 1]);
    expect(Number.isNaN((cpu.binary('maximum', nan, new Float64Array([5, 5]), 2) as Float64Array)[0])).toBe(true);
    expect(Number.isNaN((cpu.reduce('max', nan, [2], [0]) as Float64Array)[0])).toBe(true);
    const A = new Float64Array([0, 0, 0, 0]);
    const B = new Float64Array([Infinity, 1, 1, 1]);
    expect(Number.isNaN((cpu.matmul(A, B, 1, 2, 2, 2, false, false) as Float64Array)[0])).toBe(true); // 0·∞
  });
});

describe('windowMax (max pooling selection): the direct loop against the composition of backend ops', () => {
  // The composition (take, reduce max, equal, sum, div, scatterAdd) is what backends without
  // windowMax run; it is the definition written with ops already tested above. The two sum the
  // tied entries in different orders (t_f + Σ(t_p − t_f)/|S| against Σ t_p/|S|): a few ulps of the
  // largest |t| in a window, so 1e-14 · (1 + max |t|) bounds the difference with room.
  const cases = [
    { h: 5, w: 4, win: { kh: 3, kw: 3, sh: 2, sw: 2, top: 1, left: 1, ho: 3, wo: 2 } },
    { h: 6, w: 7, win: { kh: 2, kw: 3, sh: 1, sw: 2, top: 0, left: 1, ho: 5, wo: 4 } },
    { h: 28, w: 28, win: { kh: 3, kw: 3, sh: 2, sw: 2, top: 0, left: 0, ho: 14, wo: 14 } },
  ];
  it.each(cases)('$h×$w plane, windows $win.kh×$win.kw: gather and scatter agree, ties and NaN included', ({ h, w, win }) => {
    const planes = 3;
    const n = planes * h * w;
    // Values on a coarse grid so that windows often tie; one NaN in the second plane.
    const x = Float64Array.from({ length: n }, (_, i) => Math.round(3 * Math.sin(i * 1.7)));
    x[h * w + 3] = NaN;
    const t = data(n, 5);
    const g = data(planes * win.ho * win.wo, 6);
    const tol = (want: Float64Array, got: Float64Array, scale: number) =>
      want.forEach((v, i) => {
        if (Number.isNaN(v)) expect(got[i]).toBeNaN();
        else expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(1e-14 * (1 + scale));
      });
    const maxAbs = (a: Float64Array) => a.reduce((m, v) => (Number.isNaN(v) ? m : Math.max(m, Math.abs(v))), 0);
    tol(windowMaxComposed(cpu, 'gather', x, t, planes, h, w, win) as Float64Array, cpu.windowMax('gather', x, t, planes, h, w, win) as Float64Array, maxAbs(t));
    tol(windowMaxComposed(cpu, 'scatter', x, g, planes, h, w, win) as Float64Array, cpu.windowMax('scatter', x, g, planes, h, w, win) as Float64Array, 9 * maxAbs(g));
  });

  it('gathering x itself gives the window maximum exactly, however many entries tie', () => {
    // One 3 × 3 window of 0.1s (nine ties) and one of 1/3s with a larger entry: 9·0.1/9 would
    // round, t_f + Σ(t_p − t_f)/|S| does not.
    const win = { kh: 3, kw: 3, sh: 3, sw: 3, top: 0, left: 0, ho: 1, wo: 2 };
    const x = Float64Array.from({ length: 18 }, (_, i) => ((i % 6) < 3 ? 0.1 : i === 5 ? 0.5 : 1 / 3));
    expect(Array.from(cpu.windowMax('gather', x, x, 1, 3, 6, win) as Float64Array)).toEqual([0.1, 0.5]);
  });

  it('scatter is the adjoint of gather: ⟨g, gather(x, t)⟩ = ⟨scatter(x, g), t⟩ (ties split equally)', () => {
    const { h, w, win } = cases[0]!;
    const x = Float64Array.from({ length: 2 * h * w }, (_, i) => Math.round(2 * Math.cos(i)));
    const t = data(2 * h * w, 8);
    const g = data(2 * win.ho * win.wo, 9);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    const lhs = dot(g, cpu.windowMax('gather', x, t, 2, h, w, win) as Float64Array);
    const rhs = dot(cpu.windowMax('scatter', x, g, 2, h, w, win) as Float64Array, t);
    // Both are sums of the same ≤ 2·6·9 products g_W·t_p/|S| in different orders.
    expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-13 * (1 + Math.abs(lhs)));
  });
});
