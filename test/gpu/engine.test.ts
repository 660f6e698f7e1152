/**
 * The engine on the gpu backend: every transformation runs unchanged (its rules are primitives),
 * and results agree with the float64 CPU oracle to float32 accuracy. gpu.js modes available in
 * Node are `cpu` and `webasm`; the browser suite (test/gpu/browser) covers `webgl2` and `webgpu`.
 *
 * Tolerance: float32 has ε ≈ 6e-8; the longest accumulation here is a 48-term dot product inside a
 * chain of at most ~30 primitives, so errors stay below ~1e-5 relative. We use rtol 1e-4 with a
 * matching atol: far above rounding, far below any wrong rule (which errs at O(1)).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Tensor,
  add, bceWithLogits, concat, dispose, exp, grad, hessian, hvp, jvp, log, matmul, max, mean, mul, pad, relu,
  setBackend, sigmoid, slice, softmaxCrossEntropy, softplus, sqrt, sub, sum, take, tanh, tensor, tidy, transpose,
  vmap, where, greater, abs, pow, maximum, div, logSumExp, reshape,
} from '../../src/index.ts';
import { GpuStorage } from '../../src/backend/gpu.ts';
import { seededTensor } from '../helpers.ts';
import { compareOnGpu } from './compare.ts';

afterEach(() => setBackend('cpu'));


const X = () => seededTensor([12, 4], 1);
const Y = () => tensor(Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 1 : 0)));
const W = () => seededTensor([4], 2);
const V = () => seededTensor([4], 3);
const logistic = (w: Tensor) => add(mean(bceWithLogits(matmul(X(), w), Y())), mul(0.05, sum(mul(w, w))));
const mlp = (p: { W1: Tensor; W2: Tensor }) => mean(softplus(matmul(tanh(matmul(X(), p.W1)), p.W2)));

describe.each(['cpu', 'webasm'] as const)('gpu backend, gpu.js mode %s', (mode) => {
  it('every primitive family forward', () => {
    const a = () => seededTensor([3, 4], 4, 0.2, 2);
    const b = () => seededTensor([3, 4], 5, -1, 1);
    compareOnGpu(mode, 'unary', () => [exp(b()), log(a()), sqrt(a()), tanh(b()), sigmoid(b()), abs(b()), softplus(b())]);
    compareOnGpu(mode, 'binary', () => [add(a(), b()), sub(a(), 1), mul(a(), b()), div(b(), a()), pow(a(), 2), maximum(a(), b())]);
    compareOnGpu(mode, 'select/compare', () => [where(greater(b(), 0), a(), b()), relu(b())]);
    compareOnGpu(mode, 'reductions', () => [sum(a(), 0), sum(a()), max(b(), 1), mean(a(), [0, 1]), logSumExp(b(), 1)]);
    compareOnGpu(mode, 'layout', () => [transpose(a()), slice(a(), [1, 1], [2, 2]), pad(a(), [[1, 0], [0, 2]]), concat([a(), b()], 1), take(a(), [2, 0, 2], 0)]);
    compareOnGpu(mode, 'matmul', () => [matmul(a(), transpose(b())), matmul(a(), seededTensor([4], 6)), matmul(seededTensor([2, 3, 4], 7), seededTensor([2, 4, 5], 8))]);
    compareOnGpu(mode, 'losses', () => [softmaxCrossEntropy(b(), tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]))]);
  });
  it('grad, both HVP modes, hessian, jvp and vmap(grad) agree with the CPU', () => {
    compareOnGpu(mode, 'grad', () => grad(logistic)(W()) as Tensor);
    compareOnGpu(mode, 'hvp fwd-rev', () => hvp(logistic, W(), V()));
    compareOnGpu(mode, 'hvp rev-rev', () => hvp(logistic, W(), V(), { mode: 'rev-rev' }));
    compareOnGpu(mode, 'hessian', () => hessian(logistic)(W()));
    compareOnGpu(mode, 'jvp', () => jvp(logistic, [W()], [V()])[1]);
    compareOnGpu(mode, 'per-sample grads', () =>
      vmap(grad((w: Tensor, x: Tensor, y: Tensor) => bceWithLogits(matmul(x, w), y)), [null, 0, 0])(W(), X(), Y()) as Tensor,
    );
    // take's transpose with a 2-D index (the gpu.js scatter kernel takes one index axis: the
    // primitive collapses the index axes first) and with an empty index.
    compareOnGpu(mode, 'grad of take, 2-D and empty indices', () => [
      grad((z: Tensor) => sum(take(z, tensor([[0, 2], [2, 2]]), 1)))(seededTensor([3, 4], 21)) as Tensor,
      grad((z: Tensor) => sum(take(z, tensor([], [0]), 0)))(seededTensor([3, 4], 22)) as Tensor,
    ]);
    compareOnGpu(mode, 'MLP grad and HVP', () => {
      const p = { W1: seededTensor([4, 6], 9), W2: seededTensor([6], 10) };
      const g = grad(mlp)(p) as { W1: Tensor; W2: Tensor };
      const h = hvp(mlp, p, { W1: seededTensor([4, 6], 11), W2: seededTensor([6], 12) });
      return [g.W1, g.W2, h.W1, h.W2];
    });
  });
});

describe('deterministic release on the gpu backend', () => {
  it('10,000 training steps under tidy keep the number of live device storages flat', () => {
    setBackend('gpu', { mode: 'webasm' });
    const Xg = X();
    const Yg = Y();
    const loss = (p: { w: Tensor; b: Tensor }) =>
      add(mean(bceWithLogits(add(matmul(Xg, p.w), p.b), Yg)), mul(0.005, sum(mul(p.w, p.w))));
    let params: { w: Tensor; b: Tensor } = { w: W(), b: tensor(0) };
    let liveAfterFirst = 0;
    for (let i = 1; i <= 10_000; i++) {
      const next = tidy(() => {
        const g = grad(loss)(params) as { w: Tensor; b: Tensor };
        return { w: sub(params.w, mul(0.1, g.w)), b: sub(params.b, mul(0.1, g.b)) };
      });
      dispose(params);
      params = next;
      if (i === 1) liveAfterFirst = GpuStorage.live;
    }
    // Exactly the same storages are alive after step 1 and after step 10,000: X, y and the params.
    expect(GpuStorage.live).toBe(liveAfterFirst);
    expect(Number.isFinite(params.b.item())).toBe(true);
    // Without tidy, the same loop leaves every intermediate alive.
    const before = GpuStorage.live;
    grad(loss)(params);
    expect(GpuStorage.live).toBeGreaterThan(before + 20);
  }, 120_000);

  it('tidy releases only storages born inside it: a reshape of an older tensor leaves that tensor alive', () => {
    setBackend('gpu', { mode: 'webasm' });
    const p = tensor([1, 2, 3, 4]);
    const before = GpuStorage.live;
    // The reshape shares p's storage; the sum's storage is born inside and not returned.
    const kept = tidy(() => {
      sum(reshape(p, [2, 2]));
      return reshape(mul(p, 2), [2, 2]);
    });
    expect(p.toArray()).toEqual([1, 2, 3, 4]);
    expect(kept.toArray()).toEqual([[2, 4], [6, 8]]);
    // Exactly one storage more than before: the kept product (the sum's was released).
    expect(GpuStorage.live).toBe(before + 1);
    // Nested: the inner result is handed to the outer scope, which releases it.
    tidy(() => {
      tidy(() => reshape(add(p, 1), [4]));
      return tensor(0);
    });
    expect(GpuStorage.live).toBe(before + 2);
    expect(p.toArray()).toEqual([1, 2, 3, 4]);
  });

  it('a released tensor cannot be read by mistake', () => {
    setBackend('gpu', { mode: 'webasm' });
    const t = tensor([1, 2]);
    dispose(t);
    expect(() => t.toFloat64Array()).toThrow(/after release/);
  });
});
