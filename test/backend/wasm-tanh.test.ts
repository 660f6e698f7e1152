/**
 * The `cpu` backend's WebAssembly tanh (`src/backend/wasm/tanh-module.ts`) against the oracle's
 * `Math.tanh`: within the ulp bound derived in proofs/wasm-tanh.md, exact on the special values,
 * odd, and used by the default backend for large arrays only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastCpuBackend } from '../../src/backend/wasm/backend.ts';
import { TANH_CLAMP } from '../../src/backend/wasm/tanh-module.ts';
import { WASM_TANH_MIN, wasmTanh } from '../../src/backend/wasm/tanh.ts';

/** Distance in units in the last place of `want` (the spacing of float64s at |want|). */
function ulps(got: number, want: number): number {
  if (Object.is(got, want)) return 0;
  const a = Math.abs(want);
  const spacing = a < 2 ** -1022 ? 2 ** -1074 : 2 ** (Math.floor(Math.log2(a)) - 52);
  return Math.abs(got - want) / spacing;
}

/**
 * proofs/wasm-tanh.md: the kernel is within 8 ulps of tanh, `Math.tanh` (fdlibm) within 1, so
 * the two within 9; 10 leaves room for the ulp of the true value differing from `Math.tanh`'s.
 */
const BOUND_ULPS = 10;

describe.runIf(wasmTanh(new Float64Array(2), 2) !== undefined)('WebAssembly tanh', () => {
  it('is within 10 ulps of Math.tanh on every range: tiny, small, moderate, saturated (property)', () => {
    const magnitude = fc.oneof(
      fc.double({ min: 0, max: 2 ** -20, noNaN: true }),
      fc.double({ min: 0, max: 0.35, noNaN: true }),
      fc.double({ min: 0.3, max: 3, noNaN: true }),
      fc.double({ min: 2, max: 25, noNaN: true }),
      fc.double({ min: 0, max: 1e300, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(magnitude, fc.boolean()), { minLength: 1, maxLength: 40 }), (pairs) => {
        const x = Float64Array.from(pairs, ([m, negative]) => (negative ? -m : m));
        const y = wasmTanh(x, x.length)!;
        for (let i = 0; i < x.length; i++) {
          const d = ulps(y[i]!, Math.tanh(x[i]!));
          if (d > BOUND_ULPS) expect({ x: x[i], got: y[i], want: Math.tanh(x[i]!), ulps: d }).toBe('within the bound');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('measures at most 3 ulps from Math.tanh over 200,000 points of (−25, 25) (what the bound leaves unused)', () => {
    const n = 200_000;
    // A deterministic spread: dense near 0, where expm1's polynomial alone decides the result.
    const x = Float64Array.from({ length: n }, (_, i) => Math.sign(Math.sin(i)) * 25 * (((i * 0.6180339887498949) % 1) ** 3));
    const y = wasmTanh(x, n)!;
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, ulps(y[i]!, Math.tanh(x[i]!)));
    expect(worst).toBeLessThanOrEqual(3);
  });

  it('maps ±0, ±∞, NaN, subnormals and saturated inputs exactly as Math.tanh does', () => {
    const special = [0, -0, Infinity, -Infinity, Number.NaN, 5e-324, -5e-324, 2 ** -1030, 1e-300, -1e-17, 19.1, -19.1, TANH_CLAMP, 20.5, -710, 1e308];
    const y = wasmTanh(Float64Array.from(special), special.length)!;
    special.forEach((v, i) => expect(Object.is(y[i], Math.tanh(v)) || (Number.isNaN(y[i]) && Number.isNaN(v))).toBe(true));
    expect(Object.is(y[1], -0)).toBe(true);
  });

  it('is odd, bit for bit: tanh(−x) = −tanh(x)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 30 }), (xs) => {
        const x = Float64Array.from(xs);
        const y = wasmTanh(x, x.length)!, z = wasmTanh(x.map((v) => -v), x.length)!;
        for (let i = 0; i < x.length; i++) expect(Object.is(z[i], -y[i]!)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same values however the array is sliced: two slices and an odd count against element by element', () => {
    const n = (1 << 17) + 3;
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.001) * 4);
    const whole = wasmTanh(x, n)!;
    for (const i of [0, 1, (1 << 17) - 1, 1 << 17, n - 1]) expect(Object.is(whole[i], wasmTanh(x.subarray(i, i + 1), 1)![0])).toBe(true);
  });

  it('is what the default backend uses from WASM_TANH_MIN elements, and Math.tanh below', () => {
    const big = Float64Array.from({ length: WASM_TANH_MIN }, (_, i) => i / 37 - 3);
    expect(fastCpuBackend.unary('tanh', big, big.length)).toEqual(wasmTanh(big, big.length));
    const small = big.subarray(0, WASM_TANH_MIN - 1);
    expect(fastCpuBackend.unary('tanh', small, small.length)).toEqual(small.map(Math.tanh));
  });
});
