import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/rng.ts';

/**
 * Statistical checks use N = 1e5 draws and a tolerance of 5 standard errors of the estimator,
 * computed from the target distribution's moments (noted beside each check). For a correct
 * generator a 5σ deviation has probability ≈ 6e-7, and since the seeds are fixed the tests are
 * deterministic anyway: the tolerance only has to be wide enough for a correct generator and
 * tight enough that a biased one (e.g. a wrong scale or a missing Box–Muller factor) fails.
 */
const N = 100_000;

function moments(xs: Float64Array): { mean: number; variance: number } {
  let mean = 0;
  for (const x of xs) mean += x;
  mean /= xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { mean, variance: ss / (xs.length - 1) };
}

function draws(seed: number, f: (r: Rng) => number, n = N): Float64Array {
  const r = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = f(r);
  return out;
}

describe('Rng determinism', () => {
  it('gives the same stream for the same seed', () => {
    expect(Array.from(draws(123, (r) => r.uniform(), 50))).toEqual(Array.from(draws(123, (r) => r.uniform(), 50)));
    expect(Array.from(draws(123, (r) => r.normal(), 51))).toEqual(Array.from(draws(123, (r) => r.normal(), 51)));
    expect(new Rng(5).permutation(20)).toEqual(new Rng(5).permutation(20));
  });

  it('gives different streams for different (even adjacent) seeds', () => {
    const a = draws(1, (r) => r.uniform(), 50);
    const b = draws(2, (r) => r.uniform(), 50);
    let equal = 0;
    for (let i = 0; i < 50; i++) if (a[i] === b[i]) equal++;
    expect(equal).toBe(0);
    expect(new Rng(1).permutation(20)).not.toEqual(new Rng(2).permutation(20));
  });

  it('rejects a non-finite seed', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
  });
});

describe('Rng.uniform statistics (1e5 draws)', () => {
  const xs = draws(2024, (r) => r.uniform());

  it('stays in [0, 1)', () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of xs) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
  });

  it('has mean 1/2 and variance 1/12', () => {
    const { mean, variance } = moments(xs);
    // SE(mean) = sqrt(1/12 / N) = 9.1e-4.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    // SE(variance) ≈ sqrt((μ4 − σ⁴) / N) with μ4 = 1/80, σ⁴ = 1/144: 2.4e-4.
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / N));
  });

  it('fills 10 equal bins evenly (chi-square, 9 dof)', () => {
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    const expected = N / 10;
    const chi2 = bins.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // The 0.9999 quantile of chi-square(9) is 33.7; a generator stuck in part of [0,1) scores thousands.
    expect(chi2).toBeLessThan(33.7);
  });
});

describe('Rng.normal statistics (1e5 draws)', () => {
  const zs = draws(7, (r) => r.normal());

  it('has mean 0 and variance 1', () => {
    const { mean, variance } = moments(zs);
    // SE(mean) = 1/sqrt(N) = 3.2e-3; SE(variance) = sqrt((μ4 − 1)/N) = sqrt(2/N) = 4.5e-3.
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
  });

  it('puts 68.27% of draws within one standard deviation (shape, not just moments)', () => {
    let inside = 0;
    for (const z of zs) if (Math.abs(z) < 1) inside++;
    const p = 0.682689492;
    // Binomial SE = sqrt(p(1−p)/N) = 1.5e-3.
    expect(Math.abs(inside / N - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
  });
});

describe('Rng.int and permutation', () => {
  it('draws every value of int(n) about equally often', () => {
    const r = new Rng(11);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[r.int(7)]++;
    // Each count ~ Binomial(7e4, 1/7): SE = sqrt(7e4 · (1/7)(6/7)) = 92.6.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(5 * 92.6);
  });

  it('rejects a non-positive or fractional bound', () => {
    expect(() => new Rng(1).int(0)).toThrow(/positive integer/);
    expect(() => new Rng(1).int(2.5)).toThrow(/positive integer/);
  });

  it('returns a permutation of 0..n-1', () => {
    const p = new Rng(3).permutation(1000);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
