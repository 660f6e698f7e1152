/**
 * Reuse of the CPU backends' result arrays for tensors `tidy` and `dispose` release
 * (`src/backend/f64-pool.ts`): results stay bit-identical, a released tensor can never be read or
 * computed with, arrays handed out of the engine are never reused, and a training loop under
 * `tidy` allocates nothing new after its first step.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateF64, f64PoolStats, isReleasedF64, releaseF64 } from '../../src/backend/f64-pool.ts';
import { fromFloat64 } from '../../src/core/create.ts';
import {
  type Tensor, add, dispose, grad, hvp, matmul, mean, mul, randomNormal, setBackend, softmaxCrossEntropy, sub,
  sum, tanh, tensor, tidy, toNdarray,
} from '../../src/index.ts';

type P = { W1: Tensor; W2: Tensor };
const X = randomNormal([300, 40], 1);
const Y = tensor(Array.from({ length: 300 }, (_, i) => Array.from({ length: 5 }, (_, c) => (c === i % 5 ? 1 : 0))));
const params: P = { W1: randomNormal([40, 64], 2, 0, 0.2), W2: randomNormal([64, 5], 3, 0, 0.2) };
const dir: P = { W1: randomNormal([40, 64], 4), W2: randomNormal([64, 5], 5) };
const loss = (p: P) => add(mean(softmaxCrossEntropy(matmul(tanh(matmul(X, p.W1)), p.W2), Y)), mul(1e-3, sum(mul(p.W1, p.W1))));

afterEach(() => setBackend('cpu'));

describe.each(['cpu', 'reference'] as const)('reusing released result arrays (%s backend)', (backend) => {
  it('gives bit-identical gradients and HVPs with and without tidy, step after step', () => {
    setBackend(backend);
    const plainG = (grad(loss)(params) as P).W1.toFloat64Array();
    const plainH = hvp(loss, params, dir).W1.toFloat64Array();
    const reusedBefore = f64PoolStats().reused;
    for (let step = 0; step < 5; step++) {
      const g = tidy(() => (grad(loss)(params) as P).W1).toFloat64Array();
      const h = tidy(() => hvp(loss, params, dir).W1).toFloat64Array();
      expect(g).toEqual(plainG);
      expect(h).toEqual(plainH);
    }
    // The steps after the first were served from the released arrays.
    expect(f64PoolStats().reused).toBeGreaterThan(reusedBefore + 20);
  });

  it('refuses a released tensor: computing with it, reading it or viewing it throws', () => {
    setBackend(backend);
    let escaped: Tensor | undefined;
    tidy(() => {
      escaped = add(randomNormal([2000], 7), 1);
      return tensor(0);
    });
    expect(() => sum(escaped!)).toThrow(/used after tidy or dispose released it/);
    expect(() => escaped!.toFloat64Array()).toThrow(/used after release/);
    expect(() => toNdarray(escaped!)).toThrow(/released by tidy or dispose/);
    const small = add(tensor([1, 2, 3]), 1);
    dispose(small);
    expect(() => mul(small, 2)).toThrow(/used after tidy or dispose released it/);
  });

  it('never reuses an array handed out of the engine: an ndarray view, or the caller\'s own array', () => {
    setBackend(backend);
    let view: ReturnType<typeof toNdarray> | undefined;
    const mine = new Float64Array(4096).fill(3);
    tidy(() => {
      view = toNdarray(add(randomNormal([4096], 8), 0));
      fromFloat64(mine, [4096]);
      return tensor(0);
    });
    const seen = Float64Array.from(view!.data as Float64Array);
    // Results after the release must not land in the viewed array or in the caller's.
    tidy(() => sum(add(randomNormal([4096], 9), 1)));
    expect(view!.data).toEqual(seen);
    expect(view!.data.length).toBe(4096);
    expect(mine.every((v) => v === 3)).toBe(true);
  });

  it('keeps a training loop under tidy from allocating: the pool and the heap stay flat over 10,000 steps', () => {
    setBackend(backend);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => (gc(), gc(), process.memoryUsage().heapUsed);
    // Results of 128 × 64 = 8,192 elements: large enough to be pooled, cheap to compute.
    const x = randomNormal([128, 8], 10), y = randomNormal([128, 64], 11);
    const lossOf = (w: Tensor) => {
      const r = sub(matmul(x, w), y);
      return mean(mul(r, r));
    };
    let w: Tensor = randomNormal([8, 64], 12, 0, 0.1);
    const step = () => {
      const next = tidy(() => add(w, mul(-0.05, grad(lossOf)(w) as Tensor)));
      dispose(w);
      w = next;
    };
    for (let i = 0; i < 20; i++) step();
    const pool0 = f64PoolStats().bytes, heap0 = heap(), ext0 = process.memoryUsage().arrayBuffers;
    const reused0 = f64PoolStats().reused;
    for (let i = 0; i < 10_000; i++) step();
    expect(Number.isFinite(sum(w).item())).toBe(true);
    expect(f64PoolStats().reused - reused0).toBeGreaterThan(10_000);
    expect(f64PoolStats().bytes).toBeLessThanOrEqual(pool0 + 64 * 1024);
    // Anything a step kept would add up over 10,000 steps (even 100 bytes is 1 MB).
    expect(heap() - heap0).toBeLessThan(2 * 1024 * 1024);
    expect(process.memoryUsage().arrayBuffers - ext0).toBeLessThan(4 * 1024 * 1024);
  }, 60_000);
});


describe('the pool itself', () => {
  it('detaches a released array, hands its memory out again zeroed, and ignores arrays it did not make', () => {
    const a = allocateF64(5000);
    a.fill(7);
    releaseF64(a);
    expect(isReleasedF64(a)).toBe(true);
    expect(a.length).toBe(0);
    const b = allocateF64(5000);
    expect(b.length).toBe(5000);
    expect(b.every((v) => v === 0)).toBe(true);
    const foreign = new Float64Array(5000).fill(1);
    releaseF64(foreign);
    expect(isReleasedF64(foreign)).toBe(true);
    expect(foreign.length).toBe(5000);
    const before = f64PoolStats().arrays;
    releaseF64(foreign);
    expect(f64PoolStats().arrays).toBe(before);
  });
});
