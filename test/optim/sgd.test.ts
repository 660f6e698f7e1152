/**
 * Optimisers against their recurrences computed by hand on plain numbers, the W/w-only weight
 * decay convention, and differentiability of a step (what the L2RW look-ahead relies on).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, grad, mul, sum, tensor } from '../../src/index.ts';
import { adam, l2Mask, l2Penalty, momentum, sgd, sgdStep } from '../../src/optim/sgd.ts';

const arbGrads = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 1, maxLength: 8 });
const run = (opt: ReturnType<typeof sgd> | ReturnType<typeof momentum> | ReturnType<typeof adam>, w0: number, b0: number, gs: number[]) => {
  let params = { w: tensor([w0]), b: tensor([b0]) };
  let state = opt.init(params);
  for (const g of gs) ({ params, state } = (opt as any).update(params, { w: tensor([g]), b: tensor([g]) }, state));
  return [params.w.item(), params.b.item()];
};

describe('optimisers', () => {
  it('SGD with weight decay: w ← w − α(g + λw), b ← b − αg', () => {
    fc.assert(
      fc.property(arbGrads, fc.double({ min: 0, max: 0.5, noNaN: true }), (gs, lambda) => {
        let w = 1;
        let b = -1;
        for (const g of gs) {
          w -= 0.1 * (g + lambda * w);
          b -= 0.1 * g;
        }
        const [w1, b1] = run(sgd({ lr: 0.1, weightDecay: lambda }), 1, -1, gs);
        expect(w1).toBeCloseTo(w, 12);
        expect(b1).toBeCloseTo(b, 12);
      }),
    );
  });

  it('momentum (heavy ball and Nesterov): v ← βv + g, step along v or g + βv', () => {
    fc.assert(
      fc.property(arbGrads, fc.double({ min: 0, max: 0.99, noNaN: true }), fc.boolean(), (gs, beta, nesterov) => {
        let w = 0.5;
        let v = 0;
        for (const g of gs) {
          v = beta * v + g;
          w -= 0.05 * (nesterov ? g + beta * v : v);
        }
        expect(run(momentum({ lr: 0.05, beta, nesterov }), 0.5, 0, gs)[0]).toBeCloseTo(w, 12);
      }),
    );
  });

  it('Adam: bias-corrected moments', () => {
    fc.assert(
      fc.property(arbGrads, (gs) => {
        let w = 2;
        let m = 0;
        let v = 0;
        gs.forEach((g, k) => {
          const t = k + 1;
          m = 0.9 * m + 0.1 * g;
          v = 0.999 * v + 0.001 * g * g;
          w -= (0.01 * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
        });
        expect(run(adam({ lr: 0.01 }), 2, 0, gs)[0]).toBeCloseTo(w, 12);
      }),
    );
  });

  it('regularises exactly the leaves under W/w; l2Penalty’s gradient is λw on them and 0 elsewhere', () => {
    const tree = [{ W: tensor([[1, 2]]), b: tensor([3]) }, { w: tensor([4]), other: tensor([5]) }];
    expect(l2Mask(tree)).toEqual([true, false, true, false]);
    expect(l2Penalty(tree, 0.5).item()).toBeCloseTo(0.25 * (1 + 4 + 16), 14);
    const g = grad((t: typeof tree) => l2Penalty(t, 0.5))(tree);
    expect(g[0].W.toArray()).toEqual([[0.5, 1]]);
    expect(g[0].b.toArray()).toEqual([0]);
    expect(g[1].w.toArray()).toEqual([2]);
  });

  it('a step is differentiable: d/dα of f(θ − α∇f(θ)) = −∇f(θ − α∇f)·∇f(θ)', () => {
    const f = (p: { w: Tensor }) => sum(mul(mul(p.w, p.w), p.w));
    const theta = { w: tensor([0.5, -0.3]) };
    const g = grad(f)(theta) as { w: Tensor };
    const d = grad((a: Tensor) => f(sgdStep(theta, g, a)))(tensor(0.1)).item();
    const ahead = sgdStep(theta, g, 0.1);
    const ga = (grad(f)(ahead) as { w: Tensor }).w.toFloat64Array();
    const g0 = g.w.toFloat64Array();
    expect(d).toBeCloseTo(-(ga[0]! * g0[0]! + ga[1]! * g0[1]!), 13);
  });
});
