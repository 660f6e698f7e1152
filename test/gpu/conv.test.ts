/**
 * Convolutions and pooling on the gpu backend. Convolution is a family of primitives
 * (src/prims/conv.ts) whose fast CPU kernel packs windows straight into the GEMM; a backend
 * without that kernel, like gpu.js, runs the composite of src/backend/conv-composed.ts (pad, take,
 * transpose, matmul, scatterAdd, slice) on its existing kernels, and pooling is a composite of
 * src/ops/conv.ts. These checks show the results, their gradients, an HVP and per-example
 * gradients agree with the float64 CPU oracle to float32 accuracy.
 *
 * Tolerance (as test/gpu/engine.test.ts): float32 ε ≈ 6e-8; the longest dot product here has
 * 5·5·4 = 100 terms inside a chain of a few dozen primitives, so errors stay near 1e-5 relative;
 * rtol 1e-4 with atol 1e-5 is far above rounding and far below any wrong rule (which errs at O(1)).
 */
import { afterEach, describe, it } from 'vitest';
import { type Tensor, grad, hvp, mul, relu, setBackend, sum, vmap } from '../../src/index.ts';
import { addChannelBias, avgPool2d, conv2d, maxPool2d } from '../../src/ops/conv.ts';
import { sequential, sequentialLoss } from '../../src/nn/cnn.ts';
import { seededTensor } from '../helpers.ts';
import { compareOnGpu } from './compare.ts';

afterEach(() => setBackend('cpu'));


const X = () => seededTensor([3, 4, 9, 8], 1);
const W = () => seededTensor([5, 4, 5, 5], 2, -0.3, 0.3);
const B = () => seededTensor([5], 3);
const block = (x: Tensor, w: Tensor, b: Tensor) =>
  maxPool2d(relu(addChannelBias(conv2d(x, w, { padding: 'same' }), b)), { size: 3, stride: 2, padding: 'same' });

describe.each(['cpu', 'webasm'] as const)('convolutions on the gpu backend, gpu.js mode %s', (mode) => {
  it('conv2d (same, strided, padded), max and average pooling, forward', () => {
    compareOnGpu(mode, 'conv2d', () => [
      conv2d(X(), W(), { padding: 'same' }),
      conv2d(X(), W(), { stride: 2, padding: [2, 1] }),
      maxPool2d(X(), { size: 3, stride: 2, padding: 'same' }),
      avgPool2d(X(), { size: 3, stride: 2, padding: 1 }),
      block(X(), W(), B()),
    ]);
  });

  it('gradients, an HVP through conv and max pooling, and per-example gradients by vmap', () => {
    const u = () => seededTensor([3, 5, 5, 4], 4);
    const loss = (x: Tensor, w: Tensor, b: Tensor) => sum(mul(block(x, w, b), u()));
    compareOnGpu(mode, 'grad', () => grad(loss, { argnums: [0, 1, 2] })(X(), W(), B()) as Tensor[]);
    compareOnGpu(mode, 'hvp', () => hvp((w: Tensor) => { const y = block(X(), w, B()); return sum(mul(y, y)); }, W(), seededTensor([5, 4, 5, 5], 5)));
    const net = sequential([
      { kind: 'conv', out: 3, size: 3, padding: 'same' }, { kind: 'maxPool', size: 2 }, { kind: 'relu' },
      { kind: 'flatten' }, { kind: 'dense', out: 1 },
    ], [1, 6, 6]);
    const nll = sequentialLoss(net);
    const params = () => net.init(0, { std: 0.5 });
    compareOnGpu(mode, 'per-example grads', () => {
      // Each example is one flat row [1, 36] with its label [1].
      const per = vmap(
        grad((p: ReturnType<typeof params>, x: Tensor, y: Tensor) => sum(nll(p, x, y))),
        [null, 0, 0],
      )(params(), seededTensor([4, 1, 36], 6), seededTensor([4, 1], 7, 0, 1)) as { w?: Tensor; W?: Tensor; b?: Tensor }[];
      return per.flatMap((layer) => Object.values(layer) as Tensor[]);
    });
  });
});
