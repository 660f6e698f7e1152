/**
 * Representer points, RPS-L2 (Yeh, Kim, Yen & Ravikumar 2018, "Representer Point Selection for
 * Explaining Deep Neural Networks"), as dattri's `RPSAttributor` runs it.
 *
 * Usage — the trained model's last layer, its training set and the test set:
 *
 * ```ts
 * const last = linearLastLayer(obj, theta);             // logistic/softmax regression: features = inputs
 * // const last = mlpLastLayer(obj, theta, 'relu');     // an MLP: features = the last hidden activation
 * const { scores, gradNorm } = representerPoints(last, obj.spec, { X: Xtest, Y: Ytest }); // ScoreMatrix tests × n
 * ```
 *
 * Method. With fᵢ the input of the model's last linear layer (the penultimate features) and
 * tᵢ the targets, a bias-free last layer Θ (`K × d`) is fitted to the stationary point of
 *
 *   R(Θ) = (1/n) Σᵢ ℓ(Θ fᵢ, tᵢ) + (λ/2) ‖Θ‖²_F
 *
 * (ℓ softmax cross-entropy, or binary cross-entropy for one output; targets `'model'` = the trained
 * model's own predicted probabilities, as Yeh et al. and dattri fine-tune, or `'labels'`). At
 * ∇R = 0, Θ = Σᵢ αᵢ fᵢᵀ with αᵢ = −(1/(λn)) ∂ℓ(Θfᵢ, tᵢ)/∂(Θfᵢ) (a K-vector), so every pre-activation
 * splits over the training points: Θ f = Σᵢ αᵢ (fᵢᵀ f) (the representer theorem; proofs/representer.md).
 * The score of training point i for test point t with label c is its share of the test's logit c:
 *
 *   values[t, i] = αᵢ[c] · fᵢᵀ f_t            (binary: (2y_t − 1) · αᵢ · fᵢᵀ f_t)
 *
 * so positive = the point pushes the test's own class up (helps), the project's orientation. Not the
 * units of a removal effect (no H⁻¹, no 1/n beyond α's): rank metrics do not see the scale.
 *
 * Conventions against dattri: its penalty is λ_d ‖Θ‖² with the mean loss, so λ = 2λ_d (its default
 * λ_d = 0.003 is `l2: 0.006`, the default here); it reads the test class from the labels as here.
 * For one output dattri returns αᵢ fᵢᵀf_t without the (2y_t − 1), so its binary scores are oriented
 * towards class 1, not towards the test's label. The bias of the original last layer is dropped in
 * the surrogate (a bias without penalty would break the decomposition). Instead of dattri's
 * fixed-step line-search loop (stopped at 1/200 of the first gradient), the surrogate is minimised
 * by L-BFGS to ‖∇R‖ < `tol`, so the decomposition holds to rounding; `gradNorm` reports it.
 *
 * @module
 */
import { normalizeRowsInPlace, softmaxRowsInPlace } from '../linalg/vector.ts';
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { gemm } from '../prims/index.ts';
import type { Objective } from '../nn/objective.ts';
import { type Activation, type MlpParams, mlpLayerwise } from '../nn/mlp.ts';
import { minimizeLbfgs } from '../optim/lbfgs.ts';
import type { ScoreMatrix, TestSet } from './scores.ts';

/** A trained model's last linear layer seen from its input: features and logits of some rows. */
export interface LastLayerOutputs {
  /** fᵢ, the input of the last linear layer, row-major `rows × d`. */
  features: Float64Array;
  /** The model's logits (pre-activations of the last layer, bias included), row-major `rows × K`. */
  logits: Float64Array;
  /** Number of rows. */
  rows: number;
  /** Feature width d. */
  d: number;
  /** Outputs K (1 for a binary model). */
  outputs: number;
  /** The model's own last-layer weights, row-major `K × d` (bias dropped): where the surrogate fit starts, as in dattri. */
  weights?: Float64Array;
}

/** Maps input rows X to the last layer's features and the model's logits. */
export type LastLayer = (X: Tensor) => LastLayerOutputs;

/**
 * The last layer of a linear model (`linearObjective`: softmax `{ W, b }` or binary `{ w, b }`) at
 * θ: the features are the inputs themselves, the logits X Wᵀ + b.
 *
 * @example
 * ```ts
 * const last = linearLastLayer(obj, theta);
 * last(obj.spec.X).d; // the number of input features
 * ```
 */
export function linearLastLayer<P extends Pytree>(obj: Objective<P>, theta: Float64Array): LastLayer {
  const { keys, shapes, offsets } = obj.layout;
  const softmax = keys.length === 2 && keys[0] === 'W' && keys[1] === 'b' && shapes[0]!.length === 2;
  const binary = keys.length === 2 && keys[0] === 'w' && keys[1] === 'b' && shapes[0]!.length === 1 && shapes[1]!.length === 0;
  if (!softmax && !binary) throw new Error(`linearLastLayer: expected params { W: [K, d], b: [K] } or { w: [d], b: [] }, got ${keys.map((k, i) => `${k}: [${shapes[i]!.join(', ')}]`).join(', ')}`);
  if (theta.length !== obj.dim) throw new Error(`linearLastLayer: θ has length ${theta.length}, the objective ${obj.dim}`);
  const K = softmax ? shapes[0]![0]! : 1;
  const d = softmax ? shapes[0]![1]! : shapes[0]![0]!;
  const W = fromFloat64(theta.slice(offsets[0]!, offsets[0]! + K * d), [K, d]);
  return (X) => {
    if (X.ndim !== 2 || X.shape[1] !== d) throw new Error(`linearLastLayer: X must be [m, ${d}], got [${X.shape.join(', ')}]`);
    const rows = X.shape[0]!;
    const logits = gemm(X, W, false, true).toFloat64Array();
    for (let i = 0; i < rows; i++) for (let k = 0; k < K; k++) logits[i * K + k] += theta[offsets[1]! + k]!;
    return { features: X.toFloat64Array(), logits, rows, d, outputs: K, weights: W.toFloat64Array() };
  };
}

/**
 * The last layer of an MLP objective (params {@link MlpParams}) at θ: the features are the last
 * hidden layer's activation (the input of the final dense layer), the logits the network's output.
 *
 * @example
 * ```ts
 * const last = mlpLastLayer(obj, theta, 'relu');
 * last(obj.spec.X).d; // 128 for a 784→128→10 network
 * ```
 */
export function mlpLastLayer(obj: Objective<MlpParams>, theta: Float64Array, activation: Activation): LastLayer {
  const params = obj.params(theta);
  return (X) => {
    const trace = mlpLayerwise(params, X, activation);
    const f = trace.inputs[trace.inputs.length - 1]!;
    return { features: f.toFloat64Array(), logits: trace.logits.toFloat64Array(), rows: X.shape[0]!, d: f.shape[1]!, outputs: trace.logits.shape[1]!, weights: params[params.length - 1]!.W.toFloat64Array() };
  };
}

/** Options of {@link representerPoints}. */
export interface RepresenterOptions {
  /** λ of (λ/2)‖Θ‖² in the surrogate. Default 0.006 (dattri's λ_d = 0.003; module notes). */
  l2?: number;
  /** `'model'` (default): fit the model's own predicted probabilities, as Yeh et al. and dattri; `'labels'`: the training labels. */
  targets?: 'model' | 'labels';
  /** Normalise the features to unit length in the kernel fᵢᵀ f_t (dattri's `normalize_preactivate`). Default false. */
  normalize?: boolean;
  /**
   * Stop L-BFGS when ‖∇R‖₂ < tol. Default 1e-7: the decomposition is then off by at most
   * tol·‖f‖/λ per pre-activation (proofs/representer.md); pass 1e-12 for the identity to rounding.
   */
  tol?: number;
  /** L-BFGS iteration cap. Default 5000. */
  maxIter?: number;
  /** Starting Θ (`K × d`). Default: the model's own last-layer weights when the {@link LastLayer} gives them, else 0. */
  init?: Float64Array;
  /** Return (with `converged: false`) instead of throwing when tol is not reached. Default false. */
  allowUnconverged?: boolean;
}

/** What {@link representerPoints} returns. */
export interface RepresenterResult {
  /** values[t, i] = αᵢ[c_t] · fᵢᵀ f_t (module notes), `tests × n`. */
  scores: ScoreMatrix;
  /** The fitted surrogate Θ, row-major `K × d`. */
  theta: Float64Array;
  /** αᵢ = −(1/(λn)) ∂ℓ/∂(Θfᵢ), row-major `n × K`. */
  alpha: Float64Array;
  /** ‖∇R(Θ)‖₂ at the returned Θ: the decomposition Θ f = Σᵢ αᵢ fᵢᵀ f is off by (∇R/λ) f. */
  gradNorm: number;
  /** L-BFGS iterations. */
  iterations: number;
  /** Whether ‖∇R‖ < tol. */
  converged: boolean;
}

/** Class labels of targets Y: argmax of each row for `[m, K]`, the 0/1 value itself for `[m]`. */
function labelsOf(Y: Tensor, K: number, what: string): Int32Array {
  const y = Y.toFloat64Array();
  const m = Y.shape[0] ?? 0;
  if (K === 1) {
    if (y.length !== m) throw new Error(`representerPoints: ${what} targets must be [m] labels 0/1 for a one-output model, got [${Y.shape.join(', ')}]`);
    return Int32Array.from(y, (v, i) => {
      if (v !== 0 && v !== 1) throw new Error(`representerPoints: ${what} row ${i} has label ${v}; a one-output model needs 0 or 1`);
      return v;
    });
  }
  if (y.length !== m * K) throw new Error(`representerPoints: ${what} targets must be one-hot [m, ${K}], got [${Y.shape.join(', ')}]`);
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (y[i * K + k]! > y[i * K + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** ∂ℓ/∂z row by row for logits Z and target probabilities P (softmax CE, or BCE when K = 1), and Σᵢ ℓᵢ. */
function lossAndSignal(Z: Float64Array, P: Float64Array, n: number, K: number): { total: number; G: Float64Array } {
  const G = new Float64Array(n * K);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const o = i * K;
    if (K === 1) {
      const z = Z[i]!;
      // softplus(z) − t z and σ(z) − t, both through exp of a non-positive argument.
      const e = Math.exp(-Math.abs(z));
      total += Math.max(z, 0) + Math.log1p(e) - P[i]! * z;
      G[i] = (z >= 0 ? 1 / (1 + e) : e / (1 + e)) - P[i]!;
      continue;
    }
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, Z[o + k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(Z[o + k]! - max);
    const lse = max + Math.log(sum);
    let mass = 0;
    for (let k = 0; k < K; k++) mass += P[o + k]!;
    for (let k = 0; k < K; k++) {
      total += P[o + k]! * (lse - Z[o + k]!);
      G[o + k] = mass * Math.exp(Z[o + k]! - lse) - P[o + k]!;
    }
  }
  return { total, G };
}

/** Softmax (or sigmoid for K = 1) of each row of logits. */
function probabilities(Z: Float64Array, n: number, K: number): Float64Array {
  if (K === 1) return Z.map((z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z))));
  return softmaxRowsInPlace(Float64Array.from(Z), n, K);
}


/**
 * RPS-L2 scores of every training point for every test point (module notes): fits the L2
 * surrogate of the last layer to stationarity, then splits each test pre-activation over the
 * training points.
 *
 * @param last the trained model's last layer ({@link linearLastLayer}, {@link mlpLastLayer}).
 * @param train the training rows `{ X, Y }` (an objective's `spec` will do); Y one-hot `[n, K]`, or `[n]` 0/1 labels for one output.
 * @param test the test rows, targets in the same format.
 *
 * @example
 * ```ts
 * const { scores, alpha, gradNorm } = representerPoints(mlpLastLayer(obj, theta, 'relu'), obj.spec, { X: Xtest, Y: Ytest });
 * ```
 */
export function representerPoints(last: LastLayer, train: { X: Tensor; Y: Tensor }, test: TestSet, options: RepresenterOptions = {}): RepresenterResult {
  const { l2 = 0.006, targets = 'model', normalize = false, tol = 1e-7, maxIter = 5000, allowUnconverged = false } = options;
  if (!(l2 > 0)) throw new Error(`representerPoints: l2 must be > 0 (the representer theorem divides by λ), got ${l2}`);
  if (targets !== 'model' && targets !== 'labels') throw new Error(`representerPoints: targets must be 'model' or 'labels', got '${targets as string}'`);
  const tr = last(train.X);
  const te = last(test.X);
  const { rows: n, d, outputs: K } = tr;
  if (te.d !== d || te.outputs !== K) throw new Error(`representerPoints: test features are ${te.rows} × ${te.d} with ${te.outputs} outputs, training ${n} × ${d} with ${K}`);
  if (n === 0) throw new Error('representerPoints: no training rows');
  const yTrain = labelsOf(train.Y, K, 'training');
  const yTest = labelsOf(test.Y, K, 'test');
  if (yTrain.length !== n || yTest.length !== te.rows) throw new Error(`representerPoints: ${yTrain.length} training and ${yTest.length} test targets for ${n} and ${te.rows} rows`);
  let T: Float64Array;
  if (targets === 'model') T = probabilities(tr.logits, n, K);
  else {
    T = new Float64Array(n * K);
    for (let i = 0; i < n; i++) {
      if (K === 1) T[i] = yTrain[i]!;
      else T[i * K + yTrain[i]!] = 1;
    }
  }
  const F = fromFloat64(tr.features, [n, d]);
  // R(Θ) = (1/n) Σ ℓ(Θ fᵢ, tᵢ) + (λ/2)‖Θ‖², ∇R = (1/n) Gᵀ F + λ Θ.
  const fg = (th: Float64Array): [number, Float64Array] => {
    const Z = gemm(F, fromFloat64(th, [K, d]), false, true).toFloat64Array();
    const { total, G } = lossAndSignal(Z, T, n, K);
    const g = gemm(fromFloat64(G, [n, K]), F, true, false).toFloat64Array();
    let sq = 0;
    for (let q = 0; q < th.length; q++) {
      sq += th[q]! * th[q]!;
      g[q] = g[q]! / n + l2 * th[q]!;
    }
    return [total / n + (l2 / 2) * sq, g];
  };
  if (options.init && options.init.length !== K * d) throw new Error(`representerPoints: init has ${options.init.length} entries, Θ is ${K} × ${d}`);
  const start = options.init ?? (tr.weights?.length === K * d ? tr.weights : new Float64Array(K * d));
  const fit = minimizeLbfgs(fg, start, { tol, maxIter, allowUnconverged });
  const theta = fit.theta;
  const Z = gemm(F, fromFloat64(theta, [K, d]), false, true).toFloat64Array();
  const { G } = lossAndSignal(Z, T, n, K);
  const alpha = G.map((g) => -g / (l2 * n));
  // Kernel k(t, i) = f_tᵀ fᵢ (unit features with `normalize`), then αᵢ[c_t].
  const Ft = normalize ? normalizeRowsInPlace(Float64Array.from(te.features), te.rows, d) : te.features;
  const Fi = normalize ? normalizeRowsInPlace(Float64Array.from(tr.features), n, d) : tr.features;
  const kernel = gemm(fromFloat64(Ft, [te.rows, d]), fromFloat64(Fi, [n, d]), false, true).toFloat64Array();
  const values = new Float64Array(te.rows * n);
  for (let t = 0; t < te.rows; t++) {
    const c = yTest[t]!;
    for (let i = 0; i < n; i++) {
      const a = K === 1 ? (2 * c - 1) * alpha[i]! : alpha[i * K + c]!;
      values[t * n + i] = a * kernel[t * n + i]!;
    }
  }
  return { scores: { tests: te.rows, train: n, values }, theta, alpha, gradNorm: fit.gradNorm, iterations: fit.iterations, converged: fit.converged };
}
