/**
 * Memory: tensors are garbage-collected objects and tapes live only as long as their pullbacks, so a
 * long training loop must not grow the heap. We run 10,000 gradient steps of a small logistic
 * regression and compare the heap after a full GC at step 1,000 and at step 10,000.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { type Tensor, add, bceWithLogits, grad, matmul, mean, mul, randomNormal, sub, sum, tensor } from '../../src/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

it('10,000 training steps do not grow the heap', () => {
  const X = randomNormal([64, 8], 1);
  const y = tensor(Array.from({ length: 64 }, (_, i) => i % 2));
  const loss = (p: { w: Tensor; b: Tensor }) =>
    add(mean(bceWithLogits(add(matmul(X, p.w), p.b), y)), mul(0.005, sum(mul(p.w, p.w))));
  const step = grad(loss);
  let params: { w: Tensor; b: Tensor } = { w: randomNormal([8], 2, 0, 0.1), b: tensor(0) };
  let baseline = 0;
  for (let i = 1; i <= 10_000; i++) {
    const g = step(params) as { w: Tensor; b: Tensor };
    params = { w: sub(params.w, mul(0.1, g.w)), b: sub(params.b, mul(0.1, g.b)) };
    if (i === 1_000) baseline = heapAfterGc();
  }
  const growth = heapAfterGc() - baseline;
  // A leak of even one small tensor per step would be 10⁴ × ~100 bytes ≈ 1 MB; a leaked tape per
  // step far more. 4 MB leaves room for V8's own heap noise (code caches, feedback vectors).
  expect(growth).toBeLessThan(4 * 1024 * 1024);
  expect(Number.isFinite(params.b.item())).toBe(true);
}, 120_000);
