/**
 * `Backend.conv` on the fast CPU backend (windows packed straight into the WebAssembly GEMM's
 * panels, src/backend/wasm/conv.ts) against its definition, `convComposed` on the reference
 * oracle (pad, take, transpose, matmul, scatterAdd, slice: ops tested on their own in cpu.test.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConvOp, ConvPlan } from '../../src/backend/backend.ts';
import { cpuBackend } from '../../src/backend/cpu.ts';
import { convComposed } from '../../src/backend/conv-composed.ts';
import { FastCpuBackend } from '../../src/backend/wasm/backend.ts';
import { wasmGemmAvailable } from '../../src/backend/wasm/gemm.ts';

const EPS = 2 ** -53;

/** Seeded values in [−1, 1) (a small LCG: the test needs reproducible, not random-quality, numbers). */
function seeded(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

/** The operands of `op` for `groups` problems of `n` images. */
function operands(op: ConvOp, plan: ConvPlan, groups: number, n: number, seed: number): [Float64Array, Float64Array] {
  const { c, o, h, w, kh, kw, ho, wo } = plan;
  const x = seeded(groups * n * c * h * w, seed), k = seeded(groups * o * c * kh * kw, seed + 1), g = seeded(groups * n * o * ho * wo, seed + 2);
  return op === 'forward' ? [x, k] : op === 'inputGrad' ? [g, k] : [x, g];
}

/** Terms summed into each output entry of `op` (at most): the products' count. */
function terms(op: ConvOp, plan: ConvPlan, n: number): number {
  const { c, o, kh, kw, ho, wo } = plan;
  return op === 'forward' ? c * kh * kw : op === 'inputGrad' ? o * kh * kw : n * ho * wo;
}

/**
 * Both paths sum the same products in different orders. A float64 sum of K products has error at
 * most γ_K · Σ|products| with γ_K = K·ε/(1 − K·ε) (Higham, Accuracy and Stability, §3.1), and
 * Σ|products| per entry is the same op on |a| and |b|; two such sums differ by at most twice that.
 */
function expectWithinSumBound(op: ConvOp, plan: ConvPlan, groups: number, n: number, a: Float64Array, b: Float64Array, fast: Float64Array): void {
  const ref = convComposed(cpuBackend, op, a, b, groups, n, plan) as Float64Array;
  const absRef = convComposed(cpuBackend, op, a.map(Math.abs), b.map(Math.abs), groups, n, plan) as Float64Array;
  const K = terms(op, plan, n);
  const gamma = (K * EPS) / (1 - K * EPS);
  expect(fast.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const bound = 2 * gamma * absRef[i]!;
    if (!(Math.abs(fast[i]! - ref[i]!) <= bound)) {
      throw new Error(`${op} entry ${i}: fast ${fast[i]} vs composed ${ref[i]} (bound ${bound}) for ${JSON.stringify(plan)}, n ${n}, groups ${groups}`);
    }
  }
}

/** A random geometry: kernels up to 4 × 4, strides up to 3, any padding that leaves a window. */
const geometry = fc
  .record({
    c: fc.integer({ min: 1, max: 4 }), o: fc.integer({ min: 1, max: 8 }),
    h: fc.integer({ min: 1, max: 9 }), w: fc.integer({ min: 1, max: 9 }),
    kh: fc.integer({ min: 1, max: 4 }), kw: fc.integer({ min: 1, max: 4 }),
    sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
    top: fc.integer({ min: 0, max: 3 }), left: fc.integer({ min: 0, max: 3 }),
    bottom: fc.integer({ min: 0, max: 3 }), right: fc.integer({ min: 0, max: 3 }),
  })
  .filter((g) => g.h + g.top + g.bottom >= g.kh && g.w + g.left + g.right >= g.kw)
  .map(({ bottom, right, ...g }): ConvPlan => ({
    ...g,
    ho: Math.floor((g.h + g.top + bottom - g.kh) / g.sh) + 1,
    wo: Math.floor((g.w + g.left + right - g.kw) / g.sw) + 1,
  }));

const fast = new FastCpuBackend({ threads: 1 });
const OPS: ConvOp[] = ['forward', 'inputGrad', 'kernelGrad'];

describe.runIf(wasmGemmAvailable())('conv on the WebAssembly kernel against its composition on the oracle', () => {
  it('random geometries, strides, paddings, image and group counts: within the bound of reassociated sums', () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 1e6 }), (plan, n, groups, seed) => {
        for (const op of OPS) {
          const [a, b] = operands(op, plan, groups, n, seed);
          expectWithinSumBound(op, plan, groups, n, a, b, fast.conv(op, a, b, groups, n, plan) as Float64Array);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the LeNet layers at batch 40: several chunks of images (kernelGrad sums chunk by chunk)', () => {
    // c·kh·kw·(ho·wo) = 400 · 196 entries an image: 2²⁰ / that ≈ 13 images a chunk, so 40 images
    // take four chunks in every op, and the kernel gradient adds four partial products.
    const plans: ConvPlan[] = [
      { c: 16, o: 32, h: 14, w: 14, kh: 5, kw: 5, sh: 1, sw: 1, top: 2, left: 2, ho: 14, wo: 14 },
      { c: 32, o: 64, h: 7, w: 7, kh: 5, kw: 5, sh: 1, sw: 1, top: 2, left: 2, ho: 7, wo: 7 },
    ];
    for (const plan of plans) {
      for (const op of OPS) {
        const [a, b] = operands(op, plan, 1, 40, 7);
        expectWithinSumBound(op, plan, 1, 40, a, b, fast.conv(op, a, b, 1, 40, plan) as Float64Array);
      }
    }
  });

  it('the three ops are one triple sum: ⟨forward(x, k), g⟩ = ⟨x, inputGrad(g, k)⟩ = ⟨k, kernelGrad(x, g)⟩', () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 1e6 }), (plan, n, seed) => {
        const { c, o, h, w, kh, kw, ho, wo } = plan;
        const x = seeded(n * c * h * w, seed), k = seeded(o * c * kh * kw, seed + 1), g = seeded(n * o * ho * wo, seed + 2);
        const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
        const abs = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + Math.abs(v * b[i]!), 0);
        const y = fast.conv('forward', x, k, 1, n, plan) as Float64Array;
        const lhs = dot(y, g);
        const viaX = dot(x, fast.conv('inputGrad', g, k, 1, n, plan) as Float64Array);
        const viaK = dot(k, fast.conv('kernelGrad', x, g, 1, n, plan) as Float64Array);
        // Each side is the triple sum Σ x·k·g in some order: all within γ_T Σ|x·k·g| of it, with
        // T the number of products plus the outer sum's terms (bounded by the whole count below).
        const absY = convComposed(cpuBackend, 'forward', x.map(Math.abs), k.map(Math.abs), 1, n, plan) as Float64Array;
        const T = y.length * c * kh * kw + x.length + k.length;
        const bound = 2 * T * EPS * abs(absY, g) + 1e-300;
        expect(Math.abs(viaX - lhs)).toBeLessThanOrEqual(bound);
        expect(Math.abs(viaK - lhs)).toBeLessThanOrEqual(bound);
      }),
      { numRuns: 100 },
    );
  });

  it('a forward bias: within the bound of one more term per sum', () => {
    fc.assert(
      fc.property(geometry, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 1e6 }), (plan, n, groups, seed) => {
        const [x, k] = operands('forward', plan, groups, n, seed);
        const bias = seeded(groups * plan.o, seed + 3);
        const got = fast.conv('forward', x, k, groups, n, plan, bias) as Float64Array;
        const ref = convComposed(cpuBackend, 'forward', x, k, groups, n, plan, bias) as Float64Array;
        const absRef = convComposed(cpuBackend, 'forward', x.map(Math.abs), k.map(Math.abs), groups, n, plan, bias.map(Math.abs)) as Float64Array;
        const K = terms('forward', plan, n) + 1;
        const gamma = (K * EPS) / (1 - K * EPS);
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(2 * gamma * absRef[i]!);
      }),
      { numRuns: 60 },
    );
  });

  it('a window entirely in the padding reads zeros: a 1 × 1 kernel at padding 1 gives a zero border', () => {
    const plan: ConvPlan = { c: 1, o: 1, h: 2, w: 2, kh: 1, kw: 1, sh: 1, sw: 1, top: 1, left: 1, ho: 4, wo: 4 };
    const y = fast.conv('forward', Float64Array.of(1, 2, 3, 4), Float64Array.of(2), 1, 1, plan) as Float64Array;
    // Worked by hand: the input doubled, framed by zeros.
    expect(Array.from(y)).toEqual([0, 0, 0, 0, 0, 2, 4, 0, 0, 6, 8, 0, 0, 0, 0, 0]);
  });
});
