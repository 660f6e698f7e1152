/**
 * logSumExp, logSoftmax, softmax and softmaxCrossEntropy to third order.
 *
 * Over a size-1 axis logSoftmax is identically 0 (softmax identically 1), and over a saturated axis
 * (one entry above the others by more than 745, so exp of the gap underflows to 0) it is constant
 * in float64. Their derivatives must then be exactly 0, not rounding noise: with logSumExp
 * composed as log Σ exp(x − m) + m, the zero came out of a difference of large terms (−dt² +
 * (d²t + dt²)) and reached 6.5e-6 relative error in third derivatives. The logSumExp primitive's
 * rules (JVP Σ softmax·t, VJP ct·softmax, softmax = exp(x − out)) give d out = t exactly there, so
 * every derivative of x − logSumExp(x) vanishes exactly (proofs/primitive-rules.md §3).
 *
 * Where the function is not constant, the third derivatives agree with a closed form (the third
 * cumulant of softmax) and with finite differences of the HVP, and all routes (forward and reverse
 * at every order, hessian, vmap) agree with each other.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  add, div, exp, grad, hessian, hvp, jvp, logSoftmax, logSumExp, mul, sin, softmax, softmaxCrossEntropy, stack, sub,
  sum, tanh, tensor, vmap,
} from '../../src/index.ts';
import { centralDifference, expectClose, maxAbs, seededTensor } from '../helpers.ts';

type Fn = (x: Tensor) => Tensor;

/** ⟨w, f(x)⟩: a scalar function to take gradients of. */
const scalarised = (f: Fn, w: Tensor): Fn => (x) => sum(mul(w, f(x)));

/**
 * Every route to the first, second and third directional derivatives of g = ⟨c, f⟩ at x along
 * u, v, w: forward (jvp), reverse (grad), forward-over-reverse and reverse-over-reverse HVPs, the
 * full Hessian, and three third-order routes (jvp of the HVP, grad of ⟨HVP, w⟩, and reverse over
 * the reverse-over-reverse HVP), plus the HVP under vmap.
 */
function allDerivatives(f: Fn, x: Tensor, seed: number): [string, Tensor][] {
  const y = f(x);
  const c = seededTensor([...y.shape], seed + 1);
  const [u, v, w] = [2, 3, 4].map((k) => seededTensor([...x.shape], seed + k));
  const g = scalarised(f, c);
  const hv = (z: Tensor) => hvp(g, z, v!);
  const hvRev = (z: Tensor) => hvp(g, z, v!, { mode: 'rev-rev' });
  return [
    ['jvp of f', jvp(f, [x], [u!])[1]],
    ['grad', grad(g)(x) as Tensor],
    ['hvp fwd-rev', hv(x)],
    ['hvp rev-rev', hvRev(x)],
    ['hessian', hessian(g)(x)],
    ['jvp of hvp (fwd-fwd-rev)', jvp(hv, [x], [w!])[1]],
    ['grad of ⟨hvp, w⟩ (rev-fwd-rev)', grad((z: Tensor) => sum(mul(hv(z), w!)))(x) as Tensor],
    ['grad of ⟨rev-rev hvp, w⟩ (rev-rev-rev)', grad((z: Tensor) => sum(mul(hvRev(z), w!)))(x) as Tensor],
    ['vmap of hvp', vmap(hv)(stack([x, x]))],
  ];
}

function expectExactZeros(results: [string, Tensor][], what: string): void {
  for (const [route, t] of results) {
    const worst = maxAbs(t);
    expect(worst, `${what}: ${route} should be exactly 0, largest |entry| ${worst}`).toBe(0);
  }
}

/** A nonlinear map with large derivatives (up to ~e^(e^1.5/2) ≈ 9 and beyond), as in the report. */
const steep: Fn = (x) => exp(div(exp(x), 2));

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const size = fc.integer({ min: 1, max: 3 });

describe('logSumExp values at the edges', () => {
  it('stable for large entries, −∞ entries drop out, an all-(−∞) row gives −∞, +∞ gives +∞, NaN propagates, an empty axis gives −∞', () => {
    const got = logSumExp(tensor([[1000, 1000], [1, -Infinity], [-Infinity, -Infinity], [Infinity, 0], [NaN, 0]]), 1);
    expect(Array.from(got.toFloat64Array())).toEqual([1000 + Math.log(2), 1, -Infinity, Infinity, NaN]);
    expect(Array.from(logSumExp(tensor(new Float64Array(0), [2, 0]), 1).toFloat64Array())).toEqual([-Infinity, -Infinity]);
  });
  it('the gradient is softmax, exactly 0 at a −∞ entry', () => {
    expect(Array.from((grad((z: Tensor) => logSumExp(z))(tensor([3, -Infinity])) as Tensor).toFloat64Array())).toEqual([1, 0]);
    expectClose(grad((z: Tensor) => logSumExp(z))(tensor([0, Math.log(3)])) as Tensor, [0.25, 0.75], { rtol: 1e-15 });
  });
});

describe('logSumExp family on a size-1 axis: exactly constant, so every derivative to order three is exactly 0', () => {
  it('the reported case: jvp of the HVP of logSumExp(logSoftmax(exp(exp(x)/2), 1)) (≡ log 2) is exactly 0', () => {
    const f = (x: Tensor) => logSumExp(logSoftmax(steep(x), 1));
    const x = tensor([[2.71], [0.5]]);
    const v = tensor([[0.8], [1.0]]);
    expect(f(x).item()).toBe(Math.log(2));
    const third = jvp((z: Tensor) => hvp(f, z, v), [x], [v])[1];
    expect(Array.from(third.toFloat64Array())).toEqual([0, 0]);
  });

  const constants: [string, (axis: number) => Fn][] = [
    ['logSoftmax', (axis) => (x) => logSoftmax(steep(x), axis)],
    ['softmax', (axis) => (x) => softmax(steep(x), axis)],
    // One traced z for both terms: two separately traced copies of h would differ in the order in
    // which their second-order terms are summed, rounding the user's own program, not logSumExp.
    ['logSumExp(z) − z', (axis) => (x) => {
      const z = steep(x);
      return sub(logSumExp(z, axis), sum(z, axis));
    }],
  ];
  it.each(constants)('%s over a size-1 axis (middle or last): all routes give exact zeros', (_name, make) => {
    fc.assert(
      fc.property(size, size, seeds, fc.boolean(), (a, b, seed, last) => {
        const shape = last ? [a, 1] : [a, 1, b];
        const x = seededTensor(shape, seed, -2, 1.5);
        expectExactZeros(allDerivatives(make(1), x, seed), `shape [${shape}]`);
      }),
      { numRuns: 8 },
    );
  });

  it('softmaxCrossEntropy over one class is 0 for any target: exact zeros in the logits at every order', () => {
    fc.assert(
      fc.property(size, seeds, (a, seed) => {
        const target = seededTensor([a, 1], seed + 9, 0, 1);
        const x = seededTensor([a, 1], seed, -2, 1.5);
        expectExactZeros(allDerivatives((z) => softmaxCrossEntropy(steep(z), target), x, seed), 'softmaxCrossEntropy');
      }),
      { numRuns: 8 },
    );
  });

  it('logSumExp over a size-1 axis is the identity: first derivative exactly t, higher ones exactly 0', () => {
    const x = seededTensor([3, 1], 5, -30, 30);
    const t = seededTensor([3, 1], 6);
    expect(Array.from(jvp((z: Tensor) => logSumExp(z, 1), [x], [t])[1].toFloat64Array())).toEqual(Array.from(t.toFloat64Array()));
    const g = (z: Tensor) => sum(mul(tensor([0.3, -1.2, 2]), logSumExp(z, 1)));
    expectExactZeros([['hvp', hvp(g, x, t)], ['third', jvp((z: Tensor) => hvp(g, z, t), [x], [t])[1]]], 'logSumExp size 1');
  });
});

/**
 * Rows of `[a, k]` whose entry at column (row mod k) sits 1000 above the rest; h is bounded, so the
 * gap stays above 745 and exp of it underflows to exactly 0: softmax is one-hot in float64.
 */
function saturate(h: Fn, a: number, k: number): Fn {
  const off = new Float64Array(a * k).fill(-1000);
  for (let r = 0; r < a; r++) off[r * k + (r % k)] = 0;
  const offsets = tensor(off, [a, k]);
  return (x) => add(h(x), offsets);
}
const bounded: Fn = (x) => mul(tanh(mul(x, x)), sin(x));

describe('logSumExp family on a saturated axis: constant in float64, so every derivative to order three is exactly 0', () => {
  const constants: [string, (a: number, k: number) => Fn][] = [
    ['softmax', (a, k) => (x) => softmax(saturate(bounded, a, k)(x))],
    ['logSoftmax at the dominant entry', (a, k) => (x) => mul(logSoftmax(saturate(bounded, a, k)(x)), dominantMask(a, k))],
    ['softmaxCrossEntropy with the dominant class as target', (a, k) => (x) => softmaxCrossEntropy(saturate(bounded, a, k)(x), dominantMask(a, k))],
    ['logSumExp − the dominant entry', (a, k) => (x) => {
      const z = saturate(bounded, a, k)(x);
      return sub(logSumExp(z, 1), sum(mul(z, dominantMask(a, k)), 1));
    }],
  ];
  it.each(constants)('%s: all routes give exact zeros', (_name, make) => {
    fc.assert(
      fc.property(size, fc.integer({ min: 2, max: 4 }), seeds, (a, k, seed) => {
        const x = seededTensor([a, k], seed, -3, 3);
        expectExactZeros(allDerivatives(make(a, k), x, seed), `shape [${a}, ${k}]`);
      }),
      { numRuns: 8 },
    );
  });

  it('logSoftmax at the other entries is x_j − x_dominant: first derivative exactly t_j − t_dominant, second exactly 0', () => {
    const f = (x: Tensor) => logSoftmax(saturate((z) => z, 2, 3)(x));
    const x = seededTensor([2, 3], 17, -3, 3);
    const t = seededTensor([2, 3], 18);
    const [tv, dv] = [t.toFloat64Array(), jvp(f, [x], [t])[1].toFloat64Array()];
    const want = Array.from(tv, (ti, i) => ti - tv[Math.floor(i / 3) * 3 + (Math.floor(i / 3) % 3)]!);
    expect(Array.from(dv)).toEqual(want);
    const g = scalarised(f, seededTensor([2, 3], 19));
    expectExactZeros([['hvp', hvp(g, x, t)], ['rev-rev', hvp(g, x, t, { mode: 'rev-rev' })]], 'linear logSoftmax');
  });
});

function dominantMask(a: number, k: number): Tensor {
  const m = new Float64Array(a * k);
  for (let r = 0; r < a; r++) m[r * k + (r % k)] = 1;
  return tensor(m, [a, k]);
}

/**
 * The third directional derivative of logSumExp (a cumulant generating function) along u, v, w is
 * the third central moment of the directions under p = softmax(x): Σ pᵢ (uᵢ − ū)(vᵢ − v̄)(wᵢ − w̄).
 */
function lseThird(x: number[], u: number[], v: number[], w: number[]): number {
  const m = Math.max(...x);
  const e = x.map((xi) => Math.exp(xi - m));
  const s = e.reduce((p, q) => p + q, 0);
  const p = e.map((ei) => ei / s);
  const mean = (d: number[]) => d.reduce((acc, di, i) => acc + p[i]! * di, 0);
  const [ub, vb, wb] = [mean(u), mean(v), mean(w)];
  return p.reduce((acc, pi, i) => acc + pi * (u[i]! - ub) * (v[i]! - vb) * (w[i]! - wb), 0);
}

describe('logSumExp family where it is not constant: third derivatives agree with closed forms and finite differences', () => {
  it('logSumExp: the third derivative is the third central moment of softmax, on spread, near-tied and partly saturated rows', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), seeds, fc.constantFrom(0, 1, 2), (k, seed, kind) => {
        // kind 0: spread values; 1: all within 1e-3 (near-uniform softmax); 2: two near the top, the rest 900 below.
        const base = Array.from(seededTensor([k], seed, -4, 4).toFloat64Array());
        const xs = kind === 0 ? base : kind === 1 ? base.map((b) => 7 + b * 1e-3) : base.map((b, i) => (i < 2 ? b : b - 900));
        const [u, v, w] = [1, 2, 3].map((j) => Array.from(seededTensor([k], seed + j).toFloat64Array()));
        const x = tensor(xs);
        const [U, V, W] = [u, v, w].map((d) => tensor(d!));
        const f = (z: Tensor) => logSumExp(z);
        const want = lseThird(xs, u!, v!, w!);
        const fwd = jvp((z: Tensor) => sum(mul(hvp(f, z, V!), W!)), [x], [U!])[1].item();
        const rev = sum(mul(grad((z: Tensor) => sum(mul(hvp(f, z, V!, { mode: 'rev-rev' }), W!)))(x) as Tensor, U!)).item();
        // The moment is a sum of k products of entries ≤ 1 in size, each computed to a few ulp.
        expectClose(fwd, want, { rtol: 1e-12, atol: 1e-15, what: 'fwd-fwd-rev third derivative' });
        expectClose(rev, want, { rtol: 1e-12, atol: 1e-15, what: 'rev-rev-rev third derivative' });
      }),
      { numRuns: 30 },
    );
  });

  const families: [string, Fn][] = [
    ['logSoftmax', (x) => logSoftmax(steep(x))],
    ['softmax', (x) => softmax(steep(x), 0)],
    ['softmaxCrossEntropy', (x) => softmaxCrossEntropy(steep(x), tensor([[0.2, 0.8, 0], [1, 0, 0]]))],
  ];
  it.each(families)('%s: third derivative = finite difference of the HVP, and all third-order routes agree', (_name, f) => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const x = seededTensor([2, 3], seed, -2, 1);
        const r = new Map(allDerivatives(f, x, seed));
        const third = r.get('jvp of hvp (fwd-fwd-rev)')!;
        const scale = 1 + maxAbs(third);
        // All three are D³g[v, w, ·] as a vector over the free direction; only the order differs.
        for (const route of ['grad of ⟨hvp, w⟩ (rev-fwd-rev)', 'grad of ⟨rev-rev hvp, w⟩ (rev-rev-rev)']) {
          expectClose(r.get(route)!, third, { rtol: 1e-9, atol: 1e-12 * scale, what: route });
        }
        const y = f(x);
        const c = seededTensor([...y.shape], seed + 1);
        const [v, w] = [3, 4].map((k) => seededTensor([...x.shape], seed + k));
        const fd = centralDifference((z) => hvp(scalarised(f, c), z, v!), x, w!);
        expectClose(third, fd, { rtol: 1e-5, atol: 1e-6 * scale, what: 'third derivative vs FD of the HVP' });
      }),
      { numRuns: 6 },
    );
  });
});
