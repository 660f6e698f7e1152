/**
 * The narrow-product kernels (`src/backend/wasm/narrow.ts`: a matrix times one to seven columns,
 * or one to seven rows times a matrix) against the plain TypeScript oracle, within the rounding
 * bound derived in `product-bound.ts`; and the padding they rely on never entering a result.
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { fastCpuBackend } from '../../src/backend/wasm/backend.ts';
import { STAGING_SLICE, wasmGemmInfo, wasmScratch } from '../../src/backend/wasm/gemm.ts';
import { NARROW_MAX_COLUMNS, axpysRows, dotsRows } from '../../src/backend/wasm/narrow-module.ts';
import { setNarrowSlice, wasmNarrowAvailable, wasmNarrowCalls, wasmNarrowMatmul } from '../../src/backend/wasm/narrow.ts';
import { expectProductMatchesOracle, sizes } from './product-bound.ts';

/** A narrow shape: n ≤ 7 columns, or (`wide`) m ≤ 7 rows and any n. */
const narrowShape = fc
  .record({
    thin: fc.integer({ min: 1, max: NARROW_MAX_COLUMNS }),
    other: fc.integer({ min: 1, max: 41 }),
    k: fc.integer({ min: 1, max: 41 }),
    batch: fc.integer({ min: 1, max: 3 }),
    rowsThin: fc.boolean(),
    tA: fc.boolean(),
    tB: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1e6 }),
  })
  .map(({ thin, other, k, batch, rowsThin, tA, tB, seed }) => ({
    m: rowsThin ? thin : other, n: rowsThin ? other : thin, k, batch, tA, tB, seed,
  }));

/** Deterministic values in [−3, 3] with varied magnitudes. */
const seeded = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 3 * 2 ** ((i % 7) - 3));

/** Fills the start of the kernels' scratch area with NaN: what a kernel reading stale memory would pick up. */
function poisonScratch(): void {
  const s = wasmScratch(1 << 16)!;
  s.H.fill(Number.NaN, s.base, s.base + (1 << 13));
}

describe.runIf(wasmNarrowAvailable())('WebAssembly narrow products', () => {
  it('fit the register file: accumulators, loaded vectors and splats within 15 xmm registers', () => {
    for (let j = 1; j <= NARROW_MAX_COLUMNS; j++) {
      expect(dotsRows(j) * j + j + dotsRows(j)).toBeLessThanOrEqual(15);
      expect(axpysRows(j) * j + j + axpysRows(j)).toBeLessThanOrEqual(15);
    }
    expect([dotsRows(1), dotsRows(2), axpysRows(1), axpysRows(2)]).toEqual([4, 4, 4, 4]);
  });

  it('agree with the oracle within 2·γ_k·Σ|a||b| for every storage order, thin side and batch', () => {
    fc.assert(
      fc.property(narrowShape, ({ m, k, n, batch, tA, tB, seed }) => {
        const [la, lb] = sizes(batch, m, k, n);
        const a = seeded(la, seed), b = seeded(lb, seed + 1);
        expectProductMatchesOracle(wasmNarrowMatmul(a, b, batch, m, k, n, tA, tB), a, b, batch, m, k, n, tA, tB);
      }),
      { numRuns: 300 },
    );
  });

  it('agree at the MNIST shapes that use them (784 inputs, odd and even lengths)', () => {
    for (const [m, k, n] of [[300, 784, 1], [784, 301, 2], [1, 785, 128], [3, 784, 129], [301, 784, 5], [784, 299, 7]] as const) {
      for (const tA of [false, true]) {
        const a = seeded(m * k, m + k), b = seeded(k * n, n);
        expectProductMatchesOracle(wasmNarrowMatmul(a, b, 1, m, k, n, tA, false), a, b, 1, m, k, n, tA, false);
      }
    }
  });

  it('propagate NaN and infinities exactly where the oracle does, padding included', () => {
    const special = fc.constantFrom(Number.NaN, Infinity, -Infinity, 0);
    fc.assert(
      fc.property(narrowShape, fc.array(fc.tuple(fc.nat(), fc.boolean(), special), { minLength: 1, maxLength: 4 }), ({ m, k, n, batch, tA, tB, seed }, hits) => {
        const [la, lb] = sizes(batch, m, k, n);
        const a = seeded(la, seed), b = seeded(lb, seed + 1);
        // Put the special values at the ends too: the last element of an odd k or an odd row count is where padding sits.
        for (const [at, inA, v] of hits) {
          const x = inA ? a : b;
          x[at % 2 === 0 ? x.length - 1 - (at % x.length) : at % x.length] = v;
        }
        expectProductMatchesOracle(wasmNarrowMatmul(a, b, batch, m, k, n, tA, tB), a, b, batch, m, k, n, tA, tB);
      }),
      { numRuns: 200 },
    );
  });

  it('never read what an earlier call left in the memory: a scratch area full of NaN changes nothing', () => {
    for (const [m, k, n, tA] of [[7, 9, 1, false], [7, 9, 3, true], [9, 7, 2, true], [5, 3, 11, false], [3, 5, 13, true]] as const) {
      const a = seeded(m * k, 3), b = seeded(k * n, 4);
      const clean = wasmNarrowMatmul(a, b, 1, m, k, n, tA, false)!;
      poisonScratch();
      const dirty = wasmNarrowMatmul(a, b, 1, m, k, n, tA, false)!;
      expect(dirty).toEqual(clean);
      expect(dirty.every(Number.isFinite)).toBe(true);
    }
  });

  it('give bit-identical results however M is sliced, with the memory past each slice full of NaN', () => {
    // Slicing only changes when parts of M are copied: each output is summed in the same order
    // (a row-major slice holds whole rows; column-major, storage rows are added into Y in order),
    // so the result must equal the whole-copy result exactly, not within a bound. The NaN fill is what a slice's
    // one-past-the-end read (an odd row count's last pair) would pick up if it reached a result.
    const before = setNarrowSlice(STAGING_SLICE);
    try {
      fc.assert(
        fc.property(narrowShape, fc.integer({ min: 1, max: 90 }), ({ m, k, n, batch, tA, tB, seed }, slice) => {
          const [la, lb] = sizes(batch, m, k, n);
          const a = seeded(la, seed), b = seeded(lb, seed + 1);
          setNarrowSlice(Infinity);
          poisonScratch();
          const whole = wasmNarrowMatmul(a, b, batch, m, k, n, tA, tB)!;
          setNarrowSlice(slice);
          poisonScratch();
          const sliced = wasmNarrowMatmul(a, b, batch, m, k, n, tA, tB)!;
          expect(sliced).toEqual(whole);
          expect(sliced.every(Number.isFinite)).toBe(true);
        }),
        { numRuns: 300 },
      );
    } finally {
      setNarrowSlice(before);
    }
    expect(() => setNarrowSlice(0)).toThrow(/at least 1/);
  });

  it('are what the default backend uses for products with up to four rows or up to seven columns', () => {
    const a = seeded(784, 1), b = seeded(784 * 128, 2);
    const before = wasmNarrowCalls();
    const c = fastCpuBackend.matmul(a, b, 1, 1, 784, 128, false, false) as Float64Array;
    expect(wasmNarrowCalls()).toBe(before + 1);
    expectProductMatchesOracle(c, a, b, 1, 1, 784, 128, false, false);
    const d = fastCpuBackend.matmul(b, a.subarray(0, 128 * 4), 1, 784, 128, 4, false, false) as Float64Array;
    expect(wasmNarrowCalls()).toBe(before + 2);
    expectProductMatchesOracle(d, b, a.subarray(0, 512), 1, 784, 128, 4, false, false);
    const v = fastCpuBackend.matmul(b, a.subarray(0, 128), 1, 784, 128, 1, false, false) as Float64Array;
    expect(wasmNarrowCalls()).toBe(before + 3);
    expectProductMatchesOracle(v, b, a.subarray(0, 128), 1, 784, 128, 1, false, false);
  });

  it('reuse their memory: no growth and a flat heap over many calls of every form', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => (gc(), gc(), process.memoryUsage().heapUsed);
    const forms = [[37, 29, 3, false], [29, 37, 2, true], [3, 29, 37, false], [2, 29, 37, true]] as const;
    const ops = forms.map(([m, k, n, tA]) => {
      const a = seeded(m * k, m), b = seeded(k * n, n);
      return () => wasmNarrowMatmul(a, b, 1, m, k, n, tA, false);
    });
    for (const op of ops) op();
    const bytes = wasmGemmInfo()!.memoryBytes;
    const heap0 = heap();
    for (let i = 0; i < 5000; i++) ops[i % ops.length]!();
    expect(wasmGemmInfo()!.memoryBytes).toBe(bytes);
    // Only the results are fresh (the GC collects them); anything a call kept would add up
    // (5000 × even 100 bytes is 0.5 MB). 2 MB leaves room for V8's own noise.
    expect(heap() - heap0).toBeLessThan(2 * 1024 * 1024);
  });

  it('decline the shapes that are not narrow, and handle empty products', () => {
    expect(wasmNarrowMatmul(new Float64Array(64), new Float64Array(64), 1, 8, 8, 8, false, false)).toBeUndefined();
    expect(wasmNarrowMatmul(new Float64Array(0), new Float64Array(6), 1, 3, 0, 2, false, false)).toEqual(new Float64Array(6));
    expect(wasmNarrowMatmul(new Float64Array(0), new Float64Array(0), 0, 3, 4, 2, false, false)).toEqual(new Float64Array(0));
  });
});
