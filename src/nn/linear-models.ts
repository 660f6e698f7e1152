/**
 * The convex models of Koh & Liang's experiments, as params pytrees plus per-example losses:
 *
 * | kind      | params                          | ℓ(z, θ) for z = (x, y)                          |
 * |-----------|---------------------------------|-------------------------------------------------|
 * | `linreg`  | `{ w: [d], b: [] }`             | (wᵀx + b − y)²  (squared error, no ½)           |
 * | `logreg`  | `{ w: [d], b: [] }`, y ∈ {0, 1} | softplus(z) − y z, z = wᵀx + b (cross-entropy)  |
 * | `softmax` | `{ W: [K, d], b: [K] }`, y ∈ 0..K−1 | −log softmax(W x + b)_y                     |
 *
 * The flat parameter vector θ (see `nn/objective.ts`) is therefore `[w…, b]` for the binary models
 * and `[W[0,0..d−1], W[1,0..d−1], …, W[K−1,…], b[0..K−1]]` (W row-major by class, then the K
 * intercepts) for softmax: exactly the `params` array the CLI writes.
 *
 * All three are generalised linear models: the Hessian is (1/n) Σᵢ wᵢ (x̃ᵢ x̃ᵢᵀ ⊗ Dᵢ) + λ diag(mask)
 * with x̃ = [x, 1] and Dᵢ = ∇²_z ℓ the curvature in the logits (2 for squared error, σ(1 − σ) for
 * logistic, diag(p) − ppᵀ for softmax). Building it from that formula, skipping zero features,
 * costs one pass over the data instead of p engine HVPs; the tests check it against the engine's
 * `hessian`.
 *
 * @module
 */
import { stridedAxpy, stridedDot } from '../linalg/vector.ts';
import { fromFloat64 } from '../core/create.ts';
import type { Tensor } from '../core/tensor.ts';
import { add } from '../ops/arith.ts';
import { matmul } from '../ops/products.ts';
import { bceWithLogits, softmaxCrossEntropy, squaredError } from '../ops/losses.ts';
import { transpose } from '../ops/shape-ops.ts';
import { Objective } from './objective.ts';

/** The three convex models. */
export type LinearModelKind = 'linreg' | 'logreg' | 'softmax';

/** Params of `linreg` and `logreg`. */
export interface BinaryParams {
  [key: string]: Tensor;
  /** The weights, shape `[d]` (L2-penalised). */
  w: Tensor;
  /** The intercept, a scalar (not penalised). */
  b: Tensor;
}
/** Params of `softmax`. */
export interface SoftmaxParams {
  [key: string]: Tensor;
  /** The weights, shape `[K, d]`, one row per class (L2-penalised). */
  W: Tensor;
  /** The intercepts, shape `[K]` (not penalised; defined only up to a common constant). */
  b: Tensor;
}
/** Params of any linear model. */
export type LinearParams = BinaryParams | SoftmaxParams;

/** A dense numeric dataset: `X` row-major `n × d`, one label per row. */
export interface Dataset {
  /** The features, row-major `n × d`. */
  X: Float64Array;
  /** The labels, one per row: 0/1 for `logreg`, real for `linreg`, 0..K−1 for `softmax`. */
  y: Float64Array;
  /** Number of rows (examples). */
  n: number;
  /** Number of features per row (the label excluded). */
  d: number;
}

/** A linear model: its parameter structure, loss, and how labels become targets. */
export interface LinearModel {
  /** Which of the three models this is. */
  kind: LinearModelKind;
  /** Number of features. */
  d: number;
  /** Number of classes K for softmax; 1 for the others. */
  classes: number;
  /** Length of θ: (d + 1) K. */
  dim: number;
  /** Zero parameters of the right shapes. */
  init(): LinearParams;
  /** Per-example losses for a batch (no regulariser). */
  loss(params: LinearParams, X: Tensor, Y: Tensor): Tensor;
  /** Logits (or predictions for linreg): `[m]` for binary models, `[m, K]` for softmax. */
  logits(params: LinearParams, X: Tensor): Tensor;
  /** Targets for the loss: the labels `[n]`, or one-hot `[n, K]` for softmax. Validates labels. */
  targets(y: Float64Array, source?: string): Tensor;
}

/**
 * A linear model of the given kind for `d` features (and `classes` classes for softmax).
 *
 * @example
 * ```ts
 * const m = linearModel('logreg', 2);
 * m.loss(m.init(), tensor([[1, 2]]), tensor([1])).toArray(); // [log 2]
 * ```
 */
export function linearModel(kind: LinearModelKind, d: number, classes = kind === 'softmax' ? 2 : 1): LinearModel {
  if (kind !== 'linreg' && kind !== 'logreg' && kind !== 'softmax') throw new Error(`linearModel: unknown kind '${kind as string}' (linreg, logreg or softmax)`);
  if (!(Number.isInteger(d) && d >= 1)) throw new Error(`linearModel: d must be a positive integer, got ${d}`);
  const K = kind === 'softmax' ? classes : 1;
  if (kind === 'softmax' && !(Number.isInteger(K) && K >= 2)) throw new Error(`linearModel: softmax needs at least 2 classes, got ${classes}`);
  const logits = (params: LinearParams, X: Tensor): Tensor =>
    kind === 'softmax' ? add(matmul(X, transpose(params.W!)), params.b) : add(matmul(X, (params as BinaryParams).w), params.b);
  return {
    kind,
    d,
    classes: K,
    dim: (d + 1) * K,
    init: (): LinearParams =>
      kind === 'softmax'
        ? ({ W: fromFloat64(new Float64Array(K * d), [K, d]), b: fromFloat64(new Float64Array(K), [K]) } as SoftmaxParams)
        : ({ w: fromFloat64(new Float64Array(d), [d]), b: fromFloat64(new Float64Array(1), []) } as BinaryParams),
    logits,
    loss(params, X, Y) {
      const z = logits(params, X);
      if (kind === 'linreg') return squaredError(z, Y);
      if (kind === 'logreg') return bceWithLogits(z, Y);
      return softmaxCrossEntropy(z, Y);
    },
    targets(y, source = 'labels') {
      const n = y.length;
      if (kind === 'linreg') return fromFloat64(Float64Array.from(y), [n]);
      if (kind === 'logreg') {
        for (let i = 0; i < n; i++) {
          if (y[i] !== 0 && y[i] !== 1) throw new Error(`${source}: row ${i + 1} has label ${y[i]}; logreg needs labels 0 or 1`);
        }
        return fromFloat64(Float64Array.from(y), [n]);
      }
      const Y = new Float64Array(n * K);
      for (let i = 0; i < n; i++) {
        const c = y[i]!;
        if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`${source}: row ${i + 1} has label ${c}; softmax with ${K} classes needs integer labels 0..${K - 1}`);
        Y[i * K + c] = 1;
      }
      return fromFloat64(Y, [n, K]);
    },
  };
}

/**
 * The number of softmax classes implied by integer labels: max label + 1 (at least 2).
 *
 * @example
 * ```ts
 * classesOf(new Float64Array([0, 2]), new Float64Array([1])); // 3
 * ```
 */
export function classesOf(...labelSets: Float64Array[]): number {
  let m = 1;
  for (const y of labelSets) for (const v of y) if (Number.isFinite(v)) m = Math.max(m, Math.floor(v));
  return m + 1;
}

/**
 * The logits z = W x̃ of every row for θ (plain loops; used by the fast Hessian).
 * Returns a row-major `n × K` matrix.
 */
function logitsOf(theta: Float64Array, X: Float64Array, n: number, d: number, K: number): Float64Array {
  const Z = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    for (let c = 0; c < K; c++) {
      let s = theta[K * d + c]!;
      const wo = c * d;
      for (let j = 0; j < d; j++) s += theta[wo + j]! * X[xo + j]!;
      Z[i * K + c] = s;
    }
  }
  return Z;
}

/**
 * Dᵢ = ∇²_z ℓ, the curvature of example i's loss in its logits `Z[i]` (row-major `K × K`, written
 * into `D` from `offset`): 2 for squared error, σ(1 − σ) for logistic, diag(p) − ppᵀ for softmax.
 * `prob` is scratch space for K probabilities.
 */
function logitCurvature(kind: LinearModelKind, Z: Float64Array, i: number, K: number, D: Float64Array, offset: number, prob: Float64Array): void {
  if (kind === 'linreg') D[offset] = 2;
  else if (kind === 'logreg') {
    const z = Z[i]!;
    const s = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    D[offset] = s * (1 - s);
  } else {
    let m = -Infinity;
    for (let c = 0; c < K; c++) m = Math.max(m, Z[i * K + c]!);
    let tot = 0;
    for (let c = 0; c < K; c++) tot += prob[c] = Math.exp(Z[i * K + c]! - m);
    for (let c = 0; c < K; c++) prob[c] = prob[c]! / tot;
    for (let c = 0; c < K; c++) for (let e = 0; e < K; e++) D[offset + c * K + e] = (c === e ? prob[c]! : 0) - prob[c]! * prob[e]!;
  }
}

/**
 * The dense Hessian of R for a linear model, by the GLM formula in the module notes.
 *
 * @example
 * ```ts
 * const H = linearHessian('logreg', theta, data, 0.01); // (d+1)² entries, row-major
 * ```
 */
export function linearHessian(
  kind: LinearModelKind,
  theta: Float64Array,
  data: Dataset,
  l2: number,
  classes = 1,
  weights?: Float64Array,
): Float64Array {
  const { X, n, d } = data;
  const K = kind === 'softmax' ? classes : 1;
  const p = (d + 1) * K;
  if (theta.length !== p) throw new Error(`linearHessian: θ has length ${theta.length}, expected ${p}`);
  const Z = logitsOf(theta, X, n, d, K);
  const H = new Float64Array(p * p);
  // θ index of feature j (j = d: the intercept) of class c.
  const at = (c: number, j: number) => (j === d ? K * d + c : c * d + j);
  const idx = new Int32Array(d + 1);
  const val = new Float64Array(d + 1);
  const D = new Float64Array(K * K);
  const prob = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    const wi = (weights ? weights[i]! : 1) / n;
    if (wi === 0) continue;
    logitCurvature(kind, Z, i, K, D, 0, prob);
    // Non-zero entries of x̃ = [x, 1] (MNIST rows are ~80% zeros).
    let nnz = 0;
    const xo = i * d;
    for (let j = 0; j < d; j++) {
      const v = X[xo + j]!;
      if (v !== 0) {
        idx[nnz] = j;
        val[nnz++] = v;
      }
    }
    idx[nnz] = d;
    val[nnz++] = 1;
    for (let c = 0; c < K; c++) {
      for (let e = c; e < K; e++) {
        const coef = wi * D[c * K + e]!;
        if (coef === 0) continue;
        for (let a = 0; a < nnz; a++) {
          const row = at(c, idx[a]!) * p;
          const ca = coef * val[a]!;
          for (let b = 0; b < nnz; b++) H[row + at(e, idx[b]!)] += ca * val[b]!;
        }
      }
    }
  }
  // Fill the class blocks below the diagonal from those above (D is symmetric).
  for (let c = 0; c < K; c++) {
    for (let e = c + 1; e < K; e++) {
      for (let a = 0; a <= d; a++) for (let b = 0; b <= d; b++) H[at(e, b) * p + at(c, a)] = H[at(c, a) * p + at(e, b)]!;
    }
  }
  for (let c = 0; c < K; c++) for (let j = 0; j < d; j++) H[at(c, j) * p + at(c, j)] += l2;
  return H;
}

/**
 * One row's term of the linear-model HVP on dense features: u = V x̃ᵢ, t = wᵢ Dᵢ u, out += t ⊗ x̃ᵢ
 * (x̃ᵢ = [xᵢ, 1], V the K × (d+1) reshaping of v, class-major weights then the K intercepts).
 * `u` and `t` are K-long scratch arrays.
 */
function denseRowHvp(
  X: Float64Array, xo: number, d: number, K: number, v: Float64Array,
  D: Float64Array, dOff: number, wi: number, u: Float64Array, t: Float64Array, out: Float64Array,
): void {
  for (let c = 0; c < K; c++) u[c] = v[K * d + c]! + stridedDot(v, c * d, X, xo, d);
  for (let c = 0; c < K; c++) {
    let s = 0;
    for (let e = 0; e < K; e++) s += D[dOff + c * K + e]! * u[e]!;
    t[c] = wi * s;
  }
  for (let c = 0; c < K; c++) {
    const tc = t[c]!;
    if (tc === 0) continue;
    stridedAxpy(tc, X, xo, out, c * d, d);
    out[K * d + c] += tc;
  }
}

/**
 * A fast HVP for a linear model: ∇²R(θ) v = (1/m) Σ_{i∈B} wᵢ x̃ᵢ ⊗ (Dᵢ (V x̃ᵢ)) + λ mask ⊙ v, with
 * X̃ stored sparsely when at most half its features are non-zero (MNIST pixels) and read densely
 * otherwise, and Dᵢ cached for the last θ (LiSSA and CG call it thousands of times at one θ). With
 * no batch, B is every row and m = n.
 *
 * @example
 * ```ts
 * const hv = linearHvp('logreg', data, 0.01);
 * hv(theta, v, undefined); // equals obj.engineHvp(theta, v) to rounding
 * ```
 */
export function linearHvp(
  kind: LinearModelKind,
  data: Dataset,
  l2: number,
  classes = 1,
): (theta: Float64Array, v: Float64Array, weights: Float64Array | undefined, batch?: ArrayLike<number>) => Float64Array {
  const { X, n, d } = data;
  const K = kind === 'softmax' ? classes : 1;
  const p = (d + 1) * K;
  // CSR of the non-zero features.
  const rowStart = new Int32Array(n + 1);
  let nnz = 0;
  for (let i = 0; i < X.length; i++) if (X[i] !== 0) nnz++;
  const col = new Int32Array(nnz);
  const val = new Float64Array(nnz);
  nnz = 0;
  for (let i = 0; i < n; i++) {
    rowStart[i] = nnz;
    for (let j = 0; j < d; j++) {
      const x = X[i * d + j]!;
      if (x !== 0) {
        col[nnz] = j;
        val[nnz++] = x;
      }
    }
  }
  rowStart[n] = nnz;
  let cachedTheta: Float64Array | null = null;
  let Dcache = new Float64Array(0);
  const curvature = (theta: Float64Array): Float64Array => {
    if (cachedTheta && cachedTheta.every((x, i) => x === theta[i])) return Dcache;
    const Z = logitsOf(theta, X, n, d, K);
    const D = new Float64Array(n * K * K);
    const prob = new Float64Array(K);
    for (let i = 0; i < n; i++) logitCurvature(kind, Z, i, K, D, i * K * K, prob);
    cachedTheta = Float64Array.from(theta);
    Dcache = D;
    return D;
  };
  const u = new Float64Array(K);
  const t = new Float64Array(K);
  // Mostly non-zero features (embeddings, standardised columns) read faster straight from X than
  // through the index indirection.
  const dense = nnz > 0.5 * n * d;
  return (theta, v, weights, batch) => {
    const D = curvature(theta);
    const out = new Float64Array(p);
    const m = batch ? batch.length : n;
    for (let k = 0; k < m; k++) {
      const i = batch ? batch[k]! : k;
      const wi = (weights ? weights[i]! : 1) / m;
      if (wi === 0) continue;
      if (dense) {
        denseRowHvp(X, i * d, d, K, v, D, i * K * K, wi, u, t, out);
        continue;
      }
      const a = rowStart[i]!;
      const b = rowStart[i + 1]!;
      for (let c = 0; c < K; c++) {
        let s = v[K * d + c]!;
        const off = c * d;
        for (let q = a; q < b; q++) s += v[off + col[q]!]! * val[q]!;
        u[c] = s;
      }
      for (let c = 0; c < K; c++) {
        let s = 0;
        for (let e = 0; e < K; e++) s += D[i * K * K + c * K + e]! * u[e]!;
        t[c] = wi * s;
      }
      for (let c = 0; c < K; c++) {
        const tc = t[c]!;
        if (tc === 0) continue;
        const off = c * d;
        for (let q = a; q < b; q++) out[off + col[q]!] += tc * val[q]!;
        out[K * d + c] += tc;
      }
    }
    for (let c = 0; c < K; c++) for (let j = 0; j < d; j++) out[c * d + j] += l2 * v[c * d + j]!;
    return out;
  };
}

/**
 * R(θ) for a linear model on a dataset: an {@link Objective} with the fast dense Hessian and HVP attached
 * (and, for softmax, the intercept gauge direction).
 *
 * @param kind the model.
 * @param data training data (`X` row-major `n × d`).
 * @param l2 λ in (λ/2)‖w‖².
 * @param opts `classes` for softmax (default: max label + 1), `weights` per example.
 *
 * @example
 * ```ts
 * const obj = linearObjective('logreg', { X, y, n, d }, 0.01);
 * const { theta } = newton(obj);
 * ```
 */
export function linearObjective(
  kind: LinearModelKind,
  data: Dataset,
  l2: number,
  opts: { classes?: number; weights?: Float64Array; source?: string } = {},
): Objective<LinearParams> {
  const { X, y, n, d } = data;
  if (X.length !== n * d) throw new Error(`linearObjective: X has ${X.length} values, expected n·d = ${n}·${d}`);
  if (y.length !== n) throw new Error(`linearObjective: ${y.length} labels for ${n} rows`);
  const classes = kind === 'softmax' ? (opts.classes ?? classesOf(y)) : 1;
  const model = linearModel(kind, d, classes);
  const gauge: Float64Array[] = [];
  if (kind === 'softmax') {
    const u = new Float64Array(model.dim);
    u.fill(1 / Math.sqrt(classes), classes * d);
    gauge.push(u);
  }
  const fastHvp = linearHvp(kind, data, l2, classes);
  return new Objective<LinearParams>({
    params: model.init(),
    loss: model.loss,
    X: fromFloat64(X, [n, d]),
    Y: model.targets(y, opts.source),
    l2,
    weights: opts.weights,
    denseHessian: (theta, weights) => linearHessian(kind, theta, data, l2, classes, weights),
    fastHvp,
    gauge: gauge.length ? gauge : undefined,
  });
}
