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

/** Labels with a name for error messages (a file, a flag): an argument of {@link classesOf}. */
export interface NamedLabels {
  /** The labels, one per row. */
  labels: Float64Array;
  /** What to call them in errors, e.g. `--train train.csv`. Default `labels <k>` (1-based). */
  source?: string;
}

/** The integers in 0..max missing from `present`, as runs `2..2999, 3001` (at most `limit` runs, then `…`). */
function missingRuns(present: Set<number>, max: number, limit = 4): { text: string; first: number; count: number } {
  const sorted = [...present].sort((a, b) => a - b);
  const runs: string[] = [];
  let prev = -1;
  let first = -1;
  for (const v of [...sorted, max + 1]) {
    if (v > prev + 1) {
      if (first < 0) first = prev + 1;
      runs.push(v - 1 === prev + 1 ? `${prev + 1}` : `${prev + 1}..${v - 1}`);
    }
    prev = v;
  }
  const text = runs.length > limit ? `${runs.slice(0, limit).join(', ')}, …` : runs.join(', ');
  return { text, first, count: max + 1 - present.size };
}

/**
 * The number of softmax classes K implied by integer labels 0..K−1, inferred only when every class
 * 0..K−1 appears in at least one of the label sets (at least 2, so that labels all 0 give K = 2
 * with class 1 absent, which {@link checkMinimiser} then reports). A gap means a stray or mistyped
 * label: one label 3000 among 0..9 would otherwise build 3001 classes (K × (d + 1) parameters, a
 * (K(d+1))² Hessian), almost all of them without a single row and hence without a minimiser. So a
 * gap throws, naming the missing classes and the rows holding labels above the first gap; pass
 * `classes` to {@link linearObjective} (the CLI's `--classes K`) to fix K instead. A label that is
 * not a non-negative integer also throws, naming its row.
 *
 * @param labelSets the label arrays (e.g. training and test labels), optionally named.
 * @returns K = largest label + 1 (at least 2).
 *
 * @example
 * ```ts
 * classesOf(new Float64Array([0, 2]), new Float64Array([1])); // 3
 * classesOf(new Float64Array([0, 1, 3000]));
 * // throws: labels 1: the labels run to 3000 but classes 2..2999 never appear (3 of 3001 classes present; labels 1 row 3 has 3000): …
 * ```
 */
export function classesOf(...labelSets: (Float64Array | NamedLabels)[]): number {
  const sets = labelSets.map((s, k) => (s instanceof Float64Array ? { labels: s, source: `labels ${k + 1}` } : { labels: s.labels, source: s.source ?? `labels ${k + 1}` }));
  const present = new Set<number>();
  let max = 0;
  for (const { labels, source } of sets) {
    labels.forEach((v, i) => {
      if (!(Number.isInteger(v) && v >= 0)) throw new Error(`${source}: row ${i + 1} has label ${v}; softmax needs integer labels 0..K−1`);
      present.add(v);
      if (v > max) max = v;
    });
  }
  const K = Math.max(2, max + 1);
  if (present.size >= max + 1) return K; // every class 0..max appears (the labels are integers ≥ 0)
  const missing = missingRuns(present, max);
  // The rows above the first gap are the likely strays (a mistyped 3000 among 0..9).
  const strays: string[] = [];
  for (const { labels, source } of sets) {
    labels.forEach((v, i) => {
      if (v > missing.first && strays.length < 3) strays.push(`${source} row ${i + 1} has ${v}`);
    });
  }
  throw new Error(
    `${sets.map((s) => s.source).join(' and ')}: the labels run to ${max} but class${missing.count > 1 ? 'es' : ''} ${missing.text} never appear${missing.count > 1 ? '' : 's'}` +
      ` (${present.size} of ${max + 1} classes present; ${strays.join(', ')}): softmax labels must be 0..K−1 with every class present, so fix the stray labels` +
      ' or give the number of classes K explicitly',
  );
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
 * @param opts `classes` for softmax (default: {@link classesOf} the labels, which needs every class
 *   0..K−1 present), `weights` per example, `source` naming the data in label errors.
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
  const classes = kind === 'softmax' ? (opts.classes ?? classesOf({ labels: y, source: opts.source ?? 'labels' })) : 1;
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

/** Why a linear model's objective R has no minimiser (see {@link NoMinimiserError}). */
export type NoMinimiserReason = 'no-rows' | 'one-class' | 'absent-class' | 'separable';

/**
 * Thrown when R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖² has no minimiser, so that a trainer's
 * "converged" θ̂ (it stops where ∇R underflows, not at a minimum) and every influence or
 * leave-one-out number computed from it would be meaningless:
 *
 * - `no-rows`: no row (with positive weight) is left to train on.
 * - `one-class`: logreg (or softmax) rows of one class only: the intercept, which is not
 *   penalised, lowers R forever, for every λ.
 * - `absent-class`: a softmax class without rows: its intercept runs to −∞, for every λ.
 * - `separable`: at λ = 0, logreg/softmax rows that a direction u separates (every row strictly on
 *   its class's side) or quasi-separates (some strictly, the rest on the boundary): R(θ + t·u)
 *   keeps falling as t → ∞.
 *
 * `diagnosis` is the message without the advice that ends it, so that an application can give
 * its own (the CLI names its flags).
 *
 * @example
 * ```ts
 * try {
 *   checkMinimiser('logreg', { X: new Float64Array([1, 2]), y: new Float64Array([1, 1]), n: 2, d: 1 }, 0.1);
 * } catch (e) {
 *   if (e instanceof NoMinimiserError) console.log(e.reason, e.classes); // 'one-class' [1]
 * }
 * ```
 */
export class NoMinimiserError extends Error {
  constructor(
    /** Which of the cases above. */
    readonly reason: NoMinimiserReason,
    /** The diagnosis (the message without its advice). */
    readonly diagnosis: string,
    /** The advice for a library user, appended to the message. */
    fix: string,
    /** `one-class`: the only class present; `absent-class`: the classes without rows. */
    readonly classes: number[] = [],
    /**
     * 0-based rows: the row whose removal leaves no minimiser (leave-one-out checks), or for
     * `separable` the rows the direction separates strictly.
     */
    readonly rows: number[] = [],
    /** `separable`: the direction u along which R keeps falling (flat θ layout). */
    readonly direction?: Float64Array,
  ) {
    super(`${diagnosis}; ${fix}`);
    this.name = 'NoMinimiserError';
  }
}

/** Options of {@link checkMinimiser}. */
export interface CheckMinimiserOptions {
  /** K for softmax (default: {@link classesOf} of the labels). */
  classes?: number;
  /** Per-row weights; rows with weight 0 do not count (default: every row counts). */
  weights?: Float64Array;
  /** Names the data in messages (a file, a flag). Default `the training data`. */
  source?: string;
  /**
   * Also require a minimiser after removing any single row (what leave-one-out retrains on, and
   * what the default influence score predicts): at least 2 rows, and no class with a single row.
   */
  leaveOneOut?: boolean;
}

/**
 * Checks, from the labels alone, that R has a minimiser, for any λ ≥ 0: rows to train on, and for
 * logreg and softmax every class present (the intercepts are not penalised, so a missing class
 * sends an intercept to ±∞ whatever λ is). With λ > 0 and every class present R is coercive, so
 * this is then also sufficient; at λ = 0 separable data are the remaining case, which only a
 * trained θ̂ reveals ({@link checkTrainedMinimiser}). linreg always has a minimiser (unique when
 * the Hessian is positive definite).
 *
 * @throws {@link NoMinimiserError} naming the class (and with `leaveOneOut`, the row).
 *
 * @example
 * ```ts
 * const data = { X: new Float64Array([0, 1, 2]), y: new Float64Array([0, 1, 1]), n: 3, d: 1 };
 * checkMinimiser('logreg', data, 0.1);                        // passes
 * checkMinimiser('logreg', data, 0.1, { leaveOneOut: true }); // throws: row 1 is the only row of class 0 …
 * ```
 */
export function checkMinimiser(kind: LinearModelKind, data: Dataset, l2: number, opts: CheckMinimiserOptions = {}): void {
  const { y, n } = data;
  const source = opts.source ?? 'the training data';
  const w = opts.weights;
  const active: number[] = [];
  for (let i = 0; i < n; i++) if (!w || w[i]! > 0) active.push(i);
  const loo = opts.leaveOneOut ?? false;
  const advice = 'give more rows';
  if (active.length === 0) throw new NoMinimiserError('no-rows', `${source}: no row has positive weight, so there is nothing to train on`, advice);
  if (loo && active.length === 1) {
    throw new NoMinimiserError('no-rows', `${source}: it has one row (row ${active[0]! + 1}), and without it nothing is left to train on`, advice, [], [active[0]!]);
  }
  if (kind === 'linreg') return;
  const K = kind === 'softmax' ? (opts.classes ?? classesOf(y)) : 2;
  const counts = new Array<number>(K).fill(0);
  const last = new Array<number>(K).fill(-1);
  for (const i of active) {
    const c = y[i]!;
    if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`${source}: row ${i + 1} has label ${c}; ${kind} needs ${kind === 'logreg' ? 'labels 0 or 1' : `integer labels 0..${K - 1}`}`);
    counts[c]++;
    last[c] = i;
  }
  const intercept = (c: number) => (kind === 'logreg' ? 'b' : `b[${c}]`);
  const lambdaNote = l2 > 0 ? ` (λ = ${l2} does not help: the intercept is not penalised)` : '';
  const present = counts.flatMap((m, c) => (m > 0 ? [c] : []));
  const absent = counts.flatMap((m, c) => (m === 0 ? [c] : []));
  if (present.length === 1) {
    const c = present[0]!;
    const toward = kind === 'logreg' ? (c === 1 ? '+∞' : '−∞') : '+∞ against the others';
    throw new NoMinimiserError(
      'one-class',
      `${source}: every row has label ${c} (one class): R keeps falling as the intercept ${intercept(c)} runs to ${toward}, so R has no minimiser${lambdaNote}`,
      `add rows of the other class${K > 2 ? 'es' : ''}`,
      [c],
    );
  }
  if (absent.length > 0) {
    const many = absent.length > 1;
    throw new NoMinimiserError(
      'absent-class',
      `${source}: class${many ? 'es' : ''} ${absent.join(', ')} ha${many ? 've' : 's'} no row: R keeps falling as ${many ? 'their intercepts run' : `its intercept ${intercept(absent[0]!)} runs`} to −∞, so R has no minimiser${lambdaNote}`,
      `add rows of class${many ? 'es' : ''} ${absent.join(', ')}, or drop ${many ? 'them' : 'it'} (relabel the rest 0..K−1)`,
      absent,
    );
  }
  if (loo) {
    const c = counts.findIndex((m) => m === 1);
    if (c >= 0) {
      const i = last[c]!;
      const what = K === 2 ? `only class ${1 - c} is left and the intercept runs to ${c === 1 ? '−∞' : '+∞'}` : `class ${c} has no row and its intercept runs to −∞`;
      throw new NoMinimiserError(
        K === 2 ? 'one-class' : 'absent-class',
        `${source}: row ${i + 1} is the only row of class ${c}: without it ${what}, so leaving it out (and its influence, the predicted effect of that) has no minimiser to refer to${lambdaNote}`,
        `add rows of class ${c}, or drop the row`,
        [c],
        [i],
      );
    }
  }
}

/** A direction along which R keeps falling at λ = 0 (see {@link separationCertificate}). */
export interface SeparationCertificate {
  /** u in the flat θ layout: every margin is ≥ 0 along it, and some are > 0. */
  direction: Float64Array;
  /** Rows (0-based) that u separates strictly. */
  strict: number[];
  /** Rows (0-based) on u's boundary (margin 0 along u): empty for complete separation. */
  boundary: number[];
  /** Whether every row is strictly separated (complete separation). */
  complete: boolean;
}

/**
 * A certificate that the unregularised logreg or softmax loss has no minimiser: a direction u with
 * every margin aᵢᵀu ≥ 0 and some > 0, where for logreg aᵢ = (2yᵢ − 1)[xᵢ, 1] and for softmax there
 * is one constraint per row i and class c ≠ yᵢ, z_{yᵢ}(u) − z_c(u). Every term of the loss is then
 * non-increasing along u and some strictly decreasing, so (1/n) Σ ℓ(zᵢ, θ + t·u) keeps falling as
 * t → ∞ from any θ (Albert & Anderson 1984: separation and quasi-separation).
 *
 * It is looked for around a trained θ̂, where the optimiser stopped only because ∇R became tiny:
 *
 * 1. Complete separation: u = θ̂ itself when every margin of θ̂ exceeds its rounding bound.
 * 2. Quasi-separation: the rows pushed to large margins (softmax: the row/class pairs) are the
 *    separated ones; with B the constraints of small margin, u = θ̂ projected off span{aⱼ : j ∈ B}
 *    (B's rows then sit on u's boundary) is checked to have every aⱼᵀu ≥ 0 and some > 0, for cuts
 *    of the sorted margins (at most 64, where margins ≥ 8 jump).
 *
 * A returned certificate is exact up to rounding (|aⱼᵀu| within ~16(p+1)·u·‖aⱼ‖‖θ̂‖ counts as 0);
 * null means none was found, not a proof that a minimiser exists. The quasi search is skipped when
 * it would cost more than ~4·10⁹ flops (constraints × p × rank), or when no margin reaches 8.
 *
 * @param theta the trained parameters (flat layout of {@link linearModel}).
 * @param opts `classes` for softmax, `weights` (rows with weight 0 are left out).
 *
 * @example
 * ```ts
 * const data = { X: new Float64Array([-2, -1, 1, 2]), y: new Float64Array([0, 0, 1, 1]), n: 4, d: 1 };
 * separationCertificate('logreg', new Float64Array([30, 0]), data)?.complete; // true
 * ```
 */
export function separationCertificate(
  kind: LinearModelKind,
  theta: Float64Array,
  data: Dataset,
  opts: { classes?: number; weights?: Float64Array } = {},
): SeparationCertificate | null {
  if (kind === 'linreg') return null;
  const { X, y, n, d } = data;
  const K = kind === 'softmax' ? (opts.classes ?? classesOf(y)) : 1;
  const p = (d + 1) * K;
  if (theta.length !== p) throw new Error(`separationCertificate: θ has length ${theta.length}, expected ${p}`);
  if (!theta.every(Number.isFinite)) return null;
  const w = opts.weights;
  // Constraints: logreg one per row (cls −1), softmax one per row and rival class.
  const rowOf: number[] = [];
  const clsOf: number[] = [];
  for (let i = 0; i < n; i++) {
    if (w && !(w[i]! > 0)) continue;
    if (kind === 'logreg') {
      rowOf.push(i);
      clsOf.push(-1);
    } else {
      for (let c = 0; c < K; c++) {
        if (c === y[i]) continue;
        rowOf.push(i);
        clsOf.push(c);
      }
    }
  }
  const J = rowOf.length;
  if (J === 0) return null;
  // aⱼᵀv, and Σₖ |aⱼₖ vₖ| (the dot product's rounding scale).
  const apply = (j: number, v: Float64Array, abs: boolean): number => {
    const i = rowOf[j]!;
    const xo = i * d;
    const f = (t: number) => (abs ? Math.abs(t) : t);
    if (kind === 'logreg') {
      let s = f(v[d]!);
      for (let k = 0; k < d; k++) s += f(X[xo + k]! * v[k]!);
      return y[i] === 1 || abs ? s : -s;
    }
    const a = y[i]!;
    const c = clsOf[j]!;
    let s = f(v[K * d + a]!) + (abs ? f(v[K * d + c]!) : -v[K * d + c]!);
    for (let k = 0; k < d; k++) s += abs ? f(X[xo + k]! * v[a * d + k]!) + f(X[xo + k]! * v[c * d + k]!) : X[xo + k]! * (v[a * d + k]! - v[c * d + k]!);
    return s;
  };
  const dense = (j: number): Float64Array => {
    const a = new Float64Array(p);
    const i = rowOf[j]!;
    const xo = i * d;
    if (kind === 'logreg') {
      const sign = y[i] === 1 ? 1 : -1;
      for (let k = 0; k < d; k++) a[k] = sign * X[xo + k]!;
      a[d] = sign;
    } else {
      const yc = y[i]!;
      const c = clsOf[j]!;
      for (let k = 0; k < d; k++) {
        a[yc * d + k] = X[xo + k]!;
        a[c * d + k] = -X[xo + k]!;
      }
      a[K * d + yc] = 1;
      a[K * d + c] = -1;
    }
    return a;
  };
  const eps = Number.EPSILON;
  const margins = new Float64Array(J);
  let complete = true;
  for (let j = 0; j < J; j++) {
    margins[j] = apply(j, theta, false);
    if (!(margins[j]! > (d + 3) * eps * apply(j, theta, true))) complete = false;
  }
  const rowsWhere = (pred: (j: number) => boolean): number[] => [...new Set(rowOf.filter((_, j) => pred(j)))];
  if (complete) return { direction: Float64Array.from(theta), strict: rowsWhere(() => true), boundary: [], complete: true };

  // Quasi-separation: cuts of the ascending margins where a margin ≥ 8 jumps above the one before.
  const order = Array.from({ length: J }, (_, j) => j).sort((a, b) => margins[a]! - margins[b]!);
  const SATURATED = 8;
  let cuts: number[] = [];
  for (let k = 1; k < J; k++) if (margins[order[k]!]! >= SATURATED && margins[order[k]!]! > margins[order[k - 1]!]!) cuts.push(k);
  if (cuts.length === 0) return null;
  if (cuts.length > 64) {
    const gap = (k: number) => margins[order[k]!]! - margins[order[k - 1]!]!;
    cuts = cuts.sort((a, b) => gap(b) - gap(a)).slice(0, 64).sort((a, b) => a - b);
  }
  if (J * p * Math.min(p, cuts[cuts.length - 1]!) > 4e9) return null;
  let thetaNorm = 0;
  for (const t of theta) thetaNorm += t * t;
  thetaNorm = Math.sqrt(thetaNorm);
  const anorm = new Float64Array(J);
  for (let j = 0; j < J; j++) {
    const a = dense(j);
    let s = 0;
    for (const v of a) s += v * v;
    anorm[j] = Math.sqrt(s);
  }
  const basis: Float64Array[] = [];
  const project = (v: Float64Array) => {
    // Modified Gram-Schmidt, twice ("twice is enough" for orthogonality to rounding).
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        let s = 0;
        for (let k = 0; k < p; k++) s += q[k]! * v[k]!;
        for (let k = 0; k < p; k++) v[k] -= s * q[k]!;
      }
    }
  };
  let added = 0;
  for (const k of cuts) {
    while (added < k) {
      const j = order[added++]!;
      const a = dense(j);
      project(a);
      let s = 0;
      for (const v of a) s += v * v;
      s = Math.sqrt(s);
      if (s > 1e-10 * anorm[j]!) basis.push(a.map((v) => v / s));
    }
    const u = Float64Array.from(theta);
    project(u);
    let un = 0;
    for (const v of u) un += v * v;
    if (!(Math.sqrt(un) > 1e-8 * thetaNorm)) return null; // B already pins θ̂: larger B will too
    let ok = true;
    const strict = new Uint8Array(J);
    let any = false;
    for (let j = 0; j < J && ok; j++) {
      const v = apply(j, u, false);
      const tol = 16 * (p + 1) * eps * anorm[j]! * thetaNorm;
      if (v < -tol) ok = false;
      else if (v > tol) {
        strict[j] = 1;
        any = true;
      }
    }
    if (ok && any) {
      const strictRows = new Set(rowOf.filter((_, j) => strict[j]));
      return {
        direction: u,
        strict: [...strictRows],
        boundary: [...new Set(rowOf.filter((i) => !strictRows.has(i)))],
        complete: false,
      };
    }
  }
  return null;
}

/**
 * Checks that a trained θ̂ is a minimiser and not a point where the optimiser stopped on a loss
 * that keeps falling: at λ = 0, logreg and softmax on (quasi-)separable rows have no minimiser,
 * yet Newton reports ‖∇R‖ < tol once the margins are large enough for ∇R to underflow. Runs
 * {@link separationCertificate} (only at λ = 0 and for logreg/softmax: with λ > 0 and every class
 * present, which {@link checkMinimiser} checks, R is coercive and has a minimiser).
 *
 * @throws {@link NoMinimiserError} with reason `separable`, the strictly separated rows and the
 *   direction.
 *
 * @example
 * ```ts
 * const data = { X: new Float64Array([-2, -1, 1, 2]), y: new Float64Array([0, 0, 1, 1]), n: 4, d: 1 };
 * const obj = linearObjective('logreg', data, 0);
 * checkTrainedMinimiser('logreg', newton(obj).theta, data, 0);
 * // throws NoMinimiserError: … the rows are linearly separable …
 * ```
 */
export function checkTrainedMinimiser(
  kind: LinearModelKind,
  theta: Float64Array,
  data: Dataset,
  l2: number,
  opts: { classes?: number; weights?: Float64Array; source?: string } = {},
): void {
  if (kind === 'linreg' || l2 > 0) return;
  const cert = separationCertificate(kind, theta, data, opts);
  if (!cert) return;
  const source = opts.source ?? 'the training data';
  let norm = 0;
  for (const t of theta) norm += t * t;
  const rows = (list: number[]) => `${list.slice(0, 5).map((i) => i + 1).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`;
  const cause = cert.complete
    ? `${source}: at λ = 0 R has no minimiser: the rows are linearly separable (θ̂ puts every row on its class's side with a positive margin, so R(t·θ̂) keeps falling as t → ∞; ` +
      `training stopped at ‖θ‖ = ${Math.sqrt(norm).toPrecision(3)} only because ∇R became tiny)`
    : `${source}: at λ = 0 R has no minimiser: the rows are quasi-separable (along a direction u no margin falls and the margins of rows ${rows(cert.strict)} ` +
      `rise without bound, so R(θ̂ + t·u) keeps falling as t → ∞; training stopped at ‖θ‖ = ${Math.sqrt(norm).toPrecision(3)} only because ∇R became tiny)`;
  throw new NoMinimiserError('separable', cause, 'add L2 regularisation (λ > 0)', [], cert.strict, cert.direction);
}

/**
 * The bytes the largest arrays of a linear problem take (an estimate, for refusing a problem
 * before allocating it): the features X as a tensor (n·d), the targets (n·K, one-hot for
 * softmax), the fast HVP's cached logit curvatures (n·K²), with `denseHessian` the p × p Hessian,
 * its Cholesky factor and a working copy (3p², p = (d + 1)K), and with `perExampleGradients` the
 * n × p matrix of per-example gradients that influence scores are dot products with; all float64.
 *
 * @param opts `denseHessian`: whether a dense Hessian is formed (dense Newton, the exact solver);
 *   `perExampleGradients`: whether every row's gradient is kept (influence of every row).
 *
 * @example
 * ```ts
 * linearProblemBytes('softmax', 50, 784, 3001, { denseHessian: true }); // ≈ 1.3e14: refuse
 * ```
 */
export function linearProblemBytes(
  kind: LinearModelKind,
  n: number,
  d: number,
  classes = 1,
  opts: { denseHessian?: boolean; perExampleGradients?: boolean } = {},
): number {
  const K = kind === 'softmax' ? classes : 1;
  const p = (d + 1) * K;
  return 8 * (n * d + n * K + n * K * K + 4 * p + (opts.denseHessian ? 3 * p * p : 0) + (opts.perExampleGradients ? n * p : 0));
}
