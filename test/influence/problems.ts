/**
 * Random convex problems shared by the influence tests: Gaussian features, labels from a noisy
 * linear rule (logistic or linear), drawn from a seeded Rng so a fast-check seed reproduces a case.
 */
import { Rng } from '../../src/core/rng.ts';
import { type Dataset, type LinearModelKind, linearObjective } from '../../src/influence/index.ts';

/** n rows, d features, labels for the kind (softmax: 3 classes). */
export function randomData(kind: LinearModelKind, n: number, d: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const X = Float64Array.from({ length: n * d }, () => rng.normal());
  const w = Float64Array.from({ length: d }, () => rng.normal());
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = 0.3;
    for (let j = 0; j < d; j++) z += w[j]! * X[i * d + j]!;
    if (kind === 'linreg') y[i] = z + 0.5 * rng.normal();
    else if (kind === 'logreg') y[i] = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    else y[i] = z + rng.normal() < -0.5 ? 0 : z + rng.normal() < 0.5 ? 1 : 2;
  }
  return { X, y, n, d };
}

/** The objective of a random problem. */
export function randomObjective(kind: LinearModelKind, n: number, d: number, l2: number, seed: number) {
  return linearObjective(kind, randomData(kind, n, d, seed), l2, kind === 'softmax' ? { classes: 3 } : {});
}
