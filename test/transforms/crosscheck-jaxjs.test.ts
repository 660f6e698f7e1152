/**
 * Cross-check against an independent autodiff system: jax-js (npm `@jax-js/jax`, a TypeScript
 * port of JAX's autodidax), run inside the test on its wasm backend in float64.
 *
 * Tolerances follow what jax-js computes: its wasm float64 arithmetic (+, ×, matmul) is exact
 * float64, so on rational functions the two systems differ only by rounding order (1e-12). Its
 * transcendentals (exp, log, tanh) go through float32 routines (measured relative error up to
 * ~2e-5, see bench/peers/jaxjs.ts), so functions using them are compared at 1e-4 relative: loose
 * enough for float32 rounding, far tighter than any wrong rule (which errs at O(1)).
 */
import { beforeAll, describe, it } from 'vitest';
import {
  type Tensor, add, div, grad, hessian, hvp, jvp, matmul, mean, mul, softplus, sub, sum, tanh, tensor,
} from '../../src/index.ts';
import { loadJaxJs } from '../../bench/peers/jaxjs.ts';
import { expectClose, seededTensor } from '../helpers.ts';

type Jax = Awaited<ReturnType<typeof loadJaxJs>>;
let jax: Jax;
beforeAll(async () => {
  jax = await loadJaxJs();
}, 60_000);

/** A float64 jax-js array with the data of an unequal tensor. */
const J = (t: Tensor) => jax.numpy.array(t.toFloat64Array()).reshape([...t.shape]);
const read = (a: { dataSync(): ArrayLike<number> }) => Float64Array.from(a.dataSync());

const W = seededTensor([4, 4], 21);
const x0 = seededTensor([4], 22);
const v0 = seededTensor([4], 23);

describe('unequal agrees with jax-js', () => {
  it('rational function: gradient, Hessian and forward-over-reverse HVP to 1e-12', () => {
    // f(x) = Σ x³ ⊙ (W x) / (1 + Σ x²)
    const ours = (x: Tensor) => div(sum(mul(mul(x, mul(x, x)), matmul(W, x))), add(1, sum(mul(x, x))));
    const np = jax.numpy;
    const theirs = (x: ReturnType<typeof J>) => {
      // x·x·x rather than np.power: jax-js computes power through float32 exp/log.
      const cube = np.multiply(np.multiply(x.ref, x.ref), x.ref);
      const num = np.multiply(cube, np.matmul(J(W), x.ref)).sum();
      return np.divide(num, np.add(np.square(x).sum(), 1));
    };
    expectClose(grad(ours)(x0) as Tensor, read(jax.grad(theirs)(J(x0))), { rtol: 1e-12, atol: 1e-13, what: 'gradient' });
    expectClose(hessian(ours)(x0), read(jax.hessian(theirs)(J(x0))), { rtol: 1e-12, atol: 1e-13, what: 'Hessian' });
    const [, theirHvp] = jax.jvp(jax.grad(theirs), [J(x0)], [J(v0)]);
    expectClose(hvp(ours, x0, v0), read(theirHvp), { rtol: 1e-12, atol: 1e-13, what: 'HVP' });
  });

  it('third derivative of tanh by nested grad, to jax-js float32-transcendental accuracy', () => {
    const d3 = (f: (x: Tensor) => Tensor) => grad((a: Tensor) => grad((b: Tensor) => grad(f)(b) as Tensor)(a) as Tensor);
    const np = jax.numpy;
    const theirs = jax.grad(jax.grad(jax.grad((x: ReturnType<typeof J>) => np.tanh(x))));
    for (const x of [-1.3, 0, 0.4, 2]) {
      expectClose(d3(tanh)(tensor(x)) as Tensor, read(theirs(np.array(new Float64Array([x])).reshape([]))), { rtol: 1e-4, atol: 1e-6, what: `tanh''' at ${x}` });
    }
  });

  it('L2-regularised logistic loss: gradient and HVP', () => {
    const X = seededTensor([12, 4], 24);
    const y = tensor(Array.from({ length: 12 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0));
    const lam = 0.1;
    const ours = (w: Tensor) => add(mean(sub(softplus(matmul(X, w)), mul(y, matmul(X, w)))), mul(lam / 2, sum(mul(w, w))));
    const np = jax.numpy;
    const theirs = (w: ReturnType<typeof J>) => {
      const z = np.matmul(J(X), w.ref);
      const losses = np.subtract(jax.nn.softplus(z.ref), np.multiply(J(y), z));
      return np.add(np.multiply(losses.sum(), np.array(new Float64Array([1 / 12])).reshape([])), np.multiply(np.square(w).sum(), np.array(new Float64Array([lam / 2])).reshape([])));
    };
    expectClose(grad(ours)(x0) as Tensor, read(jax.grad(theirs)(J(x0))), { rtol: 1e-4, atol: 1e-6, what: 'gradient' });
    const [, theirHvp] = jax.jvp(jax.grad(theirs), [J(x0)], [J(v0)]);
    expectClose(hvp(ours, x0, v0), read(theirHvp), { rtol: 1e-4, atol: 1e-6, what: 'HVP' });
    expectClose(jvp(ours, [x0], [v0])[1], read(jax.jvp(theirs, [J(x0)], [J(v0)])[1]), { rtol: 1e-4, atol: 1e-6, what: 'JVP' });
  });
});
