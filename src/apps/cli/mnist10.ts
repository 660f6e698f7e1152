/**
 * dattri's MNIST-10 attribution benchmark as `unequal lds --model logreg|mlp` runs it: the models,
 * their training as dattri trains them, the retraining jobs (subsets, leave-one-out rows, ensemble
 * members) that the worker pool spreads over threads, and every attribution method's scores.
 *
 * Training, as dattri's benchmark (`dattri/benchmark/datasets/mnist/mnist_{lr,mlp}.py`,
 * `dattri/script/dattri_retrain.py`) trains:
 * - logreg: multinomial logistic regression 784 → 10 (7,840 weights + 10 biases), mean
 *   cross-entropy, plain SGD, lr 0.01, batch 32, 20 epochs, no weight decay, PyTorch's `nn.Linear`
 *   initialisation U(−1/√784, 1/√784);
 * - mlp: 784 → 128 → 10 ReLU (101,770 parameters; dattri's own MLP is 784 → 128 → 64 → 10 with
 *   dropout 0.1: the issue asks for one hidden layer), mean cross-entropy, SGD with momentum 0.9
 *   (PyTorch's form v ← μv + g, θ ← θ − ηv), lr 0.01, batch 64, 50 epochs, `nn.Linear`
 *   initialisation.
 * Each epoch visits the training rows in the order of `new Rng(seed).permutation` (one generator per
 * training run, drawn once per epoch), as a shuffling DataLoader does. A run is a pure function of
 * (rows, seed): the basis of the bit-identical parallel and sharded runs.
 *
 * θ layouts: logreg as `linearObjective('softmax')` ([W (10 × 784, class-major), b (10)]); mlp as
 * `mlpInit` ([W₁ (128 × 784), b₁, W₂ (10 × 128), b₂]).
 *
 * @module
 */
import { softmaxRowsInPlace } from '../../linalg/vector.ts';
import { Rng } from '../../core/rng.ts';
import { fromFloat64 } from '../../core/create.ts';
import type { Tensor } from '../../core/tensor.ts';
import type { DattriSplit } from '../../data/dattri.ts';
import { gemm } from '../../prims/matmul.ts';
import { softmaxCrossEntropy } from '../../ops/losses.ts';
import { mlpForward, type MlpParams } from '../../nn/mlp.ts';
import { Objective } from '../../nn/objective.ts';
import { linearObjective } from '../../nn/linear-models.ts';

/** The benchmark's two models. */
export const MNIST10_MODELS = ['logreg', 'mlp'] as const;
/** One of {@link MNIST10_MODELS}. */
export type Mnist10Model = (typeof MNIST10_MODELS)[number];

/** How a model is trained (dattri's settings; see the module notes). */
export interface TrainingConfig {
  optimizer: 'sgd' | 'sgd-momentum';
  lr: number;
  momentum: number;
  batchSize: number;
  epochs: number;
  weightDecay: number;
  init: string;
}

/** dattri's training settings per model. */
export const DATTRI_TRAINING: Record<Mnist10Model, TrainingConfig> = {
  logreg: { optimizer: 'sgd', lr: 0.01, momentum: 0, batchSize: 32, epochs: 20, weightDecay: 0, init: 'U(−1/√fan_in, 1/√fan_in) for weights and biases (PyTorch nn.Linear)' },
  mlp: { optimizer: 'sgd-momentum', lr: 0.01, momentum: 0.9, batchSize: 64, epochs: 50, weightDecay: 0, init: 'U(−1/√fan_in, 1/√fan_in) for weights and biases (PyTorch nn.Linear)' },
};

/** Layer widths. */
export const WIDTHS: Record<Mnist10Model, number[]> = { logreg: [784, 10], mlp: [784, 128, 10] };

/** Number of parameters of a model. */
export function parameterCount(model: Mnist10Model): number {
  const w = WIDTHS[model];
  let p = 0;
  for (let l = 1; l < w.length; l++) p += w[l]! * (w[l - 1]! + 1);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Dense products on Float64Arrays (through the backend's GEMM: WebAssembly SIMD on the cpu backend).
// ---------------------------------------------------------------------------------------------

/** A (m × k) · B (k × n), or · Bᵀ with B (n × k) when `transB`; row-major. */
export function mm(A: Float64Array, m: number, k: number, B: Float64Array, n: number, transB = false, transA = false): Float64Array {
  const a = fromFloat64(A, transA ? [k, m] : [m, k]);
  const b = fromFloat64(B, transB ? [n, k] : [k, n]);
  return gemm(a, b, transA, transB).toFloat64Array();
}

// ---------------------------------------------------------------------------------------------
// Forward passes and per-example pieces.
// ---------------------------------------------------------------------------------------------


/** The rows `rows` of X (d columns), copied. */
export function gatherRows(X: Float64Array, d: number, rows: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows.length * d);
  for (let k = 0; k < rows.length; k++) out.set(X.subarray(rows[k]! * d, rows[k]! * d + d), k * d);
  return out;
}

/** One layer's per-example pieces: ∇ℓᵢ w.r.t. [W b] of that layer is Dᵢ ⊗ [Aᵢ, 1]. */
export interface LayerFactors {
  /** Layer inputs, m × a. */
  A: Float64Array;
  a: number;
  /** Back-propagated signals ∂ℓᵢ/∂(pre-activation), m × b. */
  D: Float64Array;
  b: number;
}

/** Everything the methods need of a model at θ on a set of rows. */
export interface Forward {
  /** Per-example losses (m). */
  losses: Float64Array;
  /** Softmax probabilities (m × 10). */
  probs: Float64Array;
  /** One entry per layer, input side first. */
  layers: LayerFactors[];
}

/**
 * Softmax cross-entropy on 10-class logits Z (m × 10) with digits y: the probabilities P, each
 * row's loss −log P[y], and the residual R = P − onehot(y) = ∂ℓᵢ/∂Zᵢ.
 */
function crossEntropyAt(Z: Float64Array, y: ArrayLike<number>, m: number): { P: Float64Array; losses: Float64Array; R: Float64Array } {
  const K = 10;
  const P = softmaxRowsInPlace(Z, m, K);
  const losses = new Float64Array(m);
  const R = Float64Array.from(P);
  for (let i = 0; i < m; i++) {
    const yi = y[i]!;
    losses[i] = -Math.log(P[i * K + yi]!);
    R[i * K + yi] -= 1;
  }
  return { P, losses, R };
}

/**
 * The forward pass (and per-example back-propagated signals) of `model` at θ on rows X (m × 784)
 * with digits y: for each layer its inputs and ∂ℓᵢ/∂(pre-activation), so that
 * ∇ℓᵢ = ⊕_l vec(D_l,i ⊗ [A_l,i, 1]).
 */
export function forward(model: Mnist10Model, theta: Float64Array, X: Float64Array, y: ArrayLike<number>, m: number): Forward {
  const K = 10;
  const d = 784;
  if (model === 'logreg') {
    const Z = mm(X, m, d, theta.subarray(0, K * d), K, true);
    for (let i = 0; i < m; i++) for (let c = 0; c < K; c++) Z[i * K + c] += theta[K * d + c]!;
    const { P, losses, R } = crossEntropyAt(Z, y, m);
    return { losses, probs: P, layers: [{ A: X, a: d, D: R, b: K }] };
  }
  const H = 128;
  const o1 = H * d;
  const o2 = o1 + H;
  const o3 = o2 + K * H;
  const pre = mm(X, m, d, theta.subarray(0, o1), H, true);
  for (let i = 0; i < m; i++) for (let j = 0; j < H; j++) pre[i * H + j] += theta[o1 + j]!;
  const h = pre.map((v) => (v > 0 ? v : 0));
  const Z = mm(h, m, H, theta.subarray(o2, o3), K, true);
  for (let i = 0; i < m; i++) for (let c = 0; c < K; c++) Z[i * K + c] += theta[o3 + c]!;
  const { P, losses, R } = crossEntropyAt(Z, y, m);
  const back = mm(R, m, K, theta.subarray(o2, o3), H); // (m × 10)(10 × 128)
  for (let k = 0; k < back.length; k++) if (!(pre[k]! > 0)) back[k] = 0;
  return { losses, probs: P, layers: [{ A: X, a: d, D: back, b: H }, { A: h, a: H, D: R, b: K }] };
}

/**
 * Per-example gradients (m × p) in the model's θ layout, from {@link forward}'s factors.
 */
export function perExampleGradients(model: Mnist10Model, f: Forward, m: number): Float64Array {
  const p = parameterCount(model);
  const G = new Float64Array(m * p);
  if (model === 'logreg') {
    const { A: X, D: R } = f.layers[0]!;
    const K = 10;
    const d = 784;
    for (let i = 0; i < m; i++) {
      const o = i * p;
      for (let c = 0; c < K; c++) {
        const r = R[i * K + c]!;
        const oc = o + c * d;
        for (let j = 0; j < d; j++) G[oc + j] = r * X[i * d + j]!;
        G[o + K * d + c] = r;
      }
    }
    return G;
  }
  for (let i = 0; i < m; i++) {
    let o = i * p;
    for (const { A, a, D, b } of f.layers) {
      for (let r = 0; r < b; r++) {
        const g = D[i * b + r]!;
        const or = o + r * a;
        for (let j = 0; j < a; j++) G[or + j] = g * A[i * a + j]!;
      }
      o += b * a;
      for (let r = 0; r < b; r++) G[o + r] = D[i * b + r]!;
      o += b;
    }
  }
  return G;
}

/**
 * ∇ℓ_t · ∇ℓᵢ for all pairs (tests × n), from the factors: Σ_l ([A_t,1]·[A_i,1]) (D_t·D_i), two
 * small GEMMs per layer instead of forming the p-long gradients.
 */
export function gradientDots(ft: Forward, mt: number, fi: Forward, mi: number, scale = 1): Float64Array {
  const out = new Float64Array(mt * mi);
  ft.layers.forEach((lt, l) => {
    const li = fi.layers[l]!;
    const AA = mm(lt.A, mt, lt.a, li.A, mi, true);
    const DD = mm(lt.D, mt, lt.b, li.D, mi, true);
    for (let k = 0; k < out.length; k++) out[k] += scale * (AA[k]! + 1) * DD[k]!;
  });
  return out;
}

/** ‖∇ℓᵢ‖² per row, from the factors. */
export function gradientSquaredNorms(f: Forward, m: number): Float64Array {
  const out = new Float64Array(m);
  for (const { A, a, D, b } of f.layers) {
    for (let i = 0; i < m; i++) {
      let sa = 1;
      for (let j = 0; j < a; j++) sa += A[i * a + j]! ** 2;
      let sd = 0;
      for (let j = 0; j < b; j++) sd += D[i * b + j]! ** 2;
      out[i] += sa * sd;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Training as dattri trains.
// ---------------------------------------------------------------------------------------------

/** θ₀ as PyTorch's nn.Linear draws it (U(−1/√fan_in, 1/√fan_in) for weights and biases), from `new Rng(seed)`. */
export function initTheta(model: Mnist10Model, seed: number): Float64Array {
  const w = WIDTHS[model];
  const rng = new Rng(seed);
  const theta = new Float64Array(parameterCount(model));
  if (model === 'logreg') {
    const bound = 1 / Math.sqrt(784);
    for (let k = 0; k < theta.length; k++) theta[k] = bound * (2 * rng.uniform() - 1);
    return theta;
  }
  let o = 0;
  for (let l = 1; l < w.length; l++) {
    const bound = 1 / Math.sqrt(w[l - 1]!);
    const count = w[l]! * (w[l - 1]! + 1);
    for (let k = 0; k < count; k++) theta[o + k] = bound * (2 * rng.uniform() - 1);
    o += count;
  }
  return theta;
}

/** A trained model and the TracIn checkpoints taken while training it. */
export interface Trained {
  theta: Float64Array;
  /** θ at the end of the epochs named in `checkpointEpochs`, with that epoch's learning rate. */
  checkpoints: { theta: Float64Array; lr: number; epoch: number }[];
}

/**
 * Trains `model` on the training rows `rows` of `train` as dattri does (module notes), from
 * `initTheta(model, seed)`, shuffling with `new Rng(seed)` each epoch, or, with `order: 'file'`,
 * visiting `rows` in the given order every epoch (dattri's `retrain_loo`: a `DataLoader` without
 * shuffle); keeps θ after each epoch listed in `checkpointEpochs` (1-based).
 */
export function trainModel(
  model: Mnist10Model,
  train: DattriSplit,
  rows: readonly number[],
  seed: number,
  checkpointEpochs: readonly number[] = [],
  config: TrainingConfig = DATTRI_TRAINING[model],
  order: 'shuffled' | 'file' = 'shuffled',
): Trained {
  const theta = initTheta(model, seed);
  const p = theta.length;
  const rng = new Rng(seed ^ 0x5eed);
  const { lr, momentum, batchSize, epochs } = config;
  const velocity = momentum ? new Float64Array(p) : null;
  const checkpoints: Trained['checkpoints'] = [];
  const n = rows.length;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const visit = order === 'file' ? null : rng.permutation(n);
    for (let start = 0; start < n; start += batchSize) {
      const idx = visit ? visit.slice(start, start + batchSize).map((k) => rows[k]!) : rows.slice(start, start + batchSize);
      const g = batchGradient(model, theta, train, idx);
      if (velocity) {
        for (let j = 0; j < p; j++) {
          velocity[j] = momentum * velocity[j]! + g[j]!;
          theta[j] -= lr * velocity[j]!;
        }
      } else for (let j = 0; j < p; j++) theta[j] -= lr * g[j]!;
    }
    if (checkpointEpochs.includes(epoch)) checkpoints.push({ theta: Float64Array.from(theta), lr, epoch });
  }
  return { theta, checkpoints };
}

/** ∇ of the mean cross-entropy over the given rows (no regulariser). */
export function batchGradient(model: Mnist10Model, theta: Float64Array, data: DattriSplit, idx: readonly number[]): Float64Array {
  const m = idx.length;
  const X = gatherRows(data.X, data.d, idx);
  const y = idx.map((i) => data.y[i]!);
  const f = forward(model, theta, X, y, m);
  const p = theta.length;
  const g = new Float64Array(p);
  let o = 0;
  for (const { A, a, D, b } of f.layers) {
    // Σᵢ Dᵢ ⊗ Aᵢ = Dᵀ A (b × a), then the biases Σᵢ Dᵢ.
    const W = mm(D, b, m, A, a, false, true);
    for (let k = 0; k < b * a; k++) g[o + k] = W[k]! / m;
    o += b * a;
    if (model === 'logreg') break;
    for (let i = 0; i < m; i++) for (let r = 0; r < b; r++) g[o + r] += D[i * b + r]! / m;
    o += b;
  }
  if (model === 'logreg') {
    const { D } = f.layers[0]!;
    for (let i = 0; i < m; i++) for (let c = 0; c < 10; c++) g[7840 + c] += D[i * 10 + c]! / m;
  }
  return g;
}

/** Per-example test losses of a trained θ. */
export function testLosses(model: Mnist10Model, theta: Float64Array, test: DattriSplit, count: number): Float64Array {
  return forward(model, theta, test.X.subarray(0, count * test.d), test.y, count).losses;
}

// ---------------------------------------------------------------------------------------------
// Objectives (for the library's solvers) and Hessian products.
// ---------------------------------------------------------------------------------------------

/** One-hot targets (n × 10). */
export function oneHot(y: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * 10);
  for (let i = 0; i < n; i++) out[i * 10 + y[i]!] = 1;
  return out;
}

/**
 * R(θ) = mean cross-entropy over the training set (λ = 0, as dattri trains) as an {@link Objective}
 * of the library, for its HVPs and solvers: logreg through `linearObjective('softmax')` (its fast
 * closed-form HVP), mlp through the engine.
 */
export function objectiveOf(model: Mnist10Model, train: DattriSplit): Objective {
  if (model === 'logreg') return linearObjective('softmax', train, 0, { classes: 10 }) as unknown as Objective;
  const params: MlpParams = [
    { W: fromFloat64(new Float64Array(128 * 784), [128, 784]), b: fromFloat64(new Float64Array(128), [128]) },
    { W: fromFloat64(new Float64Array(10 * 128), [10, 128]), b: fromFloat64(new Float64Array(10), [10]) },
  ];
  return new Objective<MlpParams>({
    params,
    loss: (p: MlpParams, X: Tensor, Y: Tensor) => softmaxCrossEntropy(mlpForward(p, X, 'relu'), Y),
    X: fromFloat64(train.X, [train.n, train.d]),
    Y: fromFloat64(oneHot(train.y, train.n), [train.n, 10]),
    l2: 0,
  }) as unknown as Objective;
}
