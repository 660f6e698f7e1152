/**
 * conv2d, maxPool2d, avgPool2d and addChannelBias (src/ops/conv.ts): composites of pad, transpose,
 * take and gemm, so their rules are those primitives' rules. Checked here the way
 * test/core/primitives.test.ts checks every primitive (finite differences, the adjoint identity,
 * both HVP routes against the Hessian, vmap against a loop), plus independent reference values:
 * a direct seven-loop float64 convolution written below, hand-worked TensorFlow SAME shapes and
 * values, and numbers pasted from PyTorch (the test does not need torch to run).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  add, grad, jvp, mul, ones, relu, reshape, sum, tensor, vmap,
} from '../../src/index.ts';
import { type Conv2dOptions, addChannelBias, avgPool2d, conv2d, maxPool2d, samePadding } from '../../src/ops/conv.ts';
import { TORCH_A, TORCH_B, TORCH_C, TORCH_D } from './conv-torch-values.ts';
import { expectClose, seededTensor, values } from '../helpers.ts';
import { describeRuleProperties } from '../rule-properties.ts';

/** y[n,o,i,j] = Σ_{c,a,b} xpad[n,c,i·sh+a,j·sw+b]·w[o,c,a,b], written as plainly as possible. */
function referenceConv(x: Tensor, w: Tensor, sh: number, sw: number, [pt, pb]: number[], [pl, pr]: number[]): { y: Float64Array; shape: number[] } {
  const [N, C, H, W] = x.shape as number[];
  const [O, , KH, KW] = w.shape as number[];
  const xv = values(x);
  const wv = values(w);
  const Ho = Math.floor((H! + pt! + pb! - KH!) / sh) + 1;
  const Wo = Math.floor((W! + pl! + pr! - KW!) / sw) + 1;
  const y = new Float64Array(N! * O! * Ho * Wo);
  for (let n = 0; n < N!; n++)
    for (let o = 0; o < O!; o++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let s = 0;
          for (let c = 0; c < C!; c++)
            for (let a = 0; a < KH!; a++)
              for (let b = 0; b < KW!; b++) {
                const r = i * sh + a - pt!;
                const q = j * sw + b - pl!;
                if (r < 0 || r >= H! || q < 0 || q >= W!) continue;
                s += xv[((n * C! + c) * H! + r) * W! + q]! * wv[((o * C! + c) * KH! + a) * KW! + b]!;
              }
          y[((n * O! + o) * Ho + i) * Wo + j] = s;
        }
  return { y, shape: [N!, O!, Ho, Wo] };
}

/** x[i] = fn(a·i + b) over the flat index: the same inputs the PyTorch script below builds. */
function seq(shape: number[], a: number, b: number, fn: (v: number) => number = Math.sin): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return tensor(Float64Array.from({ length: n }, (_, i) => fn(a * i + b)), shape);
}

describe('conv2d forward against a direct seven-loop convolution', () => {
  it('random shapes, strides and every padding form', () => {
    const paddings = [0, 1, 2, [1, 0], [0, 2], 'same', 'valid'] as const;
    fc.assert(
      fc.property(
        fc.record({
          n: fc.integer({ min: 1, max: 2 }), c: fc.integer({ min: 1, max: 3 }), o: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 3, max: 7 }), w: fc.integer({ min: 3, max: 7 }),
          kh: fc.integer({ min: 1, max: 3 }), kw: fc.integer({ min: 1, max: 3 }),
          sh: fc.integer({ min: 1, max: 3 }), sw: fc.integer({ min: 1, max: 3 }),
          pad: fc.constantFrom(...paddings), seed: fc.integer({ min: 1, max: 1e6 }),
        }),
        ({ n, c, o, h, w, kh, kw, sh, sw, pad, seed }) => {
          const x = seededTensor([n, c, h, w], seed);
          const k = seededTensor([o, c, kh, kw], seed + 1);
          const padH = pad === 'same' ? samePadding(h, kh, sh) : pad === 'valid' ? [0, 0] : typeof pad === 'number' ? [pad, pad] : [pad[0], pad[0]];
          const padW = pad === 'same' ? samePadding(w, kw, sw) : pad === 'valid' ? [0, 0] : typeof pad === 'number' ? [pad, pad] : [pad[1], pad[1]];
          const ref = referenceConv(x, k, sh, sw, padH, padW);
          const y = conv2d(x, k, { stride: [sh, sw], padding: pad as Conv2dOptions['padding'] });
          expect(y.shape).toEqual(ref.shape);
          expectClose(y, ref.y, { rtol: 1e-13, atol: 1e-14, what: 'conv2d' });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('one image [C, H, W] gives [O, Ho, Wo], the same as a batch of one', () => {
    const x = seededTensor([2, 5, 4], 3);
    const w = seededTensor([3, 2, 3, 3], 4);
    const y = conv2d(x, w, { padding: 'same' });
    expect(y.shape).toEqual([3, 5, 4]);
    expectClose(y, reshape(conv2d(reshape(x, [1, 2, 5, 4]), w, { padding: 'same' }), [3, 5, 4]), { rtol: 0, atol: 0 });
  });

  it('rejects mismatched channels, bad ranks and bad options with messages naming the shapes', () => {
    expect(() => conv2d(ones([1, 2, 4, 4]), ones([1, 3, 2, 2]))).toThrow(/2 channels.*expects 3/);
    expect(() => conv2d(ones([4, 4]), ones([1, 1, 2, 2]))).toThrow(/\[N, C, H, W\]/);
    expect(() => conv2d(ones([1, 1, 4, 4]), ones([1, 1, 2, 2]), { stride: 0 })).toThrow(/strides/);
    expect(() => conv2d(ones([1, 1, 2, 2]), ones([1, 1, 3, 3]))).toThrow(/does not fit/);
    expect(() => maxPool2d(ones([1, 1, 4, 4]), { size: 2, padding: 2 })).toThrow(/no input entry/);
  });
});

describe('large inputs are gathered in bands of output rows (at most 2²¹ entries each)', () => {
  // The band split only changes how many rows one take/gemm handles; values and gradients must be
  // those of the same op on batches small enough for one band (2²¹ / (rows · window) decides).
  const parts = (x: Tensor, k: number) => Array.from({ length: k }, (_, i) => sliceRows(x, (i * x.shape[0]!) / k, x.shape[0]! / k));

  it('conv2d: three bands give the one-band output, dx and dw', () => {
    const x = seededTensor([20, 16, 24, 24], 1); // a row gathers 20·24·25·16 = 192,000 entries: 10 rows a band
    const w = seededTensor([2, 16, 5, 5], 2);
    const u = seededTensor([20, 2, 24, 24], 3);
    const f = (a: Tensor, b: Tensor) => conv2d(a, b, { padding: 'same' });
    const [dx, dw] = grad((a: Tensor, b: Tensor) => sum(mul(f(a, b), u)), { argnums: [0, 1] })(x, w) as Tensor[];
    const y = f(x, w);
    const ref = referenceConv(x, w, 1, 1, [2, 2], [2, 2]);
    expectClose(y, ref.y, { rtol: 1e-12, atol: 1e-12, what: 'banded conv2d vs seven loops' });
    let dwSum: Tensor | null = null;
    parts(x, 4).forEach((xi, i) => { // 5 images: 48,000 entries a row, one band
      const ui = sliceRows(u, 5 * i, 5);
      const [gx, gw] = grad((a: Tensor, b: Tensor) => sum(mul(f(a, b), ui)), { argnums: [0, 1] })(xi, w) as Tensor[];
      expectClose(sliceRows(dx!, 5 * i, 5), gx!, { rtol: 1e-12, atol: 1e-12, what: `dx of images ${5 * i}…` });
      dwSum = dwSum ? add(dwSum, gw!) : gw!;
    });
    expectClose(dw!, dwSum!, { rtol: 1e-10, atol: 1e-10, what: 'dw' });
  });

  it('maxPool2d and avgPool2d: two bands give the one-band output and gradient', () => {
    const x = seededTensor([200, 1, 40, 40], 4); // a row gathers 200·40·9 = 72,000 entries: 29 rows a band
    for (const op of [maxPool2d, avgPool2d]) {
      const f = (a: Tensor) => op(a, { size: 3, stride: 1, padding: 'same' });
      const u = seededTensor([200, 1, 40, 40], 5);
      const g = grad((a: Tensor) => sum(mul(f(a), u)))(x) as Tensor;
      const y = f(x);
      parts(x, 2).forEach((xi, i) => {
        const ui = sliceRows(u, 100 * i, 100);
        expectClose(sliceRows(y, 100 * i, 100), f(xi), { rtol: 0, atol: 0, what: `${op.name} y` });
        expectClose(sliceRows(g, 100 * i, 100), grad((a: Tensor) => sum(mul(f(a), ui)))(xi) as Tensor, { rtol: 0, atol: 1e-15, what: `${op.name} dx` });
      });
    }
  });
});

describe("TensorFlow's SAME rule, hand-worked", () => {
  it('pads (before, after) = (⌊total/2⌋, rest) with total = max((⌈in/s⌉−1)·s + k − in, 0)', () => {
    // in, k, s → out = ⌈in/s⌉, total, [before, after]
    expect(samePadding(28, 5, 1)).toEqual([2, 2]); // out 28, total 4
    expect(samePadding(28, 3, 2)).toEqual([0, 1]); // out 14, total 13·2 + 3 − 28 = 1
    expect(samePadding(14, 3, 2)).toEqual([0, 1]); // out 7, total 6·2 + 3 − 14 = 1
    expect(samePadding(7, 3, 2)).toEqual([1, 1]); // out 4, total 3·2 + 3 − 7 = 2
    expect(samePadding(8, 4, 1)).toEqual([1, 2]); // even kernel: out 8, total 3, the odd zero after
    expect(samePadding(6, 2, 2)).toEqual([0, 0]); // out 3, total 2·2 + 2 − 6 = 0
    expect(samePadding(5, 1, 3)).toEqual([0, 0]); // out 2, total 3 + 1 − 5 < 0 → 0
    expect(samePadding(7, 4, 3)).toEqual([1, 2]); // out 3, total 2·3 + 4 − 7 = 3
  });

  it("LeNet's shapes: 28 → 14 → 7 → 4 through 'same' convolutions and 3×3 stride-2 pools", () => {
    let x: Tensor = ones([1, 1, 28, 28]);
    const sizes: number[] = [];
    for (const c of [1, 16, 32]) {
      x = conv2d(x, ones([c === 1 ? 16 : 2 * c, c, 5, 5]), { padding: 'same' });
      x = maxPool2d(x, { size: 3, stride: 2, padding: 'same' });
      sizes.push(x.shape[2]!);
    }
    expect(sizes).toEqual([14, 7, 4]);
    expect(x.shape).toEqual([1, 64, 4, 4]);
  });

  it('an even kernel under SAME pads one zero before and two after: values worked by hand', () => {
    // 1×4 image [1, 2, 3, 4], kernel 1×4 of ones, SAME stride 1: padded [0, 1, 2, 3, 4, 0, 0];
    // windows start at 0..3: 0+1+2+3, 1+2+3+4, 2+3+4+0, 3+4+0+0.
    const y = conv2d(tensor([1, 2, 3, 4], [1, 1, 1, 4]), ones([1, 1, 1, 4]), { padding: 'same' });
    expectClose(y, [6, 10, 9, 7], { rtol: 0, atol: 0 });
    // Stride 2 on 5 entries, k 2: out 3, total 2·2 + 2 − 5 = 1 → padded [1, 2, 3, 4, 5, 0].
    const z = conv2d(tensor([1, 2, 3, 4, 5], [1, 1, 1, 5]), ones([1, 1, 1, 2]), { stride: 2, padding: 'same' });
    expectClose(z, [3, 7, 5], { rtol: 0, atol: 0 });
    // Max pooling pads with −∞: the all-negative row's last window is [−5, pad] → −5, not 0.
    const m = maxPool2d(tensor([-1, -2, -3, -4, -5], [1, 1, 1, 5]), { size: 2, stride: 2, padding: 'same' });
    expectClose(m, [-1, -3, -5], { rtol: 0, atol: 0 });
  });
});

describe('pooling', () => {
  it('average pooling divides by the real entries of each window (padding not counted)', () => {
    // 3×3 window, stride 1, padding 1 on a 3×3 image of ones: every window averages ones to 1.
    expectClose(avgPool2d(ones([1, 1, 3, 3]), { size: 3, stride: 1, padding: 1 }), ones([1, 1, 3, 3]), { rtol: 0, atol: 1e-15 });
    // Corner of arange(9)·: window {0, 1, 3, 4} has 4 real entries → 2; centre → 4.
    const y = avgPool2d(tensor([0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 3, 3]), { size: 3, stride: 1, padding: 1 });
    expectClose(y, [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6], { rtol: 1e-15, atol: 0 });
  });

  it('max-pool ties split the derivative equally within a window; overlapping windows add', () => {
    // One 2×2 window of four equal values: each gets 1/4 (reduceMax's rule).
    const g = grad((x: Tensor) => sum(maxPool2d(x, { size: 2 })))(ones([1, 1, 2, 2])) as Tensor;
    expectClose(g, [0.25, 0.25, 0.25, 0.25], { rtol: 0, atol: 0 });
    // 1×3 row [1, 3, 3], windows of 2 at stride 1: [1, 3] → all to index 1; [3, 3] → ½ each.
    const h = grad((x: Tensor) => sum(maxPool2d(x, { size: [1, 2], stride: 1 })))(tensor([1, 3, 3], [1, 1, 1, 3])) as Tensor;
    expectClose(h, [0, 1.5, 0.5], { rtol: 0, atol: 0 });
    // And the JVP agrees with the same weights: ẏ = Σ weights · ẋ.
    const [, t] = jvp((x: Tensor) => maxPool2d(x, { size: [1, 2], stride: 1 }), [tensor([1, 3, 3], [1, 1, 1, 3])], [tensor([10, 20, 40], [1, 1, 1, 3])]);
    expectClose(t, [20, 30], { rtol: 0, atol: 0 });
  });

  it('pools any tensor of rank ≥ 2 over its last two axes', () => {
    const x = seededTensor([2, 3, 6, 5], 8);
    const y = maxPool2d(x, { size: 2, stride: 2, padding: 'same' });
    expect(y.shape).toEqual([2, 3, 3, 3]);
    expectClose(maxPool2d(reshape(x, [6, 6, 5]), { size: 2, stride: 2, padding: 'same' }), reshape(y, [6, 3, 3]), { rtol: 0, atol: 0 });
    expect(avgPool2d(ones([4, 4]), { size: 2 }).shape).toEqual([2, 2]);
  });

  it('addChannelBias adds b[o] to every entry of channel o', () => {
    const y = addChannelBias(seededTensor([2, 3, 2, 2], 1), tensor([1, 2, 3]));
    const want = values(seededTensor([2, 3, 2, 2], 1)).map((v, i) => v + 1 + (Math.floor(i / 4) % 3));
    expectClose(y, want, { rtol: 0, atol: 1e-15 });
    expect(() => addChannelBias(ones([1, 3, 2, 2]), ones([2]))).toThrow(/addChannelBias/);
  });
});

describe('PyTorch 1.13 float64 reference values (test/ops/conv-torch-values.ts says how they were made)', () => {
  // Inputs x[i] = sin(a·i + b) (w: cos) over the flat index, built identically by `seq` here and in
  // the script; u = seq(y.shape, 0.29, 0.7) and the gradients are those of (y·u).sum(). The only
  // differences are summation order and libm's last bit: 1e-13 relative is far above both.
  const tol = { rtol: 1e-12, atol: 1e-13 };
  const gradients = (f: (...xs: Tensor[]) => Tensor, xs: Tensor[], shape: number[]) =>
    grad((...a: Tensor[]) => sum(mul(f(...a), seq(shape, 0.29, 0.7))), { argnums: xs.map((_, i) => i) })(...xs) as Tensor[];

  it('conv2d, stride (2, 1), padding (1, 0): output, dx and dw', () => {
    const x = seq([2, 3, 5, 6], 0.37, 0.1);
    const w = seq([4, 3, 3, 2], 0.53, -0.4, Math.cos);
    const f = (a: Tensor, b: Tensor) => conv2d(a, b, { stride: [2, 1], padding: [1, 0] });
    const y = f(x, w);
    expect(y.shape).toEqual(TORCH_A.shape);
    expectClose(y, TORCH_A.y, { ...tol, what: 'conv2d y' });
    const [dx, dw] = gradients(f, [x, w], TORCH_A.shape);
    expectClose(dx!, TORCH_A.dx!, { ...tol, what: 'conv2d dx' });
    expectClose(dw!, TORCH_A.dw!, { ...tol, what: 'conv2d dw' });
  });

  it("conv2d with padding 'same' and an even kernel (torch splits the padding as TensorFlow does at stride 1)", () => {
    const y = conv2d(seq([1, 2, 5, 4], 0.41, 0.3), seq([3, 2, 4, 2], 0.61, 0.2, Math.cos), { padding: 'same' });
    expect(y.shape).toEqual(TORCH_B.shape);
    expectClose(y, TORCH_B.y, { ...tol, what: 'conv2d same y' });
  });

  it('max_pool2d 3×3, stride 2, padding 1: output and dx (no ties in these inputs)', () => {
    const x = seq([2, 3, 7, 6], 0.37, 0.1);
    const f = (a: Tensor) => maxPool2d(a, { size: 3, stride: 2, padding: 1 });
    expectClose(f(x), TORCH_C.y, { ...tol, what: 'maxPool2d y' }); // the inputs' sin may differ in the last bit
    expectClose(gradients(f, [x], TORCH_C.shape)[0]!, TORCH_C.dx!, { ...tol, what: 'maxPool2d dx' });
  });

  it('avg_pool2d 3×3, stride 2, padding 1, count_include_pad=False: output and dx', () => {
    const x = seq([2, 3, 7, 6], 0.37, 0.1);
    const f = (a: Tensor) => avgPool2d(a, { size: 3, stride: 2, padding: 1 });
    expectClose(f(x), TORCH_D.y, { ...tol, what: 'avgPool2d y' });
    expectClose(gradients(f, [x], TORCH_D.shape)[0]!, TORCH_D.dx!, { ...tol, what: 'avgPool2d dx' });
  });
});

type Fn = (...xs: Tensor[]) => Tensor;
interface Case {
  name: string;
  /** Argument shapes. */
  shapes: number[][];
  f: Fn;
  /** Rejects inputs too close to a tie (max pooling) for finite differences to mean anything. */
  valid?: (xs: Float64Array[]) => boolean;
}

/** Max-pool windows move only if two entries are within 1e-3: keep drawn inputs away from that. */
const distinct = ([x]: Float64Array[]) => {
  const s = [...x!].sort((p, q) => p - q);
  return s.every((v, i) => i === 0 || v - s[i - 1]! > 1e-3);
};

const cases: Case[] = [
  { name: 'conv2d valid', shapes: [[1, 2, 4, 4], [2, 2, 2, 3]], f: (x, w) => conv2d(x, w) },
  { name: 'conv2d same, stride 2', shapes: [[2, 1, 5, 4], [3, 1, 3, 2]], f: (x, w) => conv2d(x, w, { stride: 2, padding: 'same' }) },
  { name: 'conv2d padding [1, 0], stride [1, 2]', shapes: [[1, 3, 3, 5], [2, 3, 2, 2]], f: (x, w) => conv2d(x, w, { stride: [1, 2], padding: [1, 0] }) },
  { name: 'conv2d one image', shapes: [[2, 4, 3], [2, 2, 3, 3]], f: (x, w) => conv2d(x, w, { padding: 1 }) },
  { name: 'addChannelBias', shapes: [[2, 3, 2, 2], [3]], f: addChannelBias },
  { name: 'maxPool2d 3×3 stride 2 same', shapes: [[1, 2, 5, 4]], f: (x) => maxPool2d(x, { size: 3, stride: 2, padding: 'same' }), valid: distinct },
  { name: 'maxPool2d 2×2', shapes: [[2, 1, 4, 4]], f: (x) => maxPool2d(x, { size: 2 }), valid: distinct },
  { name: 'avgPool2d 3×3 stride 2 padding 1', shapes: [[1, 2, 5, 4]], f: (x) => avgPool2d(x, { size: 3, stride: 2, padding: 1 }) },
  {
    // conv → bias → relu → max pool → square: curvature in x, w and b through every piece.
    name: 'small CNN block',
    shapes: [[1, 1, 5, 5], [2, 1, 3, 3], [2]],
    f: (x, w, b) => {
      const h = maxPool2d(relu(addChannelBias(conv2d(x, w, { padding: 'same' }), b)), { size: 2, stride: 2, padding: 'same' });
      return mul(h, h);
    },
  },
];

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });
/** relu kinks and pool ties: reject draws where a tiny step changes which branch is taken. */
const smooth = (c: Case, xs: Tensor[]) => {
  if (c.valid && !c.valid(xs.map(values))) return false;
  if (c.name !== 'small CNN block') return true;
  const [x, w, b] = xs;
  const pre = values(addChannelBias(conv2d(x!, w!, { padding: 'same' }), b!));
  return pre.every((v) => Math.abs(v) > 1e-3) && distinct([values(relu(tensor(pre, [pre.length])))].map((v) => v.filter((z) => z > 0)));
};

describeRuleProperties(cases, {
  input: seeds,
  draw: (c, seed, offset) => c.shapes.map((s, i) => seededTensor(s, seed + offset + 7919 * i, -2, 2)),
  seed: (seed) => seed,
  smooth,
  runs: 6,
  maxBatch: 3,
  suffix: ': the rules through the composite',
});

describe('per-example gradients of a convolution by vmap(grad)', () => {
  it('equal a loop of grad over the examples, for the kernel and the bias', () => {
    const X = seededTensor([4, 2, 6, 6], 21);
    const params = { w: seededTensor([3, 2, 3, 3], 22), b: seededTensor([3], 23) };
    const loss = (p: typeof params, x: Tensor) => sum(mul(relu(addChannelBias(conv2d(x, p.w, { padding: 'same', stride: 2 }), p.b)), 0.5));
    const per = vmap(grad(loss), [null, 0])(params, X) as typeof params;
    for (let i = 0; i < 4; i++) {
      const one = grad(loss)(params, sliceRow(X, i)) as typeof params;
      expectClose(sliceRow(per.w, i), one.w, { rtol: 1e-12, atol: 1e-14, what: `dw of example ${i}` });
      expectClose(sliceRow(per.b, i), one.b, { rtol: 1e-12, atol: 1e-14, what: `db of example ${i}` });
    }
  });
});

/** Row i of a tensor's first axis, without the axis. */
function sliceRow(x: Tensor, i: number): Tensor {
  const size = x.size / x.shape[0]!;
  return tensor(values(x).slice(i * size, (i + 1) * size), x.shape.slice(1));
}

/** Rows [start, start + count) of a tensor's first axis. */
function sliceRows(x: Tensor, start: number, count: number): Tensor {
  const size = x.size / x.shape[0]!;
  return tensor(values(x).slice(start * size, (start + count) * size), [count, ...x.shape.slice(1)]);
}
