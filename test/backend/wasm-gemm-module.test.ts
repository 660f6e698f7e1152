/**
 * The generated GEMM module on its own, for every kernel shape (the engine in a given runtime
 * uses only one: 4 × 6 splatting B where relaxed SIMD is on, 2 × 8 splatting A where it is off,
 * so the other is checked here). Operands are small integers, so every product and partial sum
 * is exact in float64 and the kernel must equal the sum over p of the packed panels exactly,
 * whatever its order of summation or fused multiply-add.
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { buildGemmModule, gemmKernelFor, kernelRegisters, relaxedSimdProbe, standaloneGemm, type GemmKernelShape } from '../../src/backend/wasm/gemm-module.ts';

setFlagsFromString('--experimental-wasm-relaxed-simd');
const relaxed = WebAssembly.validate(relaxedSimdProbe());

/** C over packed panels (`PackedLayout` in gemm.ts) with k blocks of `kc` and row blocks of `mcPanels`. */
function runKernel(shape: GemmKernelShape, m: number, n: number, k: number, kc: number, mcPanels: number, seed: number) {
  const { mr, nr } = shape;
  const g = standaloneGemm(shape, m, n, k, { kc, mcPanels });
  const { H, aBase, bBase, cBase, end, ldc, mp, np } = g;
  // Integers in [−4, 4]; C starts as NaN so a tile that is not written shows.
  for (let i = aBase; i < cBase; i++) H[i] = (Math.imul(i + seed, 2654435761) >>> 28) % 9 - 4;
  H.fill(NaN, cBase, end);
  g.run();
  let wrong = 0;
  for (let i = 0; i < mp * mr; i++) {
    for (let j = 0; j < np * nr; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += H[aBase + Math.floor(i / mr) * mr * k + p * mr + (i % mr)]! * H[bBase + Math.floor(j / nr) * nr * k + p * nr + (j % nr)]!;
      }
      if (!Object.is(s, H[cBase + i * ldc + j])) wrong++;
    }
  }
  return wrong;
}

const shapes: GemmKernelShape[] = [
  gemmKernelFor(true),
  gemmKernelFor(false),
  { mr: 2, nr: 4, fma: false, splat: 'b' },
  { mr: 3, nr: 4, fma: false, splat: 'a' },
];
/** Any of the shapes this runtime can run (the fused ones need relaxed SIMD). */
const usableShape = fc.constantFrom(...shapes.filter((s) => !s.fma || relaxed));

describe('generated GEMM module', () => {
  it('the two kernels fit V8’s 15 xmm registers', () => {
    expect(kernelRegisters(gemmKernelFor(true))).toBe(15);
    expect(kernelRegisters(gemmKernelFor(false))).toBe(14);
  });

  it('refuses tiles its write-back cannot pair', () => {
    expect(() => buildGemmModule({ mr: 3, nr: 6, fma: false, splat: 'b' }, { initial: 1, maximum: 1, shared: false })).toThrow(/bad tile 3×6/);
    expect(() => buildGemmModule({ mr: 2, nr: 5, fma: false, splat: 'a' }, { initial: 1, maximum: 1, shared: false })).toThrow(/bad tile 2×5/);
  });

  it('every shape: C exact on integer operands, odd and even k, several k and row blocks (property)', () => {
    fc.assert(
      fc.property(
        usableShape,
        fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 4 }), fc.nat(1000),
        (shape, m, n, k, kc, mcPanels, seed) => runKernel(shape, m, n, k, kc, mcPanels, seed) === 0,
      ),
      { numRuns: 120 },
    );
  });

  it('row panels and k steps computed in separate calls give the whole call’s C bit for bit (property)', () => {
    // The engine's threads compute their claims of row panels over k blocks of B as they are
    // packed (claim 6 of proofs/wasm-products.md): each element must be summed in the same order
    // as in one call. Operands are not integers here, so any change of order would show.
    fc.assert(
      fc.property(
        usableShape,
        fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 2, max: 90 }),
        fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
        (shape, m, n, k, kc, mcPanels, uAt, pAt) => {
          const g = standaloneGemm(shape, m, n, k, { kc, mcPanels });
          for (let i = g.aBase; i < g.cBase; i++) g.H[i] = Math.sin(1.7 * i + 0.3);
          g.run();
          const whole = g.H.slice(g.cBase, g.end);
          g.H.fill(NaN, g.cBase, g.end);
          const us = Math.floor(uAt * g.mp), ps = kc * Math.floor((pAt * (k - 1)) / kc);
          g.part(0, us, 0, ps);
          g.part(us, g.mp, 0, ps);
          g.part(0, us, ps, k);
          g.part(us, g.mp, ps, k);
          return g.H.slice(g.cBase, g.end).every((x, i) => Object.is(x, whole[i]));
        },
      ),
      { numRuns: 120 },
    );
  });
});
