/**
 * src/nn/cnn.ts: the sequential CNN helper and the Learning-to-Reweight LeNet, as params pytrees
 * that the engine's transformations, the optimisers and the flat-parameter Objective take as they are.
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  add, expandDims, grad, mean, mul, relu, reshape, sgdStep, sum, tanh, tensor, valueAndGrad, vmap, zeros,
} from '../../src/index.ts';
import { Objective } from '../../src/nn/objective.ts';
import { LENET_LAYERS, type SequentialParams, forwardInChunks, lenet, sequential, sequentialLoss } from '../../src/nn/cnn.ts';
import { addChannelBias, avgPool2d, conv2d } from '../../src/ops/conv.ts';
import { gemm } from '../../src/prims/index.ts';
import { metaGradientAutodiff, metaGradientForward, metaGradientPerExample } from '../../src/reweight/l2rw.ts';
import { l2rw } from '../../src/reweight/methods.ts';
import { trainWeighted } from '../../src/reweight/train.ts';
import { momentum } from '../../src/optim/sgd.ts';
import { digitIndices, loadMnist } from '../../src/data/mnist.ts';
import { expectClose, seededTensor, values } from '../helpers.ts';

/** k real MNIST 4s (label 0) and k 9s (label 1), interleaved: rows [2k, 784] in [0, 1]. */
function foursAndNines(k: number, offset = 0): { X: Tensor; y: Tensor } {
  const { images } = loadMnist();
  const [fours, nines] = [digitIndices(4), digitIndices(9)];
  const X = new Float64Array(2 * k * 784);
  const y = new Float64Array(2 * k);
  for (let i = 0; i < k; i++) {
    X.set(images.subarray(fours[offset + i]! * 784, (fours[offset + i]! + 1) * 784), 2 * i * 784);
    X.set(images.subarray(nines[offset + i]! * 784, (nines[offset + i]! + 1) * 784), (2 * i + 1) * 784);
    y[2 * i + 1] = 1;
  }
  return { X: tensor(X, [2 * k, 784]), y: tensor(y, [2 * k]) };
}

/** A layer's weight leaf (`w` for a convolution, `W` for a dense layer). */
const weightOf = (p: SequentialParams[number]): Tensor => ('w' in p ? p.w : p.W);

/** Row i of a tensor's first axis, without the axis. */
function row(x: Tensor, i: number): Tensor {
  const size = x.size / x.shape[0]!;
  return tensor(values(x).slice(i * size, (i + 1) * size), x.shape.slice(1));
}

describe('lenet: the L2RW paper’s network', () => {
  const net = lenet();
  const params = net.init(0);

  it('has the paper’s layers and shapes: 28 → 14 → 7 → 4, 1024 → 100 → 1', () => {
    expect(net.layers).toBe(LENET_LAYERS);
    expect(net.shapes.filter((_, i) => LENET_LAYERS[i]!.kind === 'maxPool')).toEqual([[16, 14, 14], [32, 7, 7], [64, 4, 4]]);
    expect(net.outputShape).toEqual([1]);
    const shapes = params.map((p) => [weightOf(p).shape, p.b!.shape]);
    expect(shapes).toEqual([
      [[16, 1, 5, 5], [16]], [[32, 16, 5, 5], [32]], [[64, 32, 5, 5], [64]], [[100, 1024], [100]], [[1, 100], [1]],
    ]);
    expect(new Objective({ params, loss: sequentialLoss(net), X: zeros([1, 784]), Y: zeros([1]), l2: 0 }).dim).toBe(167113);
  });

  it('initialises weights from a normal truncated at 2σ (σ = 0.1) and biases at 0, by seed', () => {
    const w = values(weightOf(params[3]!));
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.2);
    // The standard deviation of N(0, 1) truncated to [−2, 2] is 0.8796; 102,400 draws pin it to ±1%.
    const sd = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(sd).toBeGreaterThan(0.0871);
    expect(sd).toBeLessThan(0.0889);
    for (const p of params) expect(values(p.b!).every((v) => v === 0)).toBe(true);
    expectClose(weightOf(net.init(0)[0]!), weightOf(params[0]!), { rtol: 0, atol: 0 });
    expect(values(weightOf(net.init(1)[0]!))).not.toEqual(values(weightOf(params[0]!)));
  });

  it('per-example gradients by vmap(grad) equal a loop of grad, leaf by leaf', () => {
    const { X, y } = foursAndNines(1);
    const loss = sequentialLoss(net);
    const one = (p: SequentialParams, x: Tensor, t: Tensor) => sum(loss(p, expandDims(x, 0), expandDims(t, 0)));
    const per = vmap(grad(one), [null, 0, 0])(params, X, y) as SequentialParams;
    for (let i = 0; i < 2; i++) {
      const g = grad(one)(params, row(X, i), row(y, i)) as SequentialParams;
      g.forEach((layer, l) => {
        const batched = per[l] as Record<string, Tensor>;
        for (const [key, leaf] of Object.entries(layer as Record<string, Tensor>)) {
          expectClose(row(batched[key]!, i), leaf, { rtol: 1e-10, atol: 1e-13, what: `example ${i}, layer ${l}, ${key}` });
        }
      });
    }
  });

  it('one SGD step lowers the mean loss on a batch of real MNIST 4s and 9s', () => {
    const { X, y } = foursAndNines(8);
    const loss = sequentialLoss(net);
    const R = (p: SequentialParams) => mean(loss(p, X, y));
    const [before, g] = valueAndGrad(R)(params) as [Tensor, SequentialParams];
    const after = R(sgdStep(params, g, 0.05)).item();
    expect(after).toBeLessThan(before.item() - 1e-3);
  });

  it('works with L2RW’s model-agnostic meta-gradients: autodiff look-ahead = −α ∇ℓᵛ·∇ℓᵢ by vmap = forward mode', () => {
    const small = sequential([
      { kind: 'conv', out: 2, size: 3, padding: 'same' }, { kind: 'maxPool', size: 3, stride: 2, padding: 'same' }, { kind: 'relu' },
      { kind: 'flatten' }, { kind: 'dense', out: 1 },
    ], [1, 6, 6]);
    const p = small.init(3, { std: 0.5 });
    const train = { X: seededTensor([4, 36], 1), y: tensor([0, 1, 1, 0]) };
    const val = { X: seededTensor([2, 36], 2), y: tensor([1, 0]) };
    const loss = sequentialLoss(small);
    const a = metaGradientAutodiff(loss, p, train, val, 0.1);
    const c = metaGradientPerExample(loss, p, train, val, 0.1);
    expectClose(a, c, { rtol: 1e-9, atol: 1e-13, what: 'L2RW meta-gradient, two routes' });
    // Forward mode through conv, max-pool (ties split equally in both modes) and relu: the same
    // products as the other routes summed in another order, so float64 rounding only.
    expectClose(metaGradientForward(loss, p, train, val, 0.1), a, { rtol: 1e-9, atol: 1e-13, what: 'L2RW meta-gradient, forward route' });
  });
});

describe('a CNN in the reweighting loop', () => {
  it('trainWeighted runs L2RW on a CNN with momentum SGD: weights are a distribution, the objective falls', () => {
    const net = sequential([
      { kind: 'conv', out: 2, size: 3, padding: 'same' }, { kind: 'maxPool', size: 3, stride: 2, padding: 'same' }, { kind: 'relu' },
      { kind: 'flatten' }, { kind: 'dense', out: 1 },
    ], [1, 6, 6]);
    const loss = sequentialLoss(net);
    // Class 1 has a bright top half, class 0 a bright bottom half; a little seeded noise.
    const n = 16;
    const X = new Float64Array(n * 36);
    const y = new Float64Array(n);
    const noise = values(seededTensor([n * 36], 11, -0.2, 0.2));
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      for (let k = 0; k < 36; k++) X[i * 36 + k] = ((k < 18) === (i % 2 === 1) ? 1 : 0) + noise[i * 36 + k]!;
    }
    const data = { X, y, n, d: 36 };
    const val = { X: tensor(X.slice(0, 4 * 36), [4, 36]), y: tensor(y.slice(0, 4), [4]) };
    const { objective, history } = trainWeighted({
      params: net.init(0, { std: 0.3 }), loss, data, steps: 12, batchSize: 8, record: true,
      optimizer: momentum({ lr: 0.3 }),
      weighting: l2rw<SequentialParams>((p, b) => metaGradientPerExample(loss, p, b, val, 0.3)),
    });
    for (const { weights } of history) {
      expect(weights.every((w) => w >= 0)).toBe(true);
      const total = weights.reduce((a, b) => a + b, 0);
      expect(total === 0 || Math.abs(total - 1) < 1e-12).toBe(true);
    }
    expect(objective[objective.length - 1]!).toBeLessThan(objective[0]!);
  });
});

describe('sequential: a small generic CNN', () => {
  const layers = [
    { kind: 'conv', out: 3, size: [3, 2], stride: [1, 2], padding: 1, bias: false },
    { kind: 'tanh' },
    { kind: 'avgPool', size: 2, padding: 'same' },
    { kind: 'conv', out: 2, size: 2 },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', out: 4 },
    { kind: 'tanh' },
    { kind: 'dense', out: 2, bias: false },
  ] as const;
  const net = sequential(layers, [2, 7, 8]);

  it('matches the same network written by hand with the ops, on [n, C, H, W] or flat rows', () => {
    const params = net.init(5, { std: 'he' });
    expect(params.map((p) => Object.keys(p))).toEqual([['w'], ['w', 'b'], ['W', 'b'], ['W']]);
    const X = seededTensor([3, 2, 7, 8], 9);
    const [c1, c2, d1, d2] = params as [{ w: Tensor }, { w: Tensor; b: Tensor }, { W: Tensor; b: Tensor }, { W: Tensor }];
    let h = tanh(conv2d(X, c1.w, { stride: [1, 2], padding: 1 }));
    h = avgPool2d(h, { size: 2, padding: 'same' });
    h = relu(addChannelBias(conv2d(h, c2.w), c2.b));
    h = reshape(h, [3, -1]);
    const want = gemm(tanh(add(gemm(h, d1.W, false, true), d1.b)), d2.W, false, true);
    expectClose(net.forward(params, X), want, { rtol: 0, atol: 0 });
    expectClose(net.forward(params, reshape(X, [3, 112])), want, { rtol: 0, atol: 0 });
    expect(net.shapes).toEqual([[3, 7, 5], [3, 7, 5], [3, 4, 3], [2, 3, 2], [2, 3, 2], [12], [4], [4], [2]]);
  });

  it('differentiates through the flat-parameter Objective: gradient and both HVP routes', () => {
    const params = net.init(1, { std: 'he' });
    const X = seededTensor([5, 2, 7, 8], 3);
    const Y = tensor([0, 1, 1, 0, 1]);
    const loss = sequentialLoss(net, (z, t) => mul(sum(mul(z, z), 1), add(t, 1)));
    const obj = new Objective({ params, loss, X, Y, l2: 0.01 });
    const theta = obj.layout.flatten(params);
    const v = values(seededTensor([obj.dim], 4));
    const h = 1e-5;
    const gMinus = obj.gradient(theta.map((t, j) => t - h * v[j]!));
    const fd = obj.gradient(theta.map((t, i) => t + h * v[i]!)).map((gp, i) => (gp - gMinus[i]!) / (2 * h));
    expectClose(obj.hvp(theta, v), fd, { rtol: 1e-5, atol: 1e-6, what: 'Objective HVP vs FD of its gradient' });
  });

  it('rejects inputs and params that do not fit, naming the layer', () => {
    expect(() => sequential([{ kind: 'dense', out: 2 }], [1, 4, 4])).toThrow(/layer 0 \(dense\).*flatten/);
    expect(() => sequential([{ kind: 'conv', out: 2, size: 5 }], [1, 4, 4])).toThrow(/layer 0 \(conv\)/);
    expect(() => net.forward(net.init(0), zeros([2, 10]))).toThrow(/\[n, 2, 7, 8\] or \[n, 112\]/);
    expect(() => net.forward(net.init(0).slice(0, 2), zeros([1, 112]))).toThrow(/only 2 entries/);
  });
});

describe('forwardInChunks', () => {
  it('gives the outputs of one forward pass over all rows, in order, whatever the chunk size', () => {
    const net = sequential([{ kind: 'conv', out: 2, size: 3, padding: 'same' }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', out: 3 }], [1, 4, 4]);
    const params = net.init(1, { std: 'he' });
    const n = 23;
    const rows = Float64Array.from({ length: n * 16 }, (_, i) => Math.sin(0.7 * i));
    const whole = net.forward(params, tensor(rows, [n, 16])).toFloat64Array();
    for (const chunk of [1, 5, 23, 100]) {
      const got = forwardInChunks(net.forward, params, rows, n, chunk);
      expect(got.length).toBe(n * 3);
      // Each row's output is computed by the same per-row arithmetic; only which matmul route a
      // product of a given size takes may change the rounding of its sums.
      for (let i = 0; i < whole.length; i++) expect(Math.abs(got[i]! - whole[i]!)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(whole[i]!)));
    }
    expect(forwardInChunks(net.forward, params, new Float64Array(0), 0)).toEqual(new Float64Array(0));
  });
});
