/**
 * exactLoo with a vector-valued f: one retraining per row gives every entry's change, equal to
 * running it once per entry with a scalar f (the same retrainings, so the same numbers exactly:
 * each entry is the same loss evaluated at the same θ̂₋ᵢ).
 */
import { describe, expect, it } from 'vitest';
import { exactLoo, totalLoss } from '../../src/index.ts';
import { newton } from '../../src/optim/newton.ts';
import { randomData, randomObjective } from './problems.ts';
import { fromFloat64 } from '../../src/core/create.ts';
import { linearModel } from '../../src/nn/linear-models.ts';

describe('exactLoo over several test points', () => {
  it('equals one scalar exactLoo per test point, entry for entry', () => {
    const obj = randomObjective('logreg', 30, 3, 0.1, 5);
    const { theta } = newton(obj);
    const test = randomData('logreg', 4, 3, 6);
    const model = linearModel('logreg', 3);
    const X = fromFloat64(test.X, [4, 3]);
    const Y = model.targets(test.y);
    const rows = [0, 3, 11, 29];
    const all = exactLoo(obj, theta, rows, (params) => obj.spec.loss(params, X, Y));
    expect(all.outputs).toBe(4);
    expect(all.changes).toHaveLength(rows.length * 4);
    for (let t = 0; t < 4; t++) {
      const one = exactLoo(obj, theta, rows, totalLoss(obj.spec.loss, X, Y, [t]));
      expect(one.outputs).toBe(1);
      expect(all.baseValues[t]).toBe(one.base);
      rows.forEach((_, k) => expect(all.changes[k * 4 + t]).toBe(one.changes[k]));
    }
    expect(all.base).toBeCloseTo(Array.from(all.baseValues).reduce((a, b) => a + b), 14);
  });
});
