/**
 * unequal's engine on the shared benchmark problems (bench/peers/problems.ts): L2-regularised
 * logistic regression (n = 2000, d = 784), a 784 → 64 → 1 tanh MLP and issue 12's 784 → 128 → 10
 * tanh MLP with softmax cross-entropy (n = 1000), float64 on the CPU backend. Every timed computation is first checked against the hand-written float64 references,
 * so a fast wrong answer cannot be reported.
 *
 * @module
 */
import {
  type Tensor, add, bceWithLogits, grad, hvp, matmul, mean, mul, reshape, softmaxCrossEntropy, sum, tanh, tensor,
} from '../src/index.ts';
import {
  type LogregProblem, type MlpProblem, type SoftmaxMlpProblem, logregHvpReference, logregReference, mlpHvpByDifferences,
  mlpReference, softmaxMlpHvpByDifferences, softmaxMlpReference, checkAgainstReference, relativeError,
} from './peers/problems.ts';
import { type TimeItOptions, timeIt } from './peers/timing.ts';

export type LogregParams = { w: Tensor; b: Tensor };
type MlpParams = { W1: Tensor; b1: Tensor; W2: Tensor; b2: Tensor };

const check = (what: string, err: number, tol: number): number => checkAgainstReference('unequal', what, err, tol);

/**
 * The logistic problem as engine tensors on the current backend: the objective
 * R(w, b) = mean BCE + (λ/2)‖w‖², its evaluation point and the HVP direction.
 *
 * @example
 * ```ts
 * const { loss, at, dir } = logregObjective(makeLogregProblem(0));
 * hvp(loss, at, dir); // { w, b }
 * ```
 */
export function logregObjective(p: LogregProblem): { loss: (q: LogregParams) => Tensor; at: LogregParams; dir: LogregParams } {
  const X = tensor(p.X, [p.n, p.d]);
  const y = tensor(p.y);
  const loss = (q: LogregParams) =>
    add(mean(bceWithLogits(add(matmul(X, q.w), q.b), y)), mul(p.lambda / 2, sum(mul(q.w, q.w))));
  return { loss, at: { w: tensor(p.w), b: tensor(p.b) }, dir: { w: tensor(p.vw), b: tensor(p.vb) } };
}

/** Loss, gradient and HVP of the logistic problem, timed and verified. */
export function benchEngineLogreg(
  p: LogregProblem,
  timing: TimeItOptions,
  { prefix = 'unequal.logreg', tol = 1e-12 }: { prefix?: string; tol?: number } = {},
): Record<string, number> {
  const { loss, at, dir } = logregObjective(p);
  const gradient = grad(loss);
  const ref = logregReference(p);
  const refH = logregHvpReference(p);
  const g = gradient(at) as LogregParams;
  const h = hvp(loss, at, dir);
  // On the CPU both sides are float64 and only summation order differs (tol 1e-12); on the float32
  // GPU backend the caller passes a float32 tolerance.
  const out: Record<string, number> = {
    [`${prefix}.loss.relerr`]: check('loss', relativeError([[loss(at).item()]], [[ref.loss]]), tol),
    [`${prefix}.grad.relerr`]: check('gradient', relativeError([g.w.toFloat64Array(), [g.b.item()]], [ref.gw, [ref.gb]]), tol),
    [`${prefix}.hvp.relerr`]: check('HVP', relativeError([h.w.toFloat64Array(), [h.b.item()]], [refH.hw, [refH.hb]]), tol),
  };
  out[`${prefix}.loss.ms`] = timeIt(() => loss(at).item(), timing).median;
  out[`${prefix}.grad.ms`] = timeIt(() => (gradient(at) as LogregParams).w.toFloat64Array(), timing).median;
  out[`${prefix}.hvp.ms`] = timeIt(() => hvp(loss, at, dir).w.toFloat64Array(), timing).median;
  out[`${prefix}.hvp-rev-rev.ms`] = timeIt(() => hvp(loss, at, dir, { mode: 'rev-rev' }).w.toFloat64Array(), timing).median;
  return out;
}

/** Loss, gradient and HVP of the tanh MLP, timed and verified. */
export function benchEngineMlp(m: MlpProblem, timing: TimeItOptions): Record<string, number> {
  const X = tensor(m.X, [m.n, m.d]);
  const y = tensor(m.y);
  const loss = (q: MlpParams) => {
    const hidden = tanh(add(matmul(X, q.W1), q.b1));
    const logits = add(reshape(matmul(hidden, q.W2), [m.n]), q.b2);
    const l2 = add(sum(mul(q.W1, q.W1)), sum(mul(q.W2, q.W2)));
    return add(mean(bceWithLogits(logits, y)), mul(m.lambda / 2, l2));
  };
  const asTensors = (p: typeof m.params): MlpParams => ({
    W1: tensor(p.W1, [m.d, m.h]),
    b1: tensor(p.b1),
    W2: tensor(p.W2),
    b2: tensor(p.b2),
  });
  const flat = (q: MlpParams) => [q.W1.toFloat64Array(), q.b1.toFloat64Array(), q.W2.toFloat64Array(), [q.b2.item()]];
  const at = asTensors(m.params);
  const dir = asTensors(m.v);
  const gradient = grad(loss);
  const ref = mlpReference(m);
  const g = gradient(at) as MlpParams;
  const h = hvp(loss, at, dir);
  const refH = mlpHvpByDifferences(m);
  const out: Record<string, number> = {
    'unequal.mlp.loss.relerr': check('MLP loss', relativeError([[loss(at).item()]], [[ref.loss]]), 1e-12),
    'unequal.mlp.grad.relerr': check('MLP gradient', relativeError(flat(g), flat(asTensors(ref.grad))), 1e-11),
    // the reference HVP is a central difference of gradients: accurate to ~1e-8, not 1e-15
    'unequal.mlp.hvp.relerr': check('MLP HVP', relativeError(flat(h), flat(asTensors(refH))), 1e-6),
  };
  out['unequal.mlp.loss.ms'] = timeIt(() => loss(at).item(), timing).median;
  out['unequal.mlp.grad.ms'] = timeIt(() => (gradient(at) as MlpParams).W1.toFloat64Array(), timing).median;
  out['unequal.mlp.hvp.ms'] = timeIt(() => hvp(loss, at, dir).W1.toFloat64Array(), timing).median;
  return out;
}

export type SoftmaxMlpParams = { W1: Tensor; b1: Tensor; W2: Tensor; b2: Tensor };

/**
 * Issue 12's MLP as engine tensors on the current backend: R = mean softmax cross-entropy of
 * tanh(X W1 + b1) W2 + b2 plus (λ/2)(‖W1‖² + ‖W2‖²), its evaluation point and HVP direction, and
 * `check`, which verifies the loss, gradient and HVP against the float64 references and returns
 * their relative errors.
 *
 * @example
 * ```ts
 * const { loss, at, dir } = softmaxMlpObjective(makeSoftmaxMlpProblem(0));
 * hvp(loss, at, dir); // { W1, b1, W2, b2 }
 * ```
 */
export function softmaxMlpObjective(m: SoftmaxMlpProblem): {
  loss: (q: SoftmaxMlpParams) => Tensor;
  at: SoftmaxMlpParams;
  dir: SoftmaxMlpParams;
  check: () => { loss: number; grad: number; hvp: number };
} {
  const X = tensor(m.X, [m.n, m.d]);
  const Y = tensor(m.Y, [m.n, m.c]);
  const loss = (q: SoftmaxMlpParams) => {
    const hidden = tanh(add(matmul(X, q.W1), q.b1));
    const logits = add(matmul(hidden, q.W2), q.b2);
    const l2 = add(sum(mul(q.W1, q.W1)), sum(mul(q.W2, q.W2)));
    return add(mean(softmaxCrossEntropy(logits, Y)), mul(m.lambda / 2, l2));
  };
  const asTensors = (p: SoftmaxMlpProblem['params']): SoftmaxMlpParams => ({
    W1: tensor(p.W1, [m.d, m.h]),
    b1: tensor(p.b1),
    W2: tensor(p.W2, [m.h, m.c]),
    b2: tensor(p.b2),
  });
  const at = asTensors(m.params);
  const dir = asTensors(m.v);
  const flat = (q: SoftmaxMlpParams) => [q.W1, q.b1, q.W2, q.b2].map((t) => t.toFloat64Array());
  const verify = () => {
    const ref = softmaxMlpReference(m);
    const refH = softmaxMlpHvpByDifferences(m);
    const { W1, b1, W2, b2 } = ref.grad;
    return {
      loss: check('softmax MLP loss', relativeError([[loss(at).item()]], [[ref.loss]]), 1e-12),
      grad: check('softmax MLP gradient', relativeError(flat(grad(loss)(at) as SoftmaxMlpParams), [W1, b1, W2, b2]), 1e-11),
      // the reference HVP is a central difference of gradients: accurate to ~1e-8, not 1e-15
      hvp: check('softmax MLP HVP', relativeError(flat(hvp(loss, at, dir)), [refH.W1, refH.b1, refH.W2, refH.b2]), 1e-6),
    };
  };
  return { loss, at, dir, check: verify };
}

/** Loss, gradient and HVP of issue 12's softmax MLP, timed and verified. */
export function benchEngineSoftmaxMlp(m: SoftmaxMlpProblem, timing: TimeItOptions): Record<string, number> {
  const { loss, at, dir, check: verify } = softmaxMlpObjective(m);
  const err = verify();
  const gradient = grad(loss);
  return {
    'unequal.smlp.loss.relerr': err.loss,
    'unequal.smlp.grad.relerr': err.grad,
    'unequal.smlp.hvp.relerr': err.hvp,
    'unequal.smlp.loss.ms': timeIt(() => loss(at).item(), timing).median,
    'unequal.smlp.grad.ms': timeIt(() => (gradient(at) as SoftmaxMlpParams).W1.toFloat64Array(), timing).median,
    'unequal.smlp.hvp.ms': timeIt(() => hvp(loss, at, dir).W1.toFloat64Array(), timing).median,
  };
}
