/**
 * The public API above the engine on the gpu backend (gpu.js `webasm`, float32) against the float64
 * CPU oracle: every numeric export that test/gpu/engine.test.ts does not already cover (that
 * file has the primitives, grad, both HVPs, hessian, jvp, vmap(grad) and a small MLP).
 *
 * Each check runs the same call twice, once on `setBackend('cpu')` and once on
 * `setBackend('gpu', { mode: 'webasm' })`, with inputs rebuilt on each backend, and compares.
 *
 * Tolerances (u = 2⁻²⁴ ≈ 6.0e-8, float32's unit roundoff):
 *
 * - An elementwise op is good to a few u; a sum or dot product of n terms to n·u relative to the
 *   sum of the terms' magnitudes in the worst case (√n·u typically). Errors are therefore relative
 *   to the operands' scale, not to a result that happens to cancel to ~0, so every comparison uses
 *   atol = rtol·max|expected| next to rtol.
 * - `OPS` (64u ≈ 3.8e-6): ops and transformations on inputs of ≤ 24 elements: a ≤ 24-term sum
 *   (24u) plus the handful of roundings of the surrounding chain (≲ 10u), with 2× to spare.
 * - `sumTol(n)` = 4·n·u: a model quantity over n training rows (R, ∇R, an HVP, per-example losses):
 *   the n-term reduction (n·u) and the loss chain and regulariser around it, ×4 (n = 120: 2.9e-5;
 *   measured errors are ~3e-7).
 * - A linear solve multiplies the relative error of its right-hand side and of H by κ(H). Every
 *   problem here is L2-regularised so that κ(H) is modest (it is computed from the float64 Hessian
 *   and asserted below 100 in `conditioned`), and influence-type results use (κ + 2)·sumTol(n).
 * - Optimiser output is checked against its own certificate: ‖θ_gpu − θ*‖ ≤ 2‖∇R₆₄(θ_gpu)‖ / λ_min(H)
 *   (strong convexity, a factor 2 for the curvature's change along the segment), with ∇R₆₄ the
 *   float64 gradient at the float32 answer, which must itself be below 2e-6: the float32 trainers
 *   stop at ‖∇R‖ < 1e-6 (`defaultGradTol`), and the float32 gradient they see is within ~2e-7 of
 *   the float64 one on these problems.
 *
 * What these comparisons find is what differs between the backends: float64 assumptions (a
 * tolerance float32 cannot reach), backends mixed up, float32 overflow in an unstable formula. Such
 * a difference errs at O(1) or throws, far above all of these bounds. Mistakes shared by both
 * backends are the float64 test files' business (finite differences, closed forms); where a check
 * here is absolute (the optimisers' certificate, minimizeLbfgs's known minimiser) it catches those too.
 *
 * Not run here: exports that never make a tensor (cholesky, choleskySolve, jacobiEigen,
 * smallestEigenvalue, pearson, topK, linearHessian, classesOf, Rng, l2Mask, ohemWeights,
 * classBalancedWeights, selfPacedThreshold, curriculumSize, predictedRemovalChange,
 * conjugateGradient / minimizeLbfgs on plain-array functions) compute in float64 whatever the
 * backend. The reweighting experiments (src/apps/experiments, not exported) are MNIST-sized runs of
 * runMethods, which runs here on a small problem.
 *
 * Run: npx vitest run test/gpu/api.test.ts (about 5 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import {
  type ConcreteTensor,
  type MlpParams,
  type Pytree,
  type Tensor,
  Influence,
  Objective,
  activate,
  adam,
  add,
  arange,
  arnoldi,
  asTensor,
  bceWithLogits,
  broadcastAll,
  broadcastTo,
  classBalanced,
  cos,
  curriculum,
  customVjp,
  dataDropoutSelect,
  dispose,
  dot,
  equal,
  exactLoo,
  exp,
  expandDims,
  eye,
  focal,
  fromNdarray,
  full,
  gatherRows,
  getBackend,
  grad,
  greaterEqual,
  inverseHvp,
  jacfwd,
  jacobiEigen,
  jacrev,
  l2Penalty,
  l2rw,
  l2rwWeights,
  lbfgs,
  less,
  lessEqual,
  linearModel,
  linearObjective,
  log1p,
  logSoftmax,
  logSumExp,
  lossesOf,
  matmul,
  max,
  mean,
  metaGradientAutodiff,
  metaGradientMlp,
  metaGradientPerExample,
  min,
  minimizeLbfgs,
  minimum,
  mlpDataDropout,
  mlpForward,
  mlpFromJson,
  mlpInit,
  mlpLayerwise,
  mlpLoss,
  mlpMetaGradient,
  mlpPerExampleGradients,
  mlpSignals,
  mlpToJson,
  momentum,
  mse,
  mul,
  neg,
  newton,
  notEqual,
  ohem,
  ones,
  outer,
  paramLayout,
  perExampleGradients,
  powerIteration,
  randomNormal,
  randomUniform,
  removalEffects,
  reshape,
  retrainWeighted,
  selfPaced,
  setBackend,
  setDebugNans,
  sgd,
  sgdStep,
  sigmoid,
  sign,
  sin,
  softmax,
  softmaxCrossEntropy,
  softplus,
  square,
  squaredError,
  squeeze,
  stack,
  stopGradient,
  sub,
  subset,
  sum,
  tanh,
  tensor,
  testError,
  tidy,
  toNdarray,
  totalLoss,
  trainWeighted,
  treeFlatten,
  treeMap,
  uniform,
  valueAndGrad,
  vdot,
  vjp,
  weightedObjective,
  withOnes,
  zeros,
} from '../../src/index.ts';
import type { Dataset, LinearModelKind } from '../../src/index.ts';
import { runMethods } from '../../src/apps/experiments/reweight-common.ts';
import { randomData } from '../influence/problems.ts';
import { expectClose, maxAbs, values } from '../helpers.ts';

afterEach(() => setBackend('cpu'));

const U = 2 ** -24;
const OPS = 64 * U;
const sumTol = (n: number) => 4 * n * U;

/**
 * Runs `make` on the CPU, then on the gpu backend in webasm mode, and always returns to the CPU.
 * Inputs must be built inside `make`, so that each run computes on its own backend.
 */
function onBoth<T>(make: () => T): { cpu: T; gpu: T } {
  setBackend('cpu');
  const cpu = make();
  setBackend('gpu', { mode: 'webasm' });
  try {
    expect(getBackend().precision).toBe('float32');
    return { cpu, gpu: make() };
  } finally {
    setBackend('cpu');
  }
}

/** |gpu − cpu| ≤ rtol·|cpu| + rtol·max|cpu| elementwise (see the module notes). NaN fails. */
function close(gpu: Tensor | ArrayLike<number> | number, cpu: Tensor | ArrayLike<number> | number, rtol: number, what: string): void {
  const want = values(cpu as Tensor);
  expectClose(values(gpu as Tensor), want, { rtol, atol: rtol * maxAbs(want), what });
}

/** Compares two lists of results pairwise. */
function closeAll(gpu: (Tensor | ArrayLike<number>)[], cpu: (Tensor | ArrayLike<number>)[], rtol: number, what: string): void {
  expect(gpu.length).toBe(cpu.length);
  gpu.forEach((g, i) => close(g, cpu[i]!, rtol, `${what} [${i}]`));
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
const diffNorm = (a: ArrayLike<number>, b: ArrayLike<number>) => norm(Array.from(a, (v, i) => v - b[i]!));

/** The (gauge-free) extreme eigenvalues of the float64 Hessian at θ, and κ = λ_max/λ_min, asserted modest. */
function conditioned<P extends Pytree>(obj: Objective<P>, theta: Float64Array, gauge = 0): { lambdaMin: number; lambdaMax: number; kappa: number } {
  const { values: ev } = jacobiEigen(obj.hessian(theta), obj.dim);
  const lambdaMax = ev[0]!;
  const lambdaMin = ev[ev.length - 1 - gauge]!; // a softmax gauge direction has eigenvalue 0: skip it
  const kappa = lambdaMax / lambdaMin;
  expect(kappa, 'cond(H) of the test problem').toBeLessThan(100);
  return { lambdaMin, lambdaMax, kappa };
}

/** θ with the softmax intercepts' common shift removed (R does not depend on it). */
function withoutGauge(theta: Float64Array, kind: LinearModelKind, d: number, K: number): Float64Array {
  if (kind !== 'softmax') return theta;
  const out = Float64Array.from(theta);
  let m = 0;
  for (let c = 0; c < K; c++) m += theta[K * d + c]! / K;
  for (let c = 0; c < K; c++) out[K * d + c] -= m;
  return out;
}

// Problems: n = 120 rows, d = 6 features (softmax: 3 classes), L2 λ = 0.1. At the optimum κ(H) is
// 1.9 (logreg), 2.0 (linreg) and 4.1 (softmax, off its gauge direction); `conditioned` recomputes
// it wherever a bound uses it and fails if it reaches 100.
const N = 120;
const D = 6;
const LAMBDA = 0.1;
const data: Record<LinearModelKind, Dataset> = {
  logreg: randomData('logreg', N, D, 11),
  linreg: randomData('linreg', N, D, 12),
  softmax: randomData('softmax', N, D, 13),
};
const classesOf = (kind: LinearModelKind) => (kind === 'softmax' ? 3 : 1);
const objectiveOf = (kind: LinearModelKind, weights?: Float64Array) =>
  linearObjective(kind, data[kind], LAMBDA, { classes: classesOf(kind), weights });

/** Per-example logistic loss on a `{ w, b }` pytree, for the generic (engine-HVP) objective. */
type LogregParams = { w: Tensor; b: Tensor };
const logregLoss = (p: LogregParams, X: Tensor, Y: Tensor) => bceWithLogits(add(matmul(X, p.w), p.b), Y);
/** The logistic objective with no fast routes: R, ∇R, HVPs and the Hessian all come from the engine. */
function genericLogreg(): Objective<LogregParams> {
  const { X, y, n, d } = data.logreg;
  return new Objective<LogregParams>({ params: { w: zeros([d]), b: zeros([]) }, loss: logregLoss, X: tensor(X, [n, d]), Y: tensor(y, [n]), l2: LAMBDA });
}

describe('ops not covered by the engine test', () => {
  it('arith, comparisons, reductions with options, shape ops, linalg helpers and creation agree to OPS', () => {
    const a = () => tensor([[1, -2, 3, 0.5], [0, -1, 2.5, -0.25], [4, 1, -3, 2]]);
    const b = () => tensor([[2, -2, -3, 0.5], [1, 1, 1, -1], [0, 2, -3, 3]]);
    const r = onBoth(() => {
      const out = [
        minimum(a(), b()), greaterEqual(a(), b()), less(a(), b()), lessEqual(a(), b()), equal(a(), b()), notEqual(a(), b()),
        neg(a()), sign(a()), square(a()), sin(a()), cos(a()), log1p(mul(a(), a())), stopGradient(a()),
        sum(a(), { axis: 1, keepdims: true }), mean(a(), 0, true), max(a(), [0, 1]), min(a(), 1), min(a()), logSumExp(a(), { axis: 0, keepdims: true }),
        stack([a(), b()], 1), expandDims(a(), 1), squeeze(expandDims(a(), 0)), broadcastTo(tensor([1, 2, 3, 4]), [3, 4]), reshape(a(), [2, -1]),
        dot(a(), tensor([1, -1, 2, 0.5])), vdot(a(), b()), outer(tensor([1, 2, 3]), tensor([-1, 0.5])),
        logSoftmax(a()), softmax(a(), 0), mse(a(), b()), squaredError(a(), b()),
        zeros([2, 2]), ones([3]), full([2], 7.25), arange(1, 10, 2.5), eye(3, 4), randomUniform([6], 3, -2, 2), randomNormal([6], 4, 1, 0.5),
        fromNdarray(ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [3, 2]).transpose(1, 0)), asTensor(3.5),
        ...broadcastAll('test', tensor([[1], [2]]), tensor([3, 4, 5])),
      ];
      // The gpu run must really have computed on the gpu backend.
      expect(new Set(out.map((t) => (t as ConcreteTensor).backend.name))).toEqual(new Set([getBackend().name]));
      return out;
    });
    closeAll(r.gpu, r.cpu, OPS, 'ops');
    expect(Array.from(toNdarray(r.gpu[0]!).data)).toEqual(Array.from(r.gpu[0]!.toFloat64Array()));
    expect(r.gpu[0]!.toArray()).toEqual(r.cpu[0]!.toArray()); // minimum of small integers and halves is exact in float32
  });

  it('Tensor.data() and item() read gpu storage', async () => {
    setBackend('gpu', { mode: 'webasm' });
    try {
      const t = logSumExp(tensor([0.5, -1, 2]));
      expect(Array.from(await (t as ConcreteTensor).data())).toEqual([t.item()]);
      expectClose(t.item(), Math.log(Math.exp(0.5) + Math.exp(-1) + Math.exp(2)), { rtol: OPS, what: 'logSumExp item' });
    } finally {
      setBackend('cpu');
    }
  });

  it('stable composites stay finite at logits of ±1e4 in float32 (no overflow of exp)', () => {
    const z = () => tensor([-1e4, -200, -100, -89, -20, -1, 0, 1, 20, 89, 100, 200, 1e4]);
    const y = () => tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
    const Z = () => tensor([[1000, 0, -1000], [100, 99, 98], [-100, -200, -300], [0, 0, 0]]);
    const T = () => tensor([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]]);
    const r = onBoth(() => [
      sigmoid(z()), softplus(z()), bceWithLogits(z(), y()), grad((t: Tensor) => sum(bceWithLogits(t, y())))(z()) as Tensor,
      grad((t: Tensor) => sum(softplus(t)))(z()) as Tensor, logSumExp(Z(), 1), logSoftmax(Z()), softmax(Z()), softmaxCrossEntropy(Z(), T()),
      grad((t: Tensor) => sum(softmaxCrossEntropy(t, T())))(Z()) as Tensor,
    ]);
    r.gpu.forEach((t, i) => expect(Array.from(t.toFloat64Array()).every(Number.isFinite), `output ${i} finite`).toBe(true));
    closeAll(r.gpu, r.cpu, OPS, 'stable composites');
  });
});

describe('transformations and memory not covered by the engine test', () => {
  const f = (x: Tensor) => sum(mul(tanh(x), sin(x)));
  const g2 = (x: Tensor, y: Tensor) => sum(mul(softplus(mul(x, 0.3)), sum(mul(y, y))));
  const vecF = (x: Tensor) => mul(softplus(x), sum(x));
  const X = () => tensor([0.3, -1.2, 2, 0.7]);
  const Y = () => tensor([1, -2, 0.5]);

  it('valueAndGrad (argnums, hasAux), vjp, jacrev, jacfwd, customVjp and treeMap agree to OPS', () => {
    const r = onBoth(() => {
      const [v, gx] = valueAndGrad(f)(X()) as [Tensor, Tensor];
      const [v2, [ga, gb]] = valueAndGrad(g2, { argnums: [0, 1] })(X(), Y()) as [Tensor, Tensor[]];
      const [[loss, aux], gAux] = valueAndGrad((x: Tensor) => [f(x), mul(x, 2)], { hasAux: true })(X()) as [[Tensor, Tensor], Tensor];
      const [y, pullback] = vjp(vecF, X());
      const [ct] = pullback(tensor([1, -2, 0.5, 3])) as Tensor[];
      const softplusRule = customVjp(
        (x) => softplus(x),
        (x) => [softplus(x), sigmoid(x)],
        (s, c) => [mul(c, s as Tensor)],
      );
      const mapped = treeMap((t) => mul(t, t), { a: X(), b: [Y()] } as Pytree) as { a: Tensor; b: Tensor[] };
      return [
        v, gx, v2, ga!, gb!, loss, aux, gAux, y, ct!,
        jacrev(vecF)(X()), jacfwd(vecF)(X()), jacrev(g2, { argnums: 1 })(X(), Y()), jacfwd(g2, { argnums: 1 })(X(), Y()),
        grad((x: Tensor) => sum(softplusRule(x)))(X()) as Tensor, mapped.a, mapped.b[0]!,
      ];
    });
    closeAll(r.gpu, r.cpu, OPS, 'transformations');
  });

  it('a tidy result (value and gradient) outlives its scope with the right values; dispose releases; setDebugNans lets finite programs through', () => {
    const r = onBoth(() => {
      const kept = tidy(() => {
        const t = tensor([0.5, -1, 2]);
        const [v, g] = valueAndGrad((x: Tensor) => sum(mul(exp(x), x)))(t) as [Tensor, Tensor];
        return { v, g };
      });
      const t = tensor([1, 2]);
      dispose(t);
      if (getBackend().name === 'gpu') expect(() => t.toFloat64Array()).toThrow(/after release/);
      setDebugNans(true);
      try {
        return [kept.v, kept.g, grad((x: Tensor) => sum(softplus(x)))(tensor([-3, 0, 3])) as Tensor];
      } finally {
        setDebugNans(false);
      }
    });
    closeAll(r.gpu, r.cpu, OPS, 'tidy');
  });
});

describe('models: linear models, pytree helpers, MLP helpers', () => {
  it.each(['logreg', 'linreg', 'softmax'] as const)('%s: linearModel and linearObjective value, gradient, HVPs, Hessian, per-example losses and gradients', (kind) => {
    const { n, d } = data[kind];
    const K = classesOf(kind);
    const p = (d + 1) * K;
    const theta = Float64Array.from({ length: p }, (_, i) => 0.3 * Math.sin(1 + 7 * i));
    const v = Float64Array.from({ length: p }, (_, i) => Math.cos(3 * i));
    const r = onBoth(() => {
      const obj = objectiveOf(kind);
      const model = linearModel(kind, d, K);
      const params = obj.params(theta);
      const X = tensor(data[kind].X, [n, d]);
      return [
        [obj.value(theta)], obj.gradient(theta), obj.valueAndGradient(theta)[1], obj.hvp(theta, v), obj.engineHvp(theta, v),
        obj.engineHvp(theta, v, [3, 5, 8, 40]), obj.hessian(theta), obj.perExampleLosses(theta), obj.perExampleLosses(theta, [0, 7]),
        obj.perExampleGradients(theta), model.logits(params, X), model.loss(params, X, model.targets(data[kind].y)),
        perExampleGradients(obj.layout, obj.spec.loss, tensor(theta), X, model.targets(data[kind].y), [2, 9]),
      ];
    });
    closeAll(r.gpu, r.cpu, sumTol(n), kind);
  });

  it('paramLayout.flatten, l2Penalty, sgdStep on pytrees', () => {
    const r = onBoth(() => {
      const params = { W: tensor([[1, -2], [0.5, 3]]), b: tensor([0.25, -1]) };
      const layout = paramLayout(params);
      const grads = { W: tensor([[0.1, 0.2], [-0.3, 0.4]]), b: tensor([1, 1]) };
      const stepped = sgdStep(params, grads, 0.5);
      return [layout.flatten(params), layout.regularized, l2Penalty(params, 0.3), stepped.W, stepped.b];
    });
    closeAll(r.gpu, r.cpu, OPS, 'pytree helpers');
  });

  it('MLP: forward, layerwise trace, signals, closed-form per-example gradients, JSON round trip', () => {
    const n = 40;
    const Xd = data.logreg.X.slice(0, n * D);
    const r = onBoth(() => {
      const params = mlpInit([D, 5, 4, 1], 3, 'tanh');
      const X = tensor(Xd, [n, D]);
      const trace = mlpLayerwise(params, X, 'tanh');
      const dLogits = grad((z: Tensor) => sum(bceWithLogits(reshape(z, [n]), tensor(data.logreg.y.slice(0, n)))))(trace.logits) as Tensor;
      const sig = mlpSignals(params, trace, dLogits, 'tanh');
      const G = mlpPerExampleGradients(params, X, dLogits, 'tanh');
      const round = mlpFromJson(mlpToJson(params, 'relu')).params;
      return [mlpForward(params, X, 'tanh'), activate(trace.preacts[0]!, 'relu'), ...trace.preacts, ...trace.outputs, ...sig, withOnes(trace.inputs[1]!), ...G.flatMap((l) => [l.W, l.b]), mlpForward(round, X, 'relu')];
    });
    // Per row, everything here is a chain of dot products of lengths 6, 5 and 4 (no sum over rows):
    // sumTol of their total length.
    closeAll(r.gpu, r.cpu, sumTol(D + 5 + 4), 'mlp');
  });
});

describe('optimisers reach the float64 optimum to what float32 can resolve', () => {
  it.each(['logreg', 'linreg', 'softmax'] as const)('%s: newton (dense and CG) and lbfgs with their default tolerance, and kept iterating at the float32 floor', (kind) => {
    const K = classesOf(kind);
    const d = data[kind].d;
    const cpuObj = objectiveOf(kind);
    const thetaStar = newton(cpuObj).theta;
    const { lambdaMin } = conditioned(cpuObj, thetaStar, kind === 'softmax' ? 1 : 0);
    const r = onBoth(() => {
      const obj = objectiveOf(kind);
      // tol 0: iterations continue where ‖∇R‖ is rounding noise (and a softmax gradient has a
      // float32-sized component along the intercepts' gauge direction); they must stay put.
      const atFloor = { tol: 0, allowUnconverged: true };
      return [newton(obj), newton(obj, { mode: 'cg' }), lbfgs(obj), newton(obj, { ...atFloor, mode: 'cg', maxIter: 12 }), lbfgs(obj, { ...atFloor, maxIter: 60 })];
    });
    for (const [i, res] of r.gpu.entries()) {
      if (i < 3) expect(res.converged, `${res.method} converged`).toBe(true);
      const g64 = norm(cpuObj.gradient(res.theta));
      expect(g64, `${res.method}: float64 ‖∇R‖ at the float32 answer`).toBeLessThan(2e-6);
      const dist = diffNorm(withoutGauge(res.theta, kind, d, K), withoutGauge(thetaStar, kind, d, K));
      expect(dist, `${res.method}: ‖θ_gpu − θ*‖`).toBeLessThanOrEqual((2 * g64) / lambdaMin + 1e-12);
      expect(Math.abs(res.value - r.cpu[i]!.value), `${res.method}: R`).toBeLessThan(sumTol(N) * Math.abs(r.cpu[i]!.value));
    }
  });

  it('minimizeLbfgs on an engine value-and-gradient, and the SGD / momentum / Adam optimisers', () => {
    const fg = (x: Float64Array): [number, Float64Array] => {
      const [v, g] = valueAndGrad((t: Tensor) => sum(add(square(sub(t, 1)), mul(0.1, square(t)))))(tensor(x)) as [Tensor, Tensor];
      return [v.item(), g.toFloat64Array()];
    };
    const r = onBoth(() => {
      const opt = minimizeLbfgs(fg, new Float64Array([3, -2, 0.5]));
      expect(opt.converged).toBe(true);
      const runs = [sgd({ lr: 0.1, weightDecay: 0.01 }), momentum({ lr: 0.05, nesterov: true }), adam({ lr: 0.02, weightDecay: 0.01 })].map((o) => {
        let params = { W: tensor([[1, -1], [0.5, 2]]), b: tensor([0.1, -0.2]) };
        let state = o.init(params);
        for (let s = 0; s < 10; s++) {
          const g = grad((p: typeof params) => sum(softplus(add(matmul(p.W, tensor([1, -0.5])), p.b))))(params) as typeof params;
          ({ params, state } = o.update(params, g, state));
        }
        return [params.W, params.b];
      });
      return { theta: opt.theta, runs: runs.flat() };
    });
    // The minimiser of Σ (xᵢ − 1)² + 0.1 xᵢ² is xᵢ = 1/1.1; L-BFGS stops at ‖∇‖ < 1e-6 (curvature 2.2).
    close(r.gpu.theta, [1 / 1.1, 1 / 1.1, 1 / 1.1], 1e-6, 'minimizeLbfgs');
    // 10 steps of a contraction from the same start: each step adds OPS-level error.
    closeAll(r.gpu.runs, r.cpu.runs, 10 * OPS, 'optimisers');
  });
});

describe('influence functions', () => {
  it.each(['logreg', 'softmax'] as const)('%s: Influence with every solver, removalEffects, inverseHvp', (kind) => {
    const cpuObj = objectiveOf(kind);
    const thetaStar = newton(cpuObj).theta;
    const { kappa } = conditioned(cpuObj, thetaStar, kind === 'softmax' ? 1 : 0);
    const solvers = ['exact', 'cg', 'lissa', 'arnoldi'] as const;
    const r = onBoth(() => {
      const obj = objectiveOf(kind);
      const { theta } = newton(obj);
      const f = totalLoss(obj.spec.loss, obj.spec.X, obj.spec.Y, [0, 5, 9]);
      const out: Float64Array[] = [];
      for (const solver of solvers) {
        const inf = new Influence(obj, theta, { solver, arnoldi: { k: obj.dim } });
        out.push(inf.removalEffects(f), inf.upLoss(f, [1, 2, 3]), inf.upParams(4), inf.selfInfluence([0, 1]), inf.sTest(f));
      }
      const inf = new Influence(obj, theta);
      out.push(inf.pertLoss(f, [0, 3]), inf.testGradient(f));
      out.push(inverseHvp(obj, theta, { solver: 'cg', damping: 0.05 }).solve(Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(i))));
      const params = obj.params(theta);
      out.push(removalEffects({ params, loss: obj.spec.loss, X: obj.spec.X, Y: obj.spec.Y, l2: LAMBDA }, f, { solver: 'cg', rows: [3, 1, 4] }).effects);
      return out;
    });
    // θ̂ and the gradients are float32 (sumTol each), the solve amplifies by κ, and CG / LiSSA may
    // stop at 1e-6 relative residual / change (their float32 defaults), which κ amplifies as well.
    closeAll(r.gpu, r.cpu, (kappa + 2) * sumTol(N) + kappa * 1e-6, `${kind} influence`);
  });

  it('the generic objective (every HVP and the Hessian from the engine in float32) with every solver, powerIteration and arnoldi', () => {
    const cpuObj = genericLogreg();
    const thetaStar = newton(cpuObj).theta;
    const { kappa, lambdaMax } = conditioned(cpuObj, thetaStar);
    const r = onBoth(() => {
      const obj = genericLogreg();
      const fit = newton(obj);
      expect(fit.converged).toBe(true);
      const Hv = (v: Float64Array) => obj.hvp(fit.theta, v);
      const top = powerIteration(Hv, obj.dim, { iterations: 300, tol: 1e-9 });
      const ar = arnoldi(Hv, obj.dim, { k: 3 });
      const f = totalLoss(obj.spec.loss, obj.spec.X, obj.spec.Y, [0, 1]);
      const effects = (['exact', 'cg', 'lissa', 'arnoldi'] as const).map((solver) => new Influence(obj, fit.theta, { solver, arnoldi: { k: obj.dim } }).removalEffects(f));
      return { effects, top: top.value, ritz: ar.values };
    });
    // H itself is float32 here: the same (κ + 2)·sumTol bound, twice (the rhs and H), plus the solvers' 1e-6 stopping error.
    closeAll(r.gpu.effects, r.cpu.effects, 2 * (kappa + 2) * sumTol(N) + kappa * 1e-6, 'generic influence');
    // Eigenvalues of a float32 H: each within ‖δH‖ ≤ sumTol·λ_max of the float64 one (Weyl).
    close([r.gpu.top], [lambdaMax], sumTol(N), 'power iteration');
    close(r.gpu.ritz, r.cpu.ritz, sumTol(N), 'arnoldi Ritz values');
  });

  it('exactLoo and retrainWeighted retrain on the gpu backend to float32 accuracy', () => {
    const rows = [0, 17, 42];
    const cpuObj = objectiveOf('logreg');
    const thetaStar = newton(cpuObj).theta;
    const { lambdaMin } = conditioned(cpuObj, thetaStar);
    const r = onBoth(() => {
      const obj = objectiveOf('logreg');
      const { theta } = newton(obj);
      const f = totalLoss(obj.spec.loss, obj.spec.X, obj.spec.Y, [1, 2]);
      const w = new Float64Array(obj.n).fill(1);
      w[5] = 0;
      return { loo: exactLoo(obj, theta, rows, f), re: retrainWeighted(obj, theta, w, { trainer: 'lbfgs' }) };
    });
    // Each LOO change is a difference of two values of f, each evaluated to sumTol·|f| in float32,
    // at parameters that are each within δ = 2·2e-6/λ_min of the float64 ones (the certificate in
    // the module notes, with the float32 ‖∇R‖ < 1e-6 asserted below): |error| ≤ 2 sumTol |f| + 2 ‖∇f‖ δ.
    const gradF = norm(new Influence(cpuObj, thetaStar).testGradient(totalLoss(cpuObj.spec.loss, cpuObj.spec.X, cpuObj.spec.Y, [1, 2])));
    const changeErr = 2 * sumTol(N) * Math.abs(r.cpu.loo.base) + 2 * gradF * ((2 * 2e-6) / lambdaMin);
    expectClose(r.gpu.loo.changes, r.cpu.loo.changes, { rtol: 0, atol: changeErr, what: 'LOO changes' });
    expect(r.gpu.loo.gradNorms.every((g) => g < 1e-6)).toBe(true);
    expect(diffNorm(r.gpu.re.theta, r.cpu.re.theta)).toBeLessThan((2 * 2e-6) / lambdaMin);
  });

  it('dataDropoutSelect on a linear model: the same effects and the same split', () => {
    const cpuObj = objectiveOf('logreg');
    const { kappa } = conditioned(cpuObj, newton(cpuObj).theta);
    const val = randomData('logreg', 40, D, 14);
    const r = onBoth(() => {
      const obj = objectiveOf('logreg');
      const { theta } = newton(obj);
      return dataDropoutSelect(
        { params: obj.params(theta), loss: obj.spec.loss, X: obj.spec.X, Y: obj.spec.Y, l2: LAMBDA },
        { X: tensor(val.X, [val.n, D]), y: tensor(val.y, [val.n]) },
      );
    });
    const rtol = (kappa + 2) * sumTol(N);
    close(r.gpu.effects, r.cpu.effects, rtol, 'data dropout effects');
    // The split can only differ at an effect within the error bound of 0; there is none here.
    expect(Math.min(...Array.from(r.cpu.effects, Math.abs))).toBeGreaterThan(2 * rtol * maxAbs(r.cpu.effects));
    expect(r.gpu.drop).toEqual(r.cpu.drop);
    close([r.gpu.predictedChange, r.gpu.valLoss], [r.cpu.predictedChange, r.cpu.valLoss], rtol, 'predicted change, validation loss');
  });
});

describe('sample reweighting', () => {
  const nTr = 40;
  const nVa = 20;
  const batches = () => ({
    train: { X: tensor(data.logreg.X.slice(0, nTr * D), [nTr, D]), y: tensor(data.logreg.y.slice(0, nTr), [nTr]) },
    val: { X: tensor(data.logreg.X.slice(nTr * D, (nTr + nVa) * D), [nVa, D]), y: tensor(data.logreg.y.slice(nTr, nTr + nVa), [nVa]) },
  });

  it.each(['tanh', 'relu'] as const)('L2RW (%s): the three meta-gradient routes, mlpMetaGradient and the weights', (act) => {
    const r = onBoth(() => {
      const params = mlpInit([D, 5, 1], 7, act);
      const { train, val } = batches();
      const routes = [
        metaGradientAutodiff(mlpLoss(act), params, train, val, 0.1),
        metaGradientPerExample(mlpLoss(act), params, train, val, 0.1),
        metaGradientMlp(params, act, train, val, 0.1),
        mlpMetaGradient('closed-form', params, act, train, val, 0.1),
      ];
      return [...routes, l2rwWeights(routes[2]!)];
    });
    // gᵢ = −α ∇ℓᵛ·∇ℓᵢ: a dot product over the parameters of gradients that are each a sum over the
    // 20 validation rows (or one row) through a 2-layer network: sumTol(nVa + parameters).
    const rtol = sumTol(nVa + 41);
    closeAll(r.gpu.slice(0, 4), r.cpu.slice(0, 4), rtol, `${act} meta-gradients`);
    // Weights max(−g, 0)/Σ: twice the rtol (the normalising sum of ≤ 40 entries adds 40u). A weight
    // that is 0 on one backend and not on the other comes from a g within that bound of 0, so it
    // is within the atol part of the comparison.
    close(r.gpu[4]!, r.cpu[4]!, 2 * rtol, `${act} weights`);
  });

  it('trainWeighted with every weighting and optimiser: the same trajectory to float32 accuracy', () => {
    const set = { X: data.logreg.X, y: data.logreg.y, n: N, d: D };
    const steps = 8;
    const run = () => {
      const loss = mlpLoss('tanh');
      const init = () => mlpInit([D, 4, 1], 5, 'tanh');
      const reference = lossesOf(loss, init(), set.X, set.y, D);
      const { val } = batches();
      const weightings = [
        uniform<MlpParams>(), classBalanced<MlpParams>(set.y), focal<MlpParams>({ gamma: 2 }), ohem<MlpParams>({ fraction: 0.5 }),
        selfPaced<MlpParams>({ start: 0.7, end: 0.9 }), curriculum<MlpParams>(reference, { startFraction: 0.5 }),
        l2rw<MlpParams>((p, b) => metaGradientMlp(p, 'tanh', b, val, 0.1)), subset<MlpParams>([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]),
      ];
      const optimisers = [sgd({ lr: 0.1 }), momentum({ lr: 0.1 }), adam({ lr: 0.01 })];
      const out: Float64Array[] = [reference];
      weightings.forEach((weighting, k) => {
        const res = trainWeighted({ params: init(), loss, data: set, steps, batchSize: 16, optimizer: optimisers[k % 3]!, weighting, seed: k, record: true });
        out.push(res.objective, ...res.history.map((h) => h.weights), ...treeFlatten(res.params).leaves.map((t) => (t as Tensor).toFloat64Array()));
      });
      const { X, y } = gatherRows(set, [3, 1, 4]);
      out.push(X.toFloat64Array(), y.toFloat64Array(), Float64Array.of(weightedObjective(loss, X, y, [0.2, 0.3, 0.5])(init()).item()));
      return out;
    };
    const r = onBoth(run);
    // Every step adds a batch-of-16 gradient's float32 error (sumTol(16 + 33 parameters)); 8 steps of
    // small learning rates compound it by at most ~2. The recorded OHEM / self-paced / L2RW
    // decisions are part of the comparison: a flipped decision would differ by O(1/m).
    closeAll(r.gpu, r.cpu, 2 * steps * sumTol(16 + 33), 'weighted training');
  });

  it('runMethods on a small synthetic problem: every method reaches the same test error', () => {
    const mk = (n: number, seed: number) => {
      const s = randomData('logreg', n, D, seed);
      return { X: s.X, y: s.y, n, d: D, index: Int32Array.from({ length: n }, (_, i) => i) };
    };
    const problem = { train: mk(80, 21), val: mk(30, 22), test: mk(60, 23) };
    const config = {
      hidden: [4], activation: 'tanh' as const, lr: 0.05, momentum: 0.9, batchSize: 16, steps: 12, focalGamma: 2, ohemFraction: 0.5,
      selfPaced: { start: 0.7, end: 1 }, curriculum: { start: 0.5, ramp: 0.5 }, dropoutL2: 0.1, metaRoute: 'closed-form' as const,
    };
    const methods = ['uniform', 'class-balanced', 'focal', 'ohem', 'self-paced', 'curriculum', 'l2rw'] as const;
    const r = onBoth(() => {
      const out = runMethods(problem, { config, seed: 1, methods });
      const params = mlpInit([D, 4, 1], 1, 'tanh');
      return { errors: methods.map((m) => out[m]!.testError), initial: testError(params, 'tanh', problem.test), logits: mlpForward(params, tensor(problem.test.X, [60, D]), 'tanh').toFloat64Array() };
    });
    // A test error is a count of sign(logit) mismatches: float32 can only change it through a logit
    // within rounding of 0. runMethods does not return the trained logits, so the margin is checked
    // for the untrained network only; a mismatch below means either such a logit or a real divergence
    // of the float32 run, and needs looking at before anything is loosened.
    expect(Math.min(...Array.from(r.cpu.logits, Math.abs))).toBeGreaterThan(1e-4);
    expect(r.gpu.initial).toBe(r.cpu.initial);
    expect(r.gpu.errors).toEqual(r.cpu.errors);
  });
});

// These two reuse one strided view on inputs of different lengths (`unflatten` after the same view
// of a 4-element input; the MLP's HVP slices 6 weights out of θ, 7 long, and then out of matmul's
// stacked [w; v], 12 long), which once failed on webasm because the gather kernel's cache key
// ignored the input length (kernels/movement.ts, stridedView).
describe('one view of inputs of different lengths', () => {
  it('paramLayout.unflatten', () => {
    const r = onBoth(() => {
      const layout = paramLayout({ W: tensor([[1, -2], [0.5, 3]]), b: tensor([0.25, -1]) });
      return treeFlatten(layout.unflatten(tensor([1, 2, 3, 4, 5, 6]))).leaves as Tensor[];
    });
    closeAll(r.gpu, r.cpu, OPS, 'unflatten');
  });

  it('mlpDataDropout: last-layer refit, effects and split', () => {
    const val = randomData('logreg', 40, D, 15);
    const params = () => mlpInit([D, 5, 1], 2, 'tanh');
    const train = () => ({ X: tensor(data.logreg.X.slice(0, 40 * D), [40, D]), y: tensor(data.logreg.y.slice(0, 40), [40]) });
    const r = onBoth(() => mlpDataDropout(params(), 'tanh', train(), { X: tensor(val.X, [40, D]), y: tensor(val.y, [40]) }, { l2: 0.1 }));
    expect(r.gpu.fit.converged).toBe(true);
    // κ of the refitted last layer's objective (the objective mlpDataDropout builds), in float64.
    const features = mlpLayerwise(params(), train().X, 'tanh').inputs[1]!;
    const loss = (p: MlpParams[number], F: Tensor, y: Tensor) => mlpLoss('tanh')([p], F, y);
    const headObj = new Objective({ params: r.cpu.lastLayer, loss, X: features, Y: train().y, l2: 0.1 });
    const { kappa } = conditioned(headObj, headObj.layout.flatten(r.cpu.lastLayer));
    const rtol = (kappa + 2) * sumTol(40);
    close(r.gpu.effects, r.cpu.effects, rtol, 'mlp data dropout effects');
    expect(r.gpu.drop).toEqual(r.cpu.drop);
  });
});
