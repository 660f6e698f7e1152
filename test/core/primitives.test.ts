/**
 * Every primitive (and the composites above them), checked against mathematics rather than against
 * stored numbers:
 *   1. JVP against a central finite difference in float64;
 *   2. the adjoint identity ⟨u, J t⟩ = ⟨Jᵀ u, t⟩ between JVP and VJP;
 *   3. second order: forward-over-reverse HVP = reverse-over-reverse HVP = hessian · v, and both
 *      against a finite difference of the gradient;
 *   4. vmap(f) equals f applied to each slice and stacked, with batched and unbatched arguments.
 * Inputs are drawn by fast-check; domains keep each function smooth (away from kinks and ties, or
 * the finite difference itself would be meaningless there).
 * proofs/primitive-rules.md derives the rules these tests check.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  type Tensor,
  abs, add, bceWithLogits, broadcastTo, concat, cos, div, dot, erf, exp, expandDims, gelu, grad, greater, jvp,
  log, log1p, logSoftmax, logSumExp, matmul, max, maximum, mean, minimum, mse, mul, neg, pad, pow, relu,
  reshape, sigmoid, sign, sin, slice, softmax, softmaxCrossEntropy, softplus, sqrt, square, stack, stopGradient as stopGradientOf, sub, sum,
  take, tanh, tensor, transpose, where,
} from '../../src/index.ts';
import { gemm, reluGrad, scatterAdd, tanhGrad, windowMaxGather, windowMaxScatter } from '../../src/prims/index.ts';
import { expectClose, seededTensor, values } from '../helpers.ts';
import { describeRuleProperties } from '../rule-properties.ts';

type Fn = (...xs: Tensor[]) => Tensor;
interface Case {
  name: string;
  /** Argument shapes from three random sizes in 1..3. */
  shapes: (a: number, b: number, c: number) => number[][];
  f: Fn;
  /** Value range per argument (default [-2, 2]). */
  domain?: [number, number][];
  /** Rejects inputs too close to a kink or tie for finite differences to mean anything. */
  valid?: (xs: Float64Array[]) => boolean;
}

const awayFromZero = (xs: Float64Array[]) => xs.every((x) => x.every((v) => Math.abs(v) > 1e-3));
const distinct = (x: Float64Array) => {
  const s = [...x].sort((p, q) => p - q);
  return s.every((v, i) => i === 0 || v - s[i - 1]! > 1e-3);
};
const fixedMask = (shape: number[]) => greater(seededTensor(shape, 99), 0);
const POOL_WIN = { kh: 3, kw: 3, sh: 2, sw: 2, top: 1, left: 1, ho: 3, wo: 2 };

const cases: Case[] = [
  { name: 'neg', shapes: (a, b) => [[a, b]], f: neg },
  { name: 'exp', shapes: (a, b) => [[a, b]], f: exp },
  { name: 'log', shapes: (a) => [[a]], f: log, domain: [[0.2, 3]] },
  { name: 'log1p', shapes: (a, b) => [[a, b]], f: log1p, domain: [[-0.5, 2]] },
  { name: 'sin', shapes: (a) => [[a]], f: sin, domain: [[-3, 3]] },
  { name: 'cos', shapes: (a) => [[a]], f: cos, domain: [[-3, 3]] },
  { name: 'tanh', shapes: (a, b) => [[a, b]], f: tanh },
  { name: 'sqrt', shapes: (a) => [[a]], f: sqrt, domain: [[0.2, 3]] },
  { name: 'abs', shapes: (a, b) => [[a, b]], f: abs, valid: awayFromZero },
  { name: 'sign', shapes: (a) => [[a]], f: sign, valid: awayFromZero },
  { name: 'erf', shapes: (a, b) => [[a, b]], f: erf, domain: [[-3, 3]] },
  { name: 'add (broadcasting)', shapes: (a, b) => [[a, b], [b]], f: add },
  { name: 'sub', shapes: (a, b) => [[a, b], [a, b]], f: sub },
  { name: 'mul (broadcasting)', shapes: (a, b) => [[a, 1], [b]], f: mul },
  { name: 'div', shapes: (a, b) => [[a, b], [a, b]], f: div, domain: [[-2, 2], [0.5, 2]] },
  { name: 'pow', shapes: (a) => [[a], [a]], f: pow, domain: [[0.3, 2], [-2, 2]] },
  { name: 'mul of a tensor by itself (one product for both operands)', shapes: (a, b) => [[a, b]], f: (x) => mul(x, x) },
  { name: 'tanhGrad (fused g·(1 − y²))', shapes: (a, b) => [[a, b], [a, b]], f: tanhGrad, domain: [[-1.5, 1.5], [-2, 2]] },
  { name: 'reluGrad (fused mask)', shapes: (a, b) => [[a, b], [a, b]], f: reluGrad, valid: ([x]) => awayFromZero([x!]) },
  { name: 'relu', shapes: (a, b) => [[a, b]], f: relu, valid: awayFromZero },
  {
    name: 'maximum',
    shapes: (a, b) => [[a, b], [a, b]],
    f: maximum,
    valid: ([x, y]) => x!.every((v, i) => Math.abs(v - y![i]!) > 1e-3),
  },
  {
    name: 'minimum',
    shapes: (a) => [[a], [a]],
    f: minimum,
    valid: ([x, y]) => x!.every((v, i) => Math.abs(v - y![i]!) > 1e-3),
  },
  { name: 'greater (no gradient)', shapes: (a) => [[a], [a]], f: (x, y) => mul(greater(x, y), 3), valid: ([x, y]) => x!.every((v, i) => Math.abs(v - y![i]!) > 1e-3) },
  { name: 'where/select', shapes: (a, b) => [[a, b], [a, b]], f: (x, y) => where(fixedMask([x.shape[0]!, x.shape[1]!]), x, y) },
  { name: 'sum over one axis', shapes: (a, b, c) => [[a, b, c]], f: (x) => sum(x, 1) },
  { name: 'sum over all axes', shapes: (a, b) => [[a, b]], f: (x) => sum(x) },
  { name: 'sum keepdims', shapes: (a, b, c) => [[a, b, c]], f: (x) => sum(x, [0, 2], true) },
  { name: 'max over axes', shapes: (a, b, c) => [[a, b, c]], f: (x) => max(x, [0, 2]), valid: ([x]) => distinct(x!) },
  // 3 × 3 windows at stride 2 over a 5 × 4 plane, padding 1 before both axes: overlapping windows
  // and padded borders. x's values distinct, so no window has a tie (a kink).
  { name: 'windowMaxGather (max pooling selection)', shapes: (a) => [[a, 5, 4], [a, 5, 4]], f: (x, t) => windowMaxGather(x, t, POOL_WIN), valid: ([x]) => distinct(x!) },
  { name: 'windowMaxScatter (its transpose)', shapes: (a) => [[a, 5, 4], [a, 3, 2]], f: (x, g) => windowMaxScatter(x, g, POOL_WIN), valid: ([x]) => distinct(x!) },
  { name: 'max pooling = windowMaxGather(x, x)', shapes: (a) => [[a, 5, 4]], f: (x) => windowMaxGather(x, x, POOL_WIN), valid: ([x]) => distinct(x!) },
  { name: 'broadcastTo', shapes: (a, b) => [[1, b]], f: (x) => broadcastTo(x, [3, x.shape[1]!]) },
  { name: 'reshape', shapes: (a, b, c) => [[a, b, c]], f: (x) => reshape(x, [x.shape[0]! * x.shape[1]!, -1]) },
  { name: 'transpose', shapes: (a, b, c) => [[a, b, c]], f: (x) => transpose(x, [2, 0, 1]) },
  { name: 'slice', shapes: (a, b) => [[a + 2, b + 1]], f: (x) => slice(x, [1, 0], [x.shape[0]! - 2, x.shape[1]! - 1]) },
  { name: 'pad', shapes: (a, b) => [[a, b]], f: (x) => pad(x, [[1, 0], [2, 1]]) },
  { name: 'concat', shapes: (a, b, c) => [[a, b], [c, b]], f: (x, y) => concat([x, y], 0) },
  { name: 'stack', shapes: (a, b) => [[a, b], [a, b]], f: (x, y) => stack([x, y], 1) },
  { name: 'take (repeated indices)', shapes: (a, b) => [[a, b]], f: (x) => take(x, [0, x.shape[0]! - 1, 0], 0) },
  { name: 'take along axis 1', shapes: (a, b) => [[a, b + 1]], f: (x) => take(x, [1, 0], 1) },
  {
    name: 'scatterAdd',
    shapes: (a) => [[a, 3]],
    f: (g) => scatterAdd(g, Float64Array.from({ length: g.shape[0]! }, (_, i) => i % 2), [g.shape[0]!], 0, 2),
  },
  { name: 'matmul', shapes: (a, b, c) => [[a, b], [b, c]], f: matmul },
  { name: 'matmul Aᵀ B', shapes: (a, b, c) => [[b, a], [b, c]], f: (x, y) => gemm(x, y, true, false) },
  { name: 'matmul A Bᵀ', shapes: (a, b, c) => [[a, b], [c, b]], f: (x, y) => gemm(x, y, false, true) },
  { name: 'matmul Aᵀ Bᵀ', shapes: (a, b, c) => [[b, a], [c, b]], f: (x, y) => gemm(x, y, true, true) },
  { name: 'matmul matrix-vector', shapes: (a, b) => [[a, b], [b]], f: matmul },
  { name: 'matmul vector-vector', shapes: (a) => [[a + 1], [a + 1]], f: matmul },
  { name: 'matmul batched', shapes: (a, b, c) => [[2, a, b], [2, b, c]], f: matmul },
  { name: 'matmul batched against shared', shapes: (a, b, c) => [[2, a, b], [b, c]], f: matmul },
  { name: 'dot (numpy: rank 3 · rank 3, no batch axis)', shapes: (a, b, c) => [[a, b, c], [2, c, a]], f: dot },
  // composites
  { name: 'sigmoid', shapes: (a, b) => [[a, b]], f: sigmoid, domain: [[-6, 6]] },
  { name: 'softplus', shapes: (a) => [[a]], f: softplus, domain: [[-6, 6]] },
  { name: 'gelu', shapes: (a, b) => [[a, b]], f: gelu, domain: [[-4, 4]] },
  { name: 'logSumExp', shapes: (a, b) => [[a, b]], f: (x) => logSumExp(x, 1), domain: [[-5, 5]] },
  { name: 'logSumExp over axes 0 and 2', shapes: (a, b, c) => [[a, b, c]], f: (x) => logSumExp(x, [0, 2]), domain: [[-5, 5]] },
  { name: 'logSumExp keepdims, wide range', shapes: (a, b) => [[a, b]], f: (x) => logSumExp(x, -1, true), domain: [[-30, 30]] },
  { name: 'softmax', shapes: (a, b) => [[a, b + 1]], f: (x) => softmax(x) },
  { name: 'logSoftmax', shapes: (a, b) => [[a, b + 1]], f: (x) => logSoftmax(x, 0) },
  { name: 'mean', shapes: (a, b) => [[a, b]], f: (x) => mean(x, 0) },
  { name: 'square', shapes: (a) => [[a]], f: square },
  { name: 'bceWithLogits', shapes: (a) => [[a], [a]], f: bceWithLogits, domain: [[-5, 5], [0, 1]] },
  { name: 'softmaxCrossEntropy', shapes: (a, b) => [[a, b + 1], [a, b + 1]], f: softmaxCrossEntropy, domain: [[-3, 3], [0, 1]] },
  { name: 'mse', shapes: (a) => [[a], [a]], f: mse },
  { name: 'expandDims', shapes: (a, b) => [[a, b]], f: (x) => expandDims(x, 1) },
];

/** fast-check input: three sizes plus a seed for the data. */
const sizesAndSeed = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }));

describeRuleProperties(cases, {
  input: sizesAndSeed,
  draw: (c, [a, b, cc, seed], offset) =>
    c.shapes(a, b, cc).map((shape, i) => {
      const [lo, hi] = c.domain?.[i] ?? [-2, 2];
      return seededTensor(shape, seed + offset + 7919 * i, lo, hi);
    }),
  seed: ([, , , seed]) => seed,
  smooth: (c, xs) => !c.valid || c.valid(xs.map(values)),
  runs: 12,
  maxBatch: 4,
});

describe('primitives with no derivative', () => {
  it('stopGradient blocks the derivative: d/dx [x · stop(x)] = x', () => {
    const f = (x: Tensor) => sum(mul(x, stopGradientOf(x)));
    expectClose(grad(f)(tensor([3, -2])), [3, -2]);
    expectClose(jvp(f, [tensor([3, -2])], [tensor([1, 1])])[1], 1);
  });
  it('sign and comparisons give exact zero derivatives, forward and reverse', () => {
    const f = (x: Tensor) => sum(add(sign(x), greater(x, 0.5)));
    expectClose(grad(f)(tensor([1, -2, 0.7])), [0, 0, 0], { atol: 0 });
    expectClose(jvp(f, [tensor([1, -2])], [tensor([1, 1])])[1], 0, { atol: 0 });
  });
});

describe('erf and GELU values', () => {
  it('gelu(x) = x·Φ(x) matches values computed independently in 80-digit decimal arithmetic', () => {
    // x·½(1 + erf(x/√2)) with erf from its Maclaurin series, in Python's decimal module at 80
    // digits, rounded to float64 (CPython's statistics.NormalDist().cdf agrees to 1e-15).
    const ref: [number, number][] = [
      [-4, -0.0001266849673324797], [-2.5, -0.015524163314440337], [-1, -0.15865525393145705],
      [-0.3, -0.1146265733433142], [0, 0], [0.001, 0.000500398942213911], [0.7, 0.5306254434438489],
      [1.5, 1.399789198096713], [3, 2.99595030590511], [5, 4.999998566742141],
    ];
    // erf is good to a few ulp; ½x·(1 + erf) carries that as an absolute error ≲ |x|·2e-16.
    expectClose(gelu(tensor(ref.map(([x]) => x))), ref.map(([, g]) => g), { rtol: 1e-14, atol: 1e-15, what: 'gelu' });
  });

  it("erf' = (2/√π) e^(−x²) at every order the rules produce: the third derivative is (4x² − 2)·erf'", () => {
    const xs = [-1.3, 0, 0.4, 2.1];
    const d1 = (x: number) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x);
    const g3 = grad(grad(grad((x: Tensor) => erf(x))));
    const third = xs.map((x) => (g3(tensor(x)) as Tensor).item());
    expectClose(third, xs.map((x) => (4 * x * x - 2) * d1(x)), { rtol: 1e-13, atol: 1e-15, what: "erf'''" });
  });
});
