/**
 * The GEMM's WebAssembly packers (`src/backend/wasm/pack-module.ts`, driven by `packA`/`packB` in
 * `packing.ts`) against the JavaScript packing loops they replace. Packing only moves values, so the
 * claim checked is equality, bit for bit: of the packed panels (every panel width the module is
 * generated for, both kinds, slices of any size) and of whole products.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { wasmGemmAvailable, wasmMatmul } from '../../src/backend/wasm/gemm.ts';
import { packA, packB, setWasmPacking, type PackKernels, type PackStaging } from '../../src/backend/wasm/packing.ts';
import { buildPackModule, packExport, PACK_WIDTHS } from '../../src/backend/wasm/pack-module.ts';
import { sizes } from './product-bound.ts';

/** Deterministic values with varied magnitudes and signs, NaN, ±∞ and −0 among them. */
const values = (n: number, seed: number) =>
  Float64Array.from({ length: n }, (_, i) => {
    const r = (i * 7919 + seed * 104729) % 97;
    return r === 0 ? Number.NaN : r === 1 ? Infinity : r === 2 ? -Infinity : r === 3 ? -0 : Math.sin(seed + i * 0.37) * 2 ** ((i % 9) - 4);
  });

/** Bitwise equality of two float64 ranges (NaN payloads and the sign of zero included). */
function expectSameBits(a: Float64Array, b: Float64Array): void {
  expect(a.length).toBe(b.length);
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length), y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) expect({ at: i, got: a[i], want: b[i] }).toBe('bit-identical');
}

describe.runIf(wasmGemmAvailable())('WebAssembly packers', () => {
  const memory = new WebAssembly.Memory({ initial: 64 });
  const kernels = new WebAssembly.Instance(new WebAssembly.Module(buildPackModule({ initial: 1 })), { env: { memory } })
    .exports as unknown as PackKernels;
  const H = new Float64Array(memory.buffer);

  it('export a split and a gather packer for every panel width of the GEMM tiles', () => {
    for (const w of PACK_WIDTHS) {
      expect(typeof kernels[packExport('split', w)]).toBe('function');
      expect(typeof kernels[packExport('gather', w)]).toBe('function');
    }
  });

  it('pack the same panels, bit for bit, as the JavaScript loops: every width, both kinds, any slicing', () => {
    const DST = 1024, STAGE = 200_000;
    fc.assert(
      fc.property(
        fc.constantFrom(...PACK_WIDTHS), fc.integer({ min: 1, max: 45 }), fc.integer({ min: 1, max: 45 }),
        fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 1, max: 1e6 }),
        (w, len, k, isA, transposed, extra, seed) => {
          const src = values(len * k + 3, seed);
          const panelFloats = Math.ceil(len / w) * w * k;
          // The smallest staging the packers accept (one stored row, or one panel's rows), plus
          // `extra`: from one row per slice up to everything in one slice.
          const staging: PackStaging = { at: STAGE, floats: Math.max(len, w * k) + extra, kernels, minElements: 0 };
          const pack = (st?: PackStaging) => {
            // Garbage where the panels go: a packer that skipped an element would leave it there.
            H.fill(Number.NaN, DST, DST + panelFloats + 16);
            if (isA) packA(src, 3, len, k, transposed, w, H, DST, st);
            else packB(src, 3, k, len, transposed, w, H, DST, st);
            return H.slice(DST, DST + panelFloats + 16);
          };
          const loops = pack(), packers = pack(staging);
          expectSameBits(packers, loops);
          // Nothing past the panels was written.
          expect(packers.subarray(panelFloats).every(Number.isNaN)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('give bit-identical products with and without them, every transpose, batch and thread count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 8, max: 90 }),
        fc.integer({ min: 1, max: 2 }), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 1e6 }),
        (m, k, n, batch, tA, tB, threads, seed) => {
          const [la, lb] = sizes(batch, m, k, n);
          const a = values(la, seed), b = values(lb, seed + 1);
          const before = setWasmPacking(false);
          try {
            const loops = wasmMatmul(a, b, batch, m, k, n, tA, tB, { threads, minMacsPerThread: 1 })!;
            setWasmPacking(true);
            const packers = wasmMatmul(a, b, batch, m, k, n, tA, tB, { threads, minMacsPerThread: 1 })!;
            expectSameBits(packers, loops);
          } finally {
            setWasmPacking(before);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
