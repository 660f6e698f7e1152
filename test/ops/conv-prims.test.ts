/**
 * The convolution primitives (src/prims/conv.ts) on their own: conv, convInputGrad and
 * convKernelGrad each through the four rule properties (JVP vs finite differences, JVP/VJP
 * adjoint, the three HVP routes, vmap vs a loop), the vmap cases the shared suite does not draw
 * (a shared first operand, per-example kernels, vmap of vmap), and the shape errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, grad, makeJaxpr, mul, stack, sum, tensor, vmap } from '../../src/index.ts';
import { conv, convInputGrad, convKernelGrad, type ConvPlan } from '../../src/prims/index.ts';
import { addChannelBias, conv2d } from '../../src/ops/conv.ts';
import { expectClose, seededTensor } from '../helpers.ts';
import { describeRuleProperties } from '../rule-properties.ts';

// 3 × 2 kernels at strides (2, 1) over a 5 × 4 plane, padding 1 above and none to the left, the
// last window row reaching one zero row below: padded borders and overlapping windows.
const PLAN: ConvPlan = { c: 2, o: 3, h: 5, w: 4, kh: 3, kw: 2, sh: 2, sw: 1, top: 1, left: 0, ho: 3, wo: 3 };
const N = 2;
const X = [N, PLAN.c, PLAN.h, PLAN.w];
const K = [PLAN.o, PLAN.c, PLAN.kh, PLAN.kw];
const G = [N, PLAN.o, PLAN.ho, PLAN.wo];

interface Case {
  name: string;
  shapes: number[][];
  f: (...xs: Tensor[]) => Tensor;
}

const cases: Case[] = [
  { name: 'conv(x, k)', shapes: [X, K], f: (x, k) => conv(x!, k!, PLAN) },
  { name: 'conv(x, k, bias)', shapes: [X, K, [PLAN.o]], f: (x, k, b) => conv(x!, k!, PLAN, b!) },
  { name: 'convInputGrad(g, k)', shapes: [G, K], f: (g, k) => convInputGrad(g!, k!, PLAN) },
  { name: 'convKernelGrad(x, g)', shapes: [X, G], f: (x, g) => convKernelGrad(x!, g!, PLAN) },
  // A product of two members: curvature in every operand (each is bilinear, so alone its HVP is 0).
  { name: 'conv(x, k) ⊙ conv(x, k)', shapes: [X, K], f: (x, k) => mul(conv(x!, k!, PLAN), conv(x!, k!, PLAN)) },
  { name: 'conv(x, k, bias)²', shapes: [X, K, [PLAN.o]], f: (x, k, b) => mul(conv(x!, k!, PLAN, b!), conv(x!, k!, PLAN, b!)) },
];

describeRuleProperties(cases, {
  input: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  draw: (c, seed, offset) => c.shapes.map((s, i) => seededTensor(s, seed + offset + 7919 * i, -2, 2)),
  seed: (seed) => seed,
  runs: 6,
  maxBatch: 3,
  suffix: ': the convolution primitives',
});

describe('vmap of the convolution primitives beyond the shared suite', () => {
  // A batched result must equal the loop over slices exactly up to reassociation: one product
  // per entry in both, summed in the kernel's order, so the tolerance is a few ulps.
  const loop = (f: (a: Tensor, b: Tensor) => Tensor, a: Tensor, b: Tensor, batchA: boolean, batchB: boolean, size: number) =>
    stack(Array.from({ length: size }, (_, i) => f(batchA ? row(a, i) : a, batchB ? row(b, i) : b)), 0);

  it('shared first operand, batched second (per-example kernels, per-example output gradients)', () => {
    const pairs: [(a: Tensor, b: Tensor) => Tensor, number[], number[]][] = [
      [(x, k) => conv(x, k, PLAN), X, K],
      [(g, k) => convInputGrad(g, k, PLAN), G, K],
      [(x, g) => convKernelGrad(x, g, PLAN), X, G],
    ];
    pairs.forEach(([f, sa, sb], t) => {
      const a = seededTensor(sa, 10 + t), b = seededTensor([3, ...sb], 20 + t);
      expectClose(vmap(f, [null, 0])(a, b), loop(f, a, b, false, true, 3), { rtol: 1e-12, atol: 1e-14, what: `case ${t}` });
    });
  });

  it('a per-example bias with shared images and kernels, and a bias under vmap of vmap', () => {
    const f = (x: Tensor, k: Tensor, b: Tensor) => conv(x, k, PLAN, b);
    const x = seededTensor(X, 41), k = seededTensor(K, 42), b = seededTensor([3, PLAN.o], 43);
    const expected = stack([0, 1, 2].map((i) => f(x, k, row(b, i))), 0);
    expectClose(vmap(f, [null, null, 0])(x, k, b), expected, { rtol: 1e-12, atol: 1e-14, what: 'vmap over the bias' });
    const xs = seededTensor([2, 3, ...X], 44), ks = seededTensor([2, 3, ...K], 45), bs = seededTensor([2, 3, PLAN.o], 46);
    const nested = vmap(vmap(f))(xs, ks, bs);
    const loop = stack([0, 1].map((i) => stack([0, 1, 2].map((j) => f(row(row(xs, i), j), row(row(ks, i), j), row(row(bs, i), j))), 0)), 0);
    expectClose(nested, loop, { rtol: 1e-12, atol: 1e-14, what: 'vmap(vmap(conv with bias))' });
  });

  it('vmap of vmap: the grouped form merges a second batch axis', () => {
    const f = (x: Tensor, k: Tensor) => conv(x, k, PLAN);
    const x = seededTensor([2, 3, ...X], 31), k = seededTensor([2, 3, ...K], 32);
    const nested = vmap(vmap(f))(x, k);
    const expected = stack([0, 1].map((i) => stack([0, 1, 2].map((j) => f(row(row(x, i), j), row(row(k, i), j))), 0)), 0);
    expectClose(nested, expected, { rtol: 1e-12, atol: 1e-14, what: 'vmap(vmap(conv))' });
    // Outer batch over the kernels only, inner over both.
    const mixed = vmap(vmap(f), [null, 0])(row(x, 0), k);
    const expectedMixed = stack([0, 1].map((i) => stack([0, 1, 2].map((j) => f(row(row(x, 0), j), row(row(k, i), j))), 0)), 0);
    expectClose(mixed, expectedMixed, { rtol: 1e-12, atol: 1e-14, what: 'vmap(vmap(conv), [null, 0])' });
  });
});

describe("conv2d's bias option", () => {
  it('equals addChannelBias on the result, values and gradients (one more term per sum: a few ulps)', () => {
    const x = seededTensor([2, 3, 6, 5], 51), w = seededTensor([4, 3, 3, 3], 52), b = seededTensor([4], 53), u = seededTensor([2, 4, 3, 3], 54);
    const fused = (x: Tensor, w: Tensor, b: Tensor) => sum(mul(conv2d(x, w, { stride: 2, padding: 'same', bias: b }), u));
    const apart = (x: Tensor, w: Tensor, b: Tensor) => sum(mul(addChannelBias(conv2d(x, w, { stride: 2, padding: 'same' }), b), u));
    expectClose(conv2d(x, w, { padding: 1, bias: b }), addChannelBias(conv2d(x, w, { padding: 1 }), b), { rtol: 1e-14, atol: 1e-14, what: 'y' });
    const gf = grad(fused, { argnums: [0, 1, 2] })(x, w, b) as Tensor[];
    const ga = grad(apart, { argnums: [0, 1, 2] })(x, w, b) as Tensor[];
    gf.forEach((g, i) => expectClose(g, ga[i]!, { rtol: 1e-13, atol: 1e-14, what: `gradient ${i}` }));
    expect(() => conv2d(x, w, { bias: seededTensor([3], 1) })).toThrow(/bias must be \[O\] = \[4\]/);
  });
});

describe('FLOP counts of the family', () => {
  it('each primitive counts 2·n·o·c·kh·kw·ho·wo: a gradient costs twice the forward product', () => {
    // n·o·c·kh·kw·ho·wo = 2·3·2·3·2·3·3 = 648 multiply-adds, one per term of the triple sum (§6).
    const by = makeJaxpr(grad((x: Tensor, k: Tensor) => sum(conv(x, k, PLAN)), { argnums: [0, 1] }))(seededTensor(X, 1), seededTensor(K, 2)).counts().byPrimitive;
    expect(by.conv).toEqual({ count: 1, flops: 1296 });
    expect(by.convInputGrad).toEqual({ count: 1, flops: 1296 });
    expect(by.convKernelGrad).toEqual({ count: 1, flops: 1296 });
  });
});

describe('shape errors name the primitive and the shapes', () => {
  it('operands that do not fit the plan', () => {
    expect(() => conv(seededTensor([1, 2, 5, 5], 1), seededTensor(K, 2), PLAN)).toThrow(/conv: operands \[1, 2, 5, 5\] and \[3, 2, 3, 2\] do not fit/);
    expect(() => convInputGrad(seededTensor([2, 3, 3, 2], 1), seededTensor(K, 2), PLAN)).toThrow(/convInputGrad: operands/);
    expect(() => convKernelGrad(seededTensor(X, 1), seededTensor([1, 3, 3, 3], 2), PLAN)).toThrow(/convKernelGrad: operands/);
    expect(() => conv(seededTensor(X, 1), seededTensor(K, 2), { ...PLAN, sh: 0 })).toThrow(/conv: bad plan/);
  });
});

/** Slice i of the first axis, without the axis (a copy, so the slices are independent tensors). */
function row(x: Tensor, i: number): Tensor {
  const [, ...rest] = x.shape;
  const size = rest.reduce((m, d) => m * d, 1);
  return tensor(x.toFloat64Array().slice(i * size, (i + 1) * size), rest);
}
