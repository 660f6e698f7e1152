/**
 * The linear models' fast Hessian and HVP (the GLM formula with sparse features) against the
 * engine's `hessian` and forward-over-reverse `hvp` of the same objective, and the flat parameter
 * layout's regularisation rule. Both sides are float64 sums of the same O(n·d) terms in different
 * orders, so they agree to ~1e-15 relative; 1e-12 leaves room for n ≤ 60 terms of size O(1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hessian, linearObjective, paramLayout, tensor, zeros } from '../../src/index.ts';
import { fromFloat64 } from '../../src/core/create.ts';
import {
  checkMinimiser,
  checkTrainedMinimiser,
  classesOf,
  type Dataset,
  type LinearModelKind,
  linearModel,
  linearProblemBytes,
  NoMinimiserError,
  separationCertificate,
} from '../../src/nn/linear-models.ts';
import { newton } from '../../src/optim/newton.ts';
import { expectClose, maxAbs } from '../helpers.ts';
import { randomData, randomObjective } from '../influence/problems.ts';
import { Rng } from '../../src/core/rng.ts';

const kinds = ['linreg', 'logreg', 'softmax'] as const;

describe('linear models', () => {
  it('the fast dense Hessian equals the engine hessian of R', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 5, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, l2, seed) => {
        const obj = randomObjective(kind, n, d, l2, seed);
        const theta = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(seed + i));
        const fast = obj.hessian(theta);
        const R = (th: any) => (obj as any).R(th);
        const ref = hessian(R)(fromFloat64(theta, [obj.dim])).toFloat64Array();
        expectClose(fast, ref, { rtol: 1e-12, atol: 1e-12 * maxAbs(ref), what: `${kind} Hessian` });
      }),
      { numRuns: 30 },
    );
  });

  // Sparse rows (most features zero, as MNIST's pixels) take the index path, dense rows the direct
  // one; `zeroFraction` 0.8 makes the first, 0 the second.
  it.each([0, 0.8])('the fast HVP (full, weighted and mini-batch) equals the engine HVP, %s of the features zero', (zeroFraction) => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 5, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, seed) => {
        const data = randomData(kind, n, d, seed);
        const rng = new Rng(seed + 1);
        for (let j = 0; j < data.X.length; j++) if (rng.uniform() < zeroFraction) data.X[j] = 0;
        const base = linearObjective(kind, data, 0.3, kind === 'softmax' ? { classes: 3 } : {});
        const w = Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1 + 0.1 * i));
        const obj = base.withWeights(w);
        const theta = Float64Array.from({ length: obj.dim }, (_, i) => Math.cos(seed + 2 * i));
        const v = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(3 * i + 1));
        const batch = [n - 1, 0, Math.floor(n / 2)];
        for (const b of [undefined, batch]) {
          const ref = obj.engineHvp(theta, v, b);
          expectClose(obj.hvp(theta, v, b), ref, { rtol: 1e-12, atol: 1e-13 * maxAbs(ref), what: `${kind} HVP${b ? ' (batch)' : ''}` });
        }
      }),
      { numRuns: 30 },
    );
  });

  it('leaves under key b are not regularised, W and w are', () => {
    const layout = paramLayout([{ W: zeros([2, 3]), b: zeros([2]) }, { w: tensor([1]), b: tensor(0) }]);
    expect(Array.from(layout.regularized)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 1, 0]);
    expect(layout.size).toBe(10);
  });

  it('rejects labels the model cannot use, naming the row', () => {
    const d = { X: new Float64Array(4), y: new Float64Array([0, 2]), n: 2, d: 2 };
    expect(() => linearObjective('logreg', d, 0.1)).toThrow(/row 2 has label 2; logreg needs labels 0 or 1/);
    expect(() => linearObjective('softmax', { ...d, y: new Float64Array([0, 1.5]) }, 0.1, { classes: 2 })).toThrow(/row 2 has label 1.5/);
    expect(() => linearObjective('linreg', d, 0.1)).not.toThrow();
  });

  it('softmax without classes infers K only when every class appears, naming the source', () => {
    expect(() => linearObjective('softmax', { X: new Float64Array(3), y: new Float64Array([0, 1, 4]), n: 3, d: 1 }, 0.1, { source: 'train.csv' })).toThrow(
      /train\.csv: the labels run to 4 but classes 2\.\.3 never appear/,
    );
  });
});

describe('classesOf: K only when every class 0..K−1 appears', () => {
  it('infers K = largest label + 1 (at least 2) across label sets', () => {
    expect(classesOf(new Float64Array([0, 2]), new Float64Array([1]))).toBe(3);
    expect(classesOf(new Float64Array([0, 0]))).toBe(2);
    expect(classesOf({ labels: new Float64Array([1, 0, 1]), source: 'a' })).toBe(2);
  });

  it('a stray label (3000 among 0..9, or 1e6) is refused at once, naming the missing classes and the row', () => {
    const y = Float64Array.from({ length: 50 }, (_, i) => (i === 7 ? 3000 : i % 10));
    expect(() => classesOf({ labels: y, source: 'train.csv' })).toThrow(/^train\.csv: the labels run to 3000 but classes 10\.\.2999 never appear \(11 of 3001 classes present; train\.csv row 8 has 3000\)/);
    y[7] = 1e6;
    const t0 = performance.now();
    expect(() => classesOf(y)).toThrow(/labels 1: the labels run to 1000000 but classes 10\.\.999999 never appear/);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(() => classesOf(new Float64Array([0, 1, 3, 5, 7, 9, 11]))).toThrow(/classes 2, 4, 6, 8, … never appear/);
  });

  it('a label that is not a non-negative integer names its set and row', () => {
    expect(() => classesOf(new Float64Array([0, 1]), { labels: new Float64Array([1, 1.5]), source: 'test.csv' })).toThrow('test.csv: row 2 has label 1.5; softmax needs integer labels 0..K−1');
    expect(() => classesOf(new Float64Array([0, -1]))).toThrow(/labels 1: row 2 has label -1/);
  });
});

/** Rows with features from `rng` and the label `label(x)`. */
function dataset(n: number, d: number, seed: number, label: (x: number[], rng: Rng) => number): Dataset {
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => rng.normal());
    X.set(x, i * d);
    y[i] = label(x, rng);
  }
  return { X, y, n, d };
}

const noMinimiser = (f: () => void): NoMinimiserError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NoMinimiserError);
    return e as NoMinimiserError;
  }
  throw new Error('no NoMinimiserError');
};

describe('checkMinimiser: the cases the labels decide, for every λ', () => {
  const two = dataset(10, 2, 1, (_, rng) => (rng.uniform() < 0.5 ? 0 : 1));
  two.y.set([0, 1, 0, 1]);

  it('passes when every class has rows (and, with leaveOneOut, at least two)', () => {
    for (const kind of ['logreg', 'softmax', 'linreg'] as const) {
      expect(() => checkMinimiser(kind, two, 0.1)).not.toThrow();
      expect(() => checkMinimiser(kind, two, 0, { leaveOneOut: true })).not.toThrow();
    }
  });

  it('one class: no minimiser even with λ > 0 (the intercept is not penalised)', () => {
    const one = { ...two, y: new Float64Array(10).fill(1) };
    for (const l2 of [0, 1]) {
      const e = noMinimiser(() => checkMinimiser('logreg', one, l2, { source: 'train.csv' }));
      expect(e.reason).toBe('one-class');
      expect(e.classes).toEqual([1]);
      expect(e.message).toMatch(/^train\.csv: every row has label 1 \(one class\): R keeps falling as the intercept b runs to \+∞/);
      expect(e.message).toMatch(l2 ? /λ = 1 does not help/ : /no minimiser; add rows/);
    }
    // And the trainer would indeed report convergence at a finite, meaningless intercept.
    const { theta, converged } = newton(linearObjective('logreg', one, 0.1));
    expect(converged).toBe(true);
    expect(theta[2]).toBeGreaterThan(15);
  });

  it('a softmax class without rows (given K, or all labels 0); rows with weight 0 do not count', () => {
    const e = noMinimiser(() => checkMinimiser('softmax', two, 0.1, { classes: 3 }));
    expect([e.reason, e.classes]).toEqual(['absent-class', [2]]);
    expect(e.message).toMatch(/class 2 has no row: R keeps falling as its intercept b\[2\] runs to −∞/);
    expect(noMinimiser(() => checkMinimiser('softmax', { ...two, y: new Float64Array(10) }, 0.1)).reason).toBe('one-class');
    const w = Float64Array.from(two.y, (c) => (c === 1 ? 0 : 1));
    expect(noMinimiser(() => checkMinimiser('logreg', two, 0.1, { weights: w })).reason).toBe('one-class');
    expect(noMinimiser(() => checkMinimiser('linreg', two, 0.1, { weights: new Float64Array(10) })).reason).toBe('no-rows');
  });

  it('leaveOneOut: a class with a single row, or a single row at all', () => {
    const lone = { ...two, y: Float64Array.from({ length: 10 }, (_, i) => (i === 6 ? 2 : i % 2)) };
    const e = noMinimiser(() => checkMinimiser('softmax', lone, 0.1, { leaveOneOut: true }));
    expect([e.reason, e.classes, e.rows]).toEqual(['absent-class', [2], [6]]);
    expect(e.message).toMatch(/row 7 is the only row of class 2/);
    expect(() => checkMinimiser('softmax', lone, 0.1)).not.toThrow();
    const single = { X: new Float64Array([1, 2]), y: new Float64Array([0.5]), n: 1, d: 2 };
    expect(() => checkMinimiser('linreg', single, 0.1)).not.toThrow();
    expect(noMinimiser(() => checkMinimiser('linreg', single, 0.1, { leaveOneOut: true })).rows).toEqual([0]);
  });
});

/** Every margin aⱼᵀu of the certificate, computed independently from the logits of u. */
function certificateMargins(kind: LinearModelKind, u: Float64Array, data: Dataset, K: number): number[] {
  const { X, y, n, d } = data;
  const z = (i: number, c: number) => {
    let s = u[K * d + c]!;
    for (let j = 0; j < d; j++) s += u[c * d + j]! * X[i * d + j]!;
    return s;
  };
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    if (kind === 'logreg') out.push((y[i] === 1 ? 1 : -1) * z(i, 0));
    else for (let c = 0; c < K; c++) if (c !== y[i]) out.push(z(i, y[i]!) - z(i, c));
  }
  return out;
}

describe('separationCertificate: a direction along which R keeps falling at λ = 0', () => {
  const kinds = ['logreg', 'softmax'] as const;
  const K = (kind: LinearModelKind) => (kind === 'softmax' ? 3 : 1);
  const rule = (kind: LinearModelKind) => (x: number[]) => (kind === 'logreg' ? (x[0]! - x[1]! > 0.2 ? 1 : 0) : x[0]! > 0.5 ? 2 : x[0]! < -0.5 ? 0 : 1);

  it('separable data: found, complete, and every margin along it is positive while R falls', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 12, max: 40 }), fc.integer({ min: 2, max: 3 }), fc.integer({ min: 1, max: 1e6 }), (kind, n, d, seed) => {
        const data = dataset(n, d, seed, rule(kind));
        fc.pre(new Set(data.y).size === (kind === 'softmax' ? 3 : 2));
        const opts = kind === 'softmax' ? { classes: 3 } : {};
        const obj = linearObjective(kind, data, 0, opts);
        const { theta } = newton(obj, { allowUnconverged: true });
        const cert = separationCertificate(kind, theta, data, opts);
        expect(cert?.complete).toBe(true);
        expect(cert!.strict).toHaveLength(n);
        expect(Math.min(...certificateMargins(kind, cert!.direction, data, K(kind)))).toBeGreaterThan(0);
        const R = (t: number) => obj.valueAndGradient(theta.map((v, i) => v + t * cert!.direction[i]!))[0];
        expect(R(1)).toBeLessThanOrEqual(R(0));
        expect(() => checkTrainedMinimiser(kind, theta, data, 0, opts)).toThrow(/linearly separable/);
        expect(() => checkTrainedMinimiser(kind, theta, data, 1e-3, opts)).not.toThrow();
      }),
      { numRuns: 20 },
    );
  });

  it('quasi-separable data (separable but for opposite-label pairs on the boundary): found, not complete, boundary rows flat', () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: 30 }), fc.integer({ min: 1, max: 1e6 }), (n, seed) => {
        const sep = dataset(n, 2, seed, (x) => (x[0]! > 0 ? 1 : 0));
        fc.pre(new Set(sep.y).size === 2);
        // Two points on the line x0 = 0, each with both labels.
        const X = Float64Array.from([...sep.X, 0, 0.5, 0, 0.5, 0, -1, 0, -1]);
        const y = Float64Array.from([...sep.y, 1, 0, 0, 1]);
        const data = { X, y, n: n + 4, d: 2 };
        const { theta } = newton(linearObjective('logreg', data, 0), { allowUnconverged: true });
        const cert = separationCertificate('logreg', theta, data);
        expect(cert).not.toBeNull();
        expect(cert!.complete).toBe(false);
        expect(cert!.boundary).toEqual(expect.arrayContaining([n, n + 1, n + 2, n + 3]));
        const m = certificateMargins('logreg', cert!.direction, data, 1);
        const scale = Math.max(...m.map(Math.abs));
        expect(Math.min(...m)).toBeGreaterThan(-1e-10 * scale);
        expect(() => checkTrainedMinimiser('logreg', theta, data, 0)).toThrow(/quasi-separable/);
      }),
      { numRuns: 15 },
    );
  });

  // With one copy of each row per class, a direction that raises some margin lowers another copy's.
  // (Two copies would not do for softmax: lowering the third class's logit is then a direction of
  // quasi-separation, which the certificate rightly finds.)
  it('overlapping data (every row present with every label) has no certificate: a minimiser exists', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 4, max: 15 }), fc.integer({ min: 1, max: 1e6 }), (kind, n, seed) => {
        const base = dataset(n, 2, seed, rule(kind));
        const copies = kind === 'logreg' ? 2 : 3;
        const X = Float64Array.from(Array.from({ length: copies }, () => [...base.X]).flat());
        const y = Float64Array.from(Array.from({ length: copies }, (_, k) => Array.from(base.y, (c) => (c + k) % copies)).flat());
        const data = { X, y, n: copies * n, d: 2 };
        const opts = kind === 'softmax' ? { classes: 3 } : {};
        const { theta } = newton(linearObjective(kind, data, 0, opts));
        expect(separationCertificate(kind, theta, data, opts)).toBeNull();
        expect(() => checkTrainedMinimiser(kind, theta, data, 0, opts)).not.toThrow();
      }),
      { numRuns: 20 },
    );
  });

  it('linreg never has one; weights leave rows out', () => {
    const data = dataset(10, 2, 3, (x) => x[0]!);
    expect(separationCertificate('linreg', new Float64Array(3), data)).toBeNull();
    // Overlapping but for one row: without it the rest is separable.
    const sep = dataset(20, 2, 4, (x) => (x[0]! > 0 ? 1 : 0));
    const data2 = { X: Float64Array.from([...sep.X, 0.5, 0]), y: Float64Array.from([...sep.y, 0]), n: 21, d: 2 };
    const w = new Float64Array(21).fill(1);
    w[20] = 0;
    const { theta } = newton(linearObjective('logreg', data2, 0).withWeights(w), { allowUnconverged: true });
    expect(separationCertificate('logreg', theta, data2, { weights: w })?.complete).toBe(true);
  });
});

describe('linearProblemBytes', () => {
  it('counts X, the targets, the curvature cache and (dense) the Hessian three times, in float64', () => {
    expect(linearProblemBytes('logreg', 100, 9, 1)).toBe(8 * (900 + 100 + 100 + 40));
    expect(linearProblemBytes('softmax', 50, 2, 3001, { denseHessian: true })).toBe(8 * (100 + 50 * 3001 + 50 * 3001 ** 2 + 4 * 9003 + 3 * 9003 ** 2));
    expect(linearModel('softmax', 2, 3001).dim).toBe(9003);
  });
});

