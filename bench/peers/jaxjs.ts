/**
 * jax-js (npm `@jax-js/jax` 0.1.25) timed on unequal's benchmark problems: the peer to beat.
 *
 * How jax-js is driven here, and why:
 * - Backend: `init('wasm')` then `defaultDevice('wasm')`. On Node 20 there is no Web `Worker`,
 *   so jax-js runs its wasm kernels single-threaded (its worker pool needs `SharedArrayBuffer`
 *   *and* `Worker`); numbers here are single-core numbers.
 * - Node 20 has no `Float16Array`, which jax-js references (an `instanceof` check in
 *   `np.array`); we define a placeholder class that throws if constructed *before* the dynamic
 *   import. We never create float16 arrays, so it is never constructed.
 * - Dtype: building an array from a `Float64Array` gives a float64 array, and scalars mixed into
 *   float64 expressions stay float64 (checked: every result below is read back as Float64Array).
 * - Ownership: every jax-js function consumes its Array arguments (refcount −1), `x.ref` adds a
 *   reference, and `dataSync()` reads *and releases* an Array. So inputs are passed as `.ref`
 *   each call and outputs are freed by reading them; the inputs are disposed at the end.
 * - `jit` traces and compiles once per input shape; warm-up calls pay that cost, timed calls
 *   measure the compiled kernel plus reading the (small) result back to JS, which is what a
 *   training loop has to do anyway.
 * - HVP is forward-over-reverse: `jvp(θ ↦ grad(R)(θ), [θ], [v])`, the primal output discarded.
 *
 * Correctness finding (jax-js 0.1.25): `jit` of a forward-over-reverse HVP is wrong when the
 * function multiplies a matmul result by a non-integer literal, which includes every `.mean()`.
 * Minimal case, X a constant 4×2 float64 matrix: `jit((u, t) => jvp(grad(w => np.square(
 * np.matmul(X, w)).mean()), [u], [t])[1])` returns garbage (values such as 2e-314, the bits of a
 * float32 read as a float64; sometimes a wrongly shaped result), while the same code without `jit`,
 * with `.sum()` instead of `.mean()`, or without the matmul is right. Passing the constant as a
 * float64 scalar *argument* is right, so the losses here take 1/n and λ/2 that way, and every
 * result is checked against a float64 reference before it is timed.
 *
 * Precision finding (jax-js 0.1.25, wasm): float64 arrays are stored and multiplied in float64
 * (matmul, add, mul agree with plain loops bit for bit), but the wasm code generator evaluates
 * transcendentals through float32 routines (`wasm_exp`/`wasm_log` are `f32 → f32` polynomial
 * approximations, with float32's range: exp overflows above ≈ 88 and flushes to 0 below ≈ −87).
 * Measured on 1,001 points in [−10, 10]: max relative error exp 1e-6, log1p 1.8e-5, tanh 3e-6.
 * So the jax-js results below agree with the float64 references to ~1e-6, not ~1e-15; the checks
 * use {@link JAXJS_WASM_TOL} and the measured errors are returned alongside the times.
 *
 * @module
 */

import {
  type LogregProblem,
  type MlpProblem,
  type SoftmaxMlpProblem,
  softmaxMlpHvpByDifferences,
  softmaxMlpReference,
  logregHvpReference,
  logregReference,
  makeLogregProblem,
  makeMlpProblem,
  makeSoftmaxMlpProblem,
  mlpHvpByDifferences,
  mlpReference,
  relativeError,
  checkAgainstReference,
} from './problems.ts';
import { type TimeItOptions, timeIt, timeItAsync } from './timing.ts';
import { Rng } from '../../src/core/rng.ts';

export { makeLogregProblem, makeMlpProblem, makeSoftmaxMlpProblem };

type Jax = typeof import('@jax-js/jax');
type JArray = import('@jax-js/jax').numpy.Array;

let jaxPromise: Promise<Jax> | null = null;

/**
 * Imports jax-js once, after giving Node 20 the `Float16Array` global it expects, and selects
 * the wasm backend.
 *
 * @example
 * ```ts
 * const jax = await loadJaxJs();
 * jax.defaultDevice(); // → 'wasm'
 * ```
 */
export function loadJaxJs(): Promise<Jax> {
  jaxPromise ??= (async () => {
    const g = globalThis as { Float16Array?: unknown };
    if (g.Float16Array === undefined) {
      g.Float16Array = class Float16ArrayUnavailable {
        constructor() {
          throw new Error('Float16Array is not available on this Node version (jax-js float16 is unsupported here)');
        }
      };
    }
    const jax = await import('@jax-js/jax');
    const devices = await jax.init('wasm');
    if (!devices.includes('wasm')) throw new Error(`jax-js: the wasm backend did not start (got ${devices.join(', ')})`);
    jax.defaultDevice('wasm');
    return jax;
  })();
  return jaxPromise;
}

/**
 * Float64 scalar arrays for constants such as 1/n and λ/2. Passing them as arguments (rather than
 * writing `.mean()` or `.mul(lambda / 2)`) avoids a jax-js 0.1.25 bug, see the module notes.
 */
function scalars<T extends Record<string, number>>(np: Jax['numpy'], values: T): { [K in keyof T]: JArray } {
  const out = {} as { [K in keyof T]: JArray };
  for (const key of Object.keys(values) as (keyof T)[]) out[key] = np.array(new Float64Array([values[key]!])).reshape([]);
  return out;
}

/** Reads a float64 jax-js array back (releasing it) and checks that it really is float64. */
function read64(a: JArray): Float64Array {
  const out = a.dataSync();
  if (!(out instanceof Float64Array)) throw new Error(`jax-js returned ${out.constructor.name}, expected Float64Array`);
  return out;
}

/**
 * Tolerance for jax-js wasm results against the float64 references. Its float32-accurate exp/log
 * put honest results near 1e-6; every mistake that would make a benchmark time the wrong thing
 * (dropping the regulariser or the 1/n, a transposed X, the wrong HVP direction) moves the relative
 * error to 1e-2 or more on these problems. 1e-4 separates the two with two decades on each side.
 */
export const JAXJS_WASM_TOL = 1e-4;

/** Fails loudly when a peer's result disagrees with the float64 reference. */
function check(what: string, err: number, tol: number): void {
  checkAgainstReference('jax-js', what, err, tol);
}

type LogregParams = { w: JArray; b: JArray };
type LogregConsts = { invN: JArray; halfLambda: JArray };

/**
 * The logistic-regression objective in jax-js with its jitted gradient and forward-over-reverse HVP,
 * shared by the timed bench and the alternated `versus` runs.
 *
 * R(w, b) = (1/n)Σ(softplus(s) − y·s) + (λ/2)‖w‖², s = Xw + b. logaddexp(s, 0) is jax-js's stable
 * softplus (its nn.softplus is log(1 + eˢ), which overflows for s > 709). The constants 1/n and λ/2
 * arrive as array arguments, not literals: see the jit(jvp(grad)) note above.
 */
function logregFunctions(jax: Jax) {
  const { numpy: np, jit, grad, jvp, tree } = jax;
  const loss = (q: LogregParams, X: JArray, y: JArray, k: LogregConsts): JArray => {
    const s = np.matmul(X, q.w.ref).add(q.b);
    const bce = np.logaddexp(s.ref, 0).sub(y.mul(s)).sum().mul(k.invN);
    return bce.add(np.sum(np.square(q.w)).mul(k.halfLambda));
  };
  const gradJ = jit(grad(loss));
  const hvpJ = jit((q: LogregParams, v: LogregParams, X: JArray, y: JArray, k: LogregConsts): LogregParams => {
    const [g, hv] = jvp((r: LogregParams) => grad(loss)(r, X, y, k), [q], [v]);
    tree.dispose(g);
    return hv;
  });
  return { loss, gradJ, hvpJ };
}

/**
 * Logistic regression (n = 2000, d = 784, float64) in jax-js: times the objective, its gradient
 * and a forward-over-reverse HVP, after checking each against {@link logregReference} /
 * {@link logregHvpReference} (relative error ≤ {@link JAXJS_WASM_TOL}).
 */
async function benchLogreg(jax: Jax, p: LogregProblem, opts: TimeItOptions): Promise<Record<string, number>> {
  const { numpy: np, jit, grad, tree } = jax;
  type P = LogregParams;
  type K = LogregConsts;
  const { n, d, lambda } = p;
  const { loss, gradJ, hvpJ } = logregFunctions(jax);
  const lossJ = jit(loss);

  const X = np.array(p.X).reshape([n, d]);
  const y = np.array(p.y);
  const w = np.array(p.w);
  const b = np.array(new Float64Array([p.b]));
  const vw = np.array(p.vw);
  const vb = np.array(new Float64Array([p.vb]));
  const params = (): P => ({ w: w.ref, b: b.ref });
  const consts = scalars(np, { invN: 1 / n, halfLambda: lambda / 2 });
  const k = (): K => tree.ref(consts);

  try {
    const ref = logregReference(p);
    const lossVal = read64(lossJ(params(), X.ref, y.ref, k()))[0]!;
    const lossErr = Math.abs(lossVal - ref.loss) / Math.abs(ref.loss);
    check('logistic loss', lossErr, JAXJS_WASM_TOL);
    const g = gradJ(params(), X.ref, y.ref, k());
    const gradErr = relativeError([read64(g.w), read64(g.b)], [ref.gw, [ref.gb]]);
    check('logistic gradient', gradErr, JAXJS_WASM_TOL);
    const hv = hvpJ(params(), { w: vw.ref, b: vb.ref }, X.ref, y.ref, k());
    const href = logregHvpReference(p);
    const hvpErr = relativeError([read64(hv.w), read64(hv.b)], [href.hw, [href.hb]]);
    check('logistic HVP', hvpErr, JAXJS_WASM_TOL);

    const tLoss = timeIt(() => read64(lossJ(params(), X.ref, y.ref, k())), opts);
    const tGrad = timeIt(() => {
      const gg = gradJ(params(), X.ref, y.ref, k());
      read64(gg.w);
      read64(gg.b);
    }, opts);
    const tHvp = timeIt(() => {
      const h = hvpJ(params(), { w: vw.ref, b: vb.ref }, X.ref, y.ref, k());
      read64(h.w);
      read64(h.b);
    }, opts);
    // The same gradient without jit: what a user pays who does not wrap their code.
    const gradEager = grad(loss);
    const tEager = timeIt(() => {
      const gg = gradEager(params(), X.ref, y.ref, k());
      read64(gg.w);
      read64(gg.b);
    }, opts);
    return {
      'jaxjs.logreg.loss.ms': tLoss.median,
      'jaxjs.logreg.grad.ms': tGrad.median,
      'jaxjs.logreg.hvp.ms': tHvp.median,
      'jaxjs.logreg.grad.eager.ms': tEager.median,
      'jaxjs.logreg.loss.relerr': lossErr,
      'jaxjs.logreg.grad.relerr': gradErr,
      'jaxjs.logreg.hvp.relerr': hvpErr,
    };
  } finally {
    tree.dispose([X, y, w, b, vw, vb, consts]);
    lossJ.dispose();
    gradJ.dispose();
    hvpJ.dispose();
  }
}

/**
 * 784 → 64 → 1 tanh MLP (n = 2000, float64) in jax-js: objective, gradient and HVP, checked
 * against hand-written backprop (gradient) and central differences of it (HVP; the difference
 * quotient itself is good to ~1e-9), all within {@link JAXJS_WASM_TOL}.
 */
async function benchMlp(jax: Jax, m: MlpProblem, opts: TimeItOptions): Promise<Record<string, number>> {
  const { numpy: np, jit, grad, jvp, tree } = jax;
  type P = { W1: JArray; b1: JArray; W2: JArray; b2: JArray };
  type K = { invN: JArray; halfLambda: JArray };
  const { n, d, h, lambda } = m;

  const loss = (q: P, X: JArray, y: JArray, k: K): JArray => {
    const hidden = np.tanh(np.matmul(X, q.W1.ref).add(q.b1));
    const s = np.matmul(hidden, q.W2.ref).add(q.b2);
    const bce = np.logaddexp(s.ref, 0).sub(y.mul(s)).sum().mul(k.invN);
    const reg = np.sum(np.square(q.W1)).add(np.sum(np.square(q.W2))).mul(k.halfLambda);
    return bce.add(reg);
  };
  const lossJ = jit(loss);
  const gradJ = jit(grad(loss));
  const hvpJ = jit((q: P, v: P, X: JArray, y: JArray, k: K): P => {
    const [g, hv] = jvp((r: P) => grad(loss)(r, X, y, k), [q], [v]);
    tree.dispose(g);
    return hv;
  });

  const put = (p: typeof m.params) => ({
    W1: np.array(p.W1).reshape([d, h]),
    b1: np.array(p.b1),
    W2: np.array(p.W2),
    b2: np.array(new Float64Array([p.b2])),
  });
  const X = np.array(m.X).reshape([n, d]);
  const y = np.array(m.y);
  const theta = put(m.params);
  const dir = put(m.v);
  const params = (): P => tree.ref(theta);
  const direction = (): P => tree.ref(dir);
  const consts = scalars(np, { invN: 1 / n, halfLambda: lambda / 2 });
  const k = (): K => tree.ref(consts);
  const readAll = (q: P) => [read64(q.W1), read64(q.b1), read64(q.W2), read64(q.b2)];

  try {
    const ref = mlpReference(m);
    const lossVal = read64(lossJ(params(), X.ref, y.ref, k()))[0]!;
    const lossErr = Math.abs(lossVal - ref.loss) / Math.abs(ref.loss);
    check('MLP loss', lossErr, JAXJS_WASM_TOL);
    const g = ref.grad;
    const gradErr = relativeError(readAll(gradJ(params(), X.ref, y.ref, k())), [g.W1, g.b1, g.W2, [g.b2]]);
    check('MLP gradient', gradErr, JAXJS_WASM_TOL);
    const fd = mlpHvpByDifferences(m);
    const hvpErr = relativeError(readAll(hvpJ(params(), direction(), X.ref, y.ref, k())), [fd.W1, fd.b1, fd.W2, [fd.b2]]);
    check('MLP HVP', hvpErr, JAXJS_WASM_TOL);

    const tLoss = timeIt(() => read64(lossJ(params(), X.ref, y.ref, k())), opts);
    const tGrad = timeIt(() => readAll(gradJ(params(), X.ref, y.ref, k())), opts);
    const tHvp = timeIt(() => readAll(hvpJ(params(), direction(), X.ref, y.ref, k())), opts);
    return {
      'jaxjs.mlp.loss.ms': tLoss.median,
      'jaxjs.mlp.grad.ms': tGrad.median,
      'jaxjs.mlp.hvp.ms': tHvp.median,
      'jaxjs.mlp.loss.relerr': lossErr,
      'jaxjs.mlp.grad.relerr': gradErr,
      'jaxjs.mlp.hvp.relerr_vs_fd': hvpErr,
    };
  } finally {
    tree.dispose([X, y, theta, dir, consts]);
    lossJ.dispose();
    gradJ.dispose();
    hvpJ.dispose();
  }
}

/** One prepared jax-js problem: one call each of its gradient and HVP (results read back). */
export interface JaxPrepared {
  grad: () => void;
  hvp: () => void;
  /** Relative errors of the checked gradient and HVP against the float64 references. */
  errors: { grad: number; hvp: number };
  /** Frees the inputs and the compiled functions. */
  dispose: () => void;
}

/**
 * Issue 12's MLP (784 → 128 → 10 tanh, softmax cross-entropy, n = 1000, float64) in jax-js, jitted:
 * gradient and forward-over-reverse HVP, checked against {@link softmaxMlpReference} and central
 * differences of it within {@link JAXJS_WASM_TOL}, returned as calls to time.
 *
 * @example
 * ```ts
 * const s = prepareJaxSoftmaxMlp(await loadJaxJs(), makeSoftmaxMlpProblem(0));
 * s.hvp(); // one HVP, read back
 * s.dispose();
 * ```
 */
export function prepareJaxSoftmaxMlp(jax: Jax, m: SoftmaxMlpProblem): JaxPrepared {
  const { numpy: np, nn, jit, grad, jvp, tree } = jax;
  type P = { W1: JArray; b1: JArray; W2: JArray; b2: JArray };
  type K = { invN: JArray; halfLambda: JArray };
  const { n, d, h, c, lambda } = m;

  // The constants arrive as float64 array arguments (see the jit(jvp(grad)) note above).
  const loss = (q: P, X: JArray, Y: JArray, k: K): JArray => {
    const hidden = np.tanh(np.matmul(X, q.W1.ref).add(q.b1));
    const logits = np.matmul(hidden, q.W2.ref).add(q.b2);
    const ce = Y.mul(nn.logSoftmax(logits, -1)).sum().mul(k.invN).neg();
    const reg = np.sum(np.square(q.W1)).add(np.sum(np.square(q.W2))).mul(k.halfLambda);
    return ce.add(reg);
  };
  const gradJ = jit(grad(loss));
  const hvpJ = jit((q: P, v: P, X: JArray, Y: JArray, k: K): P => {
    const [g, hv] = jvp((r: P) => grad(loss)(r, X, Y, k), [q], [v]);
    tree.dispose(g);
    return hv;
  });
  const put = (p: SoftmaxMlpProblem['params']) => ({
    W1: np.array(p.W1).reshape([d, h]),
    b1: np.array(p.b1),
    W2: np.array(p.W2).reshape([h, c]),
    b2: np.array(p.b2),
  });
  const X = np.array(m.X).reshape([n, d]);
  const Y = np.array(m.Y).reshape([n, c]);
  const theta = put(m.params);
  const dir = put(m.v);
  const consts = scalars(np, { invN: 1 / n, halfLambda: lambda / 2 });
  const k = (): K => tree.ref(consts);
  const readAll = (q: P) => [read64(q.W1), read64(q.b1), read64(q.W2), read64(q.b2)];
  const runGrad = () => readAll(gradJ(tree.ref(theta), X.ref, Y.ref, k()));
  const runHvp = () => readAll(hvpJ(tree.ref(theta), tree.ref(dir), X.ref, Y.ref, k()));
  const dispose = () => {
    tree.dispose([X, Y, theta, dir, consts]);
    gradJ.dispose();
    hvpJ.dispose();
  };
  try {
    const g = softmaxMlpReference(m).grad;
    const gradErr = relativeError(runGrad(), [g.W1, g.b1, g.W2, g.b2]);
    check('softmax MLP gradient', gradErr, JAXJS_WASM_TOL);
    const fd = softmaxMlpHvpByDifferences(m);
    const hvpErr = relativeError(runHvp(), [fd.W1, fd.b1, fd.W2, fd.b2]);
    check('softmax MLP HVP', hvpErr, JAXJS_WASM_TOL);
    return { grad: () => void runGrad(), hvp: () => void runHvp(), errors: { grad: gradErr, hvp: hvpErr }, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/**
 * The logistic problem in jax-js, jitted, as in the `peers` section: gradient and HVP checked
 * within {@link JAXJS_WASM_TOL}, returned as calls to time.
 *
 * @example
 * ```ts
 * const s = prepareJaxLogreg(await loadJaxJs(), makeLogregProblem(0));
 * s.grad();
 * s.dispose();
 * ```
 */
export function prepareJaxLogreg(jax: Jax, p: LogregProblem): JaxPrepared {
  const { numpy: np, tree } = jax;
  const { n, d, lambda } = p;
  const { gradJ, hvpJ } = logregFunctions(jax);
  const X = np.array(p.X).reshape([n, d]);
  const y = np.array(p.y);
  const theta = { w: np.array(p.w), b: np.array(new Float64Array([p.b])) };
  const dir = { w: np.array(p.vw), b: np.array(new Float64Array([p.vb])) };
  const consts = scalars(np, { invN: 1 / n, halfLambda: lambda / 2 });
  const runGrad = () => {
    const g = gradJ(tree.ref(theta), X.ref, y.ref, tree.ref(consts));
    return [read64(g.w), read64(g.b)];
  };
  const runHvp = () => {
    const hv = hvpJ(tree.ref(theta), tree.ref(dir), X.ref, y.ref, tree.ref(consts));
    return [read64(hv.w), read64(hv.b)];
  };
  const dispose = () => {
    tree.dispose([X, y, theta, dir, consts]);
    gradJ.dispose();
    hvpJ.dispose();
  };
  try {
    const ref = logregReference(p);
    const gradErr = relativeError(runGrad(), [ref.gw, [ref.gb]]);
    check('logistic gradient', gradErr, JAXJS_WASM_TOL);
    const href = logregHvpReference(p);
    const hvpErr = relativeError(runHvp(), [href.hw, [href.hb]]);
    check('logistic HVP', hvpErr, JAXJS_WASM_TOL);
    return { grad: () => void runGrad(), hvp: () => void runHvp(), errors: { grad: gradErr, hvp: hvpErr }, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** Issue 12's MLP in jax-js: gradient and HVP, timed after {@link prepareJaxSoftmaxMlp}'s checks. */
function benchSoftmaxMlp(jax: Jax, m: SoftmaxMlpProblem, opts: TimeItOptions): Record<string, number> {
  const s = prepareJaxSoftmaxMlp(jax, m);
  try {
    return {
      'jaxjs.smlp.grad.ms': timeIt(s.grad, opts).median,
      'jaxjs.smlp.hvp.ms': timeIt(s.hvp, opts).median,
      'jaxjs.smlp.grad.relerr': s.errors.grad,
      'jaxjs.smlp.hvp.relerr_vs_fd': s.errors.hvp,
    };
  } finally {
    s.dispose();
  }
}

/**
 * float32 square matmul throughput on the wasm backend, 2N³ flops per product. The product is
 * forced with `blockUntilReady()` rather than read back, so the time is the kernel's, not a
 * 4 MB copy's. One entry in the result is checked against a float64 dot product.
 */
async function benchMatmul(jax: Jax, sizes: number[], opts: TimeItOptions): Promise<Record<string, number>> {
  const { numpy: np } = jax;
  const out: Record<string, number> = {};
  const rng = new Rng(99);
  for (const N of sizes) {
    const A = Float32Array.from({ length: N * N }, () => rng.uniform() - 0.5);
    const B = Float32Array.from({ length: N * N }, () => rng.uniform() - 0.5);
    const a = np.array(A).reshape([N, N]);
    const b = np.array(B).reshape([N, N]);
    try {
      const c = np.matmul(a.ref, b.ref).dataSync();
      if (!(c instanceof Float32Array)) throw new Error(`jax-js float32 matmul returned ${c.constructor.name}`);
      const i = N >> 1;
      const j = N >> 2;
      let exact = 0;
      for (let k = 0; k < N; k++) exact += A[i * N + k]! * B[k * N + j]!;
      // float32 accumulation of N terms of size ≤ 1/4: |error| ≲ N·2⁻²⁴·(N/4) ≪ 1e-2 for N ≤ 1024.
      if (!(Math.abs(c[i * N + j]! - exact) < 1e-2)) throw new Error(`jax-js matmul ${N}: C[${i},${j}] = ${c[i * N + j]}, expected ${exact}`);
      const t = await timeItAsync(async () => {
        const prod = np.matmul(a.ref, b.ref);
        await prod.blockUntilReady();
        prod.dispose();
      }, opts);
      out[`jaxjs.matmul.f32.${N}.gflops`] = (2 * N ** 3) / (t.median * 1e6);
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return out;
}

/** Options for {@link benchJaxJs}. */
export interface BenchJaxJsOptions {
  /** Problem seed (the data equal `makeLogregProblem(seed)`). Default 0. */
  seed?: number;
  /** Timing options for loss/gradient/HVP. Default `{ warmup: 3, repeats: 15 }`. */
  timing?: TimeItOptions;
  /** Matmul sizes. Default [256, 512, 1024]. */
  matmulSizes?: number[];
}

/**
 * Times jax-js (wasm, single-threaded on Node) on unequal's benchmark problems and returns
 * milliseconds (median after warm-up) and GFLOP/s, keyed by name:
 *
 * - `jaxjs.logreg.{loss,grad,hvp}.ms`, `jaxjs.logreg.grad.eager.ms` — float64, n = 2000, d = 784, jitted
 *   (the eager one without jit);
 * - `jaxjs.mlp.{loss,grad,hvp}.ms` — float64 784 → 64 → 1 tanh MLP, jitted;
 * - `jaxjs.smlp.{grad,hvp}.ms` — float64 784 → 128 → 10 tanh MLP, softmax cross-entropy, n = 1000, jitted;
 * - `jaxjs.matmul.f32.{256,512,1024}.gflops`;
 * - `*.relerr` — the relative error against the float64 references, recorded so a report can show
 *   that the timed computation was verified (≈ 1e-6: jax-js wasm evaluates exp/log/tanh in float32
 *   even for float64 arrays, see the module notes). A result beyond {@link JAXJS_WASM_TOL} throws.
 *
 * @param opts seed, timing and matmul sizes.
 *
 * @example
 * ```ts
 * const r = await benchJaxJs();
 * console.log(r['jaxjs.logreg.grad.ms'], r['jaxjs.matmul.f32.1024.gflops']);
 * ```
 */
export async function benchJaxJs(opts: BenchJaxJsOptions = {}): Promise<Record<string, number>> {
  const seed = opts.seed ?? 0;
  const timing = opts.timing ?? { warmup: 3, repeats: 15 };
  const jax = await loadJaxJs();
  return {
    ...(await benchLogreg(jax, makeLogregProblem(seed), timing)),
    ...(await benchMlp(jax, makeMlpProblem(seed), timing)),
    ...benchSoftmaxMlp(jax, makeSoftmaxMlpProblem(seed), timing),
    ...(await benchMatmul(jax, opts.matmulSizes ?? [256, 512, 1024], { warmup: 2, repeats: 7 })),
  };
}


// Run directly: `node --import tsx bench/peers/jaxjs.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchJaxJs();
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(34)} ${v.toPrecision(4)}`);
}
