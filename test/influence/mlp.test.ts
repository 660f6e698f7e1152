/**
 * The generic API on a non-convex model: a 2→4→1 tanh MLP (src/nn/mlp.ts) trained by L-BFGS to
 * ‖∇R‖ < 1e-10. At that minimum H is positive definite (checked), so removal effects predict
 * exact leave-one-out (retraining by Newton, which shifts H where the LOO objective's Hessian at
 * the warm start is indefinite); exact, CG and damped solves agree with their definitions.
 */
import { describe, expect, it } from 'vitest';
import { bceWithLogits, reshape, tensor, type Tensor } from '../../src/index.ts';
import { mlpForward, mlpInit, type MlpParams } from '../../src/nn/mlp.ts';
import { Objective, exactLoo, lbfgs, pearson, removalEffects, smallestEigenvalue, totalLoss } from '../../src/index.ts';
import { expectClose, maxAbs } from '../helpers.ts';
import { randomData } from './problems.ts';

describe('influence on an MLP', () => {
  it('predicts leave-one-out at a minimum; CG and damping behave as defined', () => {
    const n = 60;
    const d = 2;
    const data = randomData('logreg', n + 1, d, 3);
    const X = tensor(data.X.slice(0, n * d), [n, d]);
    const Y = tensor(data.y.slice(0, n), [n]);
    const loss = (p: MlpParams, Xb: Tensor, Yb: Tensor) => bceWithLogits(reshape(mlpForward(p, Xb, 'tanh'), [Xb.shape[0]!]), Yb);
    const init = mlpInit([d, 4, 1], 0, 'tanh');
    const obj = new Objective({ params: init, loss, X, Y, l2: 0.01 });
    const { theta, gradNorm } = lbfgs(obj, { theta0: obj.layout.flatten(init), maxIter: 5000 });
    expect(gradNorm).toBeLessThan(1e-10);
    expect(smallestEigenvalue(obj.hessian(theta), obj.dim)).toBeGreaterThan(0);
    const f = totalLoss(loss, tensor(data.X.slice(n * d), [1, d]), tensor(data.y.slice(n), [1]));
    const problem = { params: obj.params(theta), loss, X, Y, l2: 0.01 };
    const exact = removalEffects(problem, f, { solver: 'exact' }).effects;
    const cg = removalEffects(problem, f, { solver: 'cg' }).effects;
    expectClose(cg, exact, { rtol: 1e-6, atol: 1e-6 * maxAbs(exact), what: 'cg vs exact' });
    const rows = Array.from({ length: 20 }, (_, i) => i);
    const loo = exactLoo(obj, theta, rows, f);
    expect(Math.max(...loo.gradNorms)).toBeLessThan(1e-10);
    expect(pearson(rows.map((i) => exact[i]!), loo.changes)).toBeGreaterThan(0.95);
    // Damping changes the answer (to (H + δI)⁻¹), identically for both solvers.
    const dampedExact = removalEffects(problem, f, { solver: 'exact', damping: 0.05 }).effects;
    const dampedCg = removalEffects(problem, f, { solver: 'cg', damping: 0.05 }).effects;
    expectClose(dampedCg, dampedExact, { rtol: 1e-6, atol: 1e-6 * maxAbs(dampedExact), what: 'damped' });
    expect(maxAbs(dampedExact.map((v, i) => v - exact[i]!))).toBeGreaterThan(1e-3 * maxAbs(exact));
  });
});
