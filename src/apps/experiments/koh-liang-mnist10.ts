/**
 * Koh & Liang (2017), Figure 2 left and middle panels at the paper's scale: 10-class softmax
 * regression (no intercept, as their `LogisticRegressionWithLBFGS`) on the 55,000 training images of
 * TensorFlow's MNIST split (rows 5,000 … 59,999 of the training file), λ = 0.01 (`weight_decay` in
 * influence-release's scripts/train_mnist_logreg.py), and for each test point the 500 training
 * points with the largest |predicted change| retrained exactly.
 *
 * - Predicted change (project definition): (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ) with H = ∇²R(θ̂), solved to
 *   a relative residual of 1e-13 by conjugate gradients on exact HVPs, preconditioned by the dense
 *   inverse Hessian (so "exact" to rounding, the left panel); and by stochastic LiSSA as the paper's
 *   script runs it (scale 25, recursion depth 5,000, damping 0, batch size 1, 10 repeats; the middle
 *   panel).
 * - Actual change: ℓ(z_test, θ̂₋ᵢ) − ℓ(z_test, θ̂), θ̂₋ᵢ the minimiser of R − (1/n)ℓᵢ, found by Newton
 *   iterations warm-started at θ̂ whose Newton matrix is the full-data Hessian downdated by the removed
 *   point's (1/n)∇²ℓᵢ (rank K − 1) through the Woodbury identity on the dense H⁻¹, iterated until
 *   ‖∇R₋ᵢ‖ ≤ `gradTol`. R₋ᵢ is λ-strongly convex, so ‖θ − θ̂₋ᵢ‖ ≤ ‖∇R₋ᵢ(θ)‖/λ, and the test loss (a
 *   function with gradient norm ≤ √2‖x_test‖) is then off by at most √2‖x_test‖‖∇R₋ᵢ‖/λ: the JSON
 *   reports that bound for every point.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../core/rng.ts';
import { kohLiangMnistSplit } from '../../data/builders.ts';
import { loadMnistBytes } from '../../data/mnist.ts';
import { spearman } from '../../influence/metrics.ts';
import { cholesky, choleskySolve } from '../../linalg/dense.ts';
import { pearson } from '../../linalg/vector.ts';
import { minimizeLbfgs } from '../../optim/lbfgs.ts';
import {
  type SoftmaxData,
  SoftmaxRegression,
  blockedCholeskyInPlace,
  denseMatvec,
  denseMatvecs,
  inverseFromCholesky,
  norm,
  rowGradient,
  rowLoss,
  rowProbs,
  sparseRows,
} from './softmax-regression.ts';

/** The paper's LiSSA settings (scripts/train_mnist_logreg.py in influence-release). */
export const PAPER_LISSA = Object.freeze({ scale: 25, depth: 5000, damping: 0, batchSize: 1, repeats: 10 });

/** Options of {@link runMnist10}. */
export interface Mnist10Options {
  /** Training images: the first nTrain of the 55,000 (default all 55,000). */
  nTrain?: number;
  /** λ (default 0.01, the paper's weight_decay). */
  l2?: number;
  /** Retrained points per test point (default 500). */
  points?: number;
  /** Retrained points for the random test point (default = points). */
  randomPoints?: number;
  /** The stated test point (default 8: the paper script's test_idx). */
  testIndex?: number;
  /** Seed of the random test point (default 0). */
  seed?: number;
  /** Retraining stops at ‖∇R₋ᵢ‖ ≤ gradTol (default 1e-12). */
  gradTol?: number;
  /** LiSSA settings (default {@link PAPER_LISSA}); seed 17 as the paper's np.random.seed(17). */
  lissa?: { scale: number; depth: number; damping: number; batchSize: number; repeats: number; seed?: number };
  /** Points retrained together (one pass over the data serves the batch; default 50). */
  batch?: number;
  /**
   * Newton matrix: terms with |Sᵢ[k,k′]| below this are left out of the Hessian (default 0: the
   * exact Hessian). It only preconditions; the stopping rules use exact gradients and HVPs.
   */
  hessianDropBelow?: number;
  /**
   * A folder for the trained θ̂, ∇R(θ̂) and H⁻¹ (float64 files, ~0.5 GB): reused when present for
   * the same nTrain, λ and hessianDropBelow, so a rerun skips training and the factorisation.
   */
  cacheDir?: string;
  /** Progress lines. */
  log?: (msg: string) => void;
}

/** One test point's panel. */
export interface Mnist10Panel {
  /** Row of the MNIST test file. */
  testIndex: number;
  /** How it was chosen. */
  rule: string;
  label: number;
  predictedClass: number;
  misclassified: boolean;
  testLoss: number;
  /** Retrained points, ordered by decreasing |predicted (exact)|: rows of the 55k training set. */
  trainIndices: number[];
  /** The same points as rows of the MNIST training file. */
  mnistRows: number[];
  labels: number[];
  predictedExact: number[];
  predictedLissa: number[];
  actual: number[];
  /** Bound on |actual − true actual| from the retraining and base gradient norms. */
  actualErrorBound: number[];
  exact: { pearson: number; spearman: number };
  lissa: { pearson: number; spearman: number };
  /** Exact vs LiSSA over all n training points. */
  lissaVsExactAll: { pearson: number; relError: number };
}

/** What {@link runMnist10} returns (the JSON's body; the CLI adds command, commit, wallSeconds). */
export interface Mnist10Result {
  classes: number;
  nTrain: number;
  nParams: number;
  l2: number;
  split: string;
  l2Source: string;
  retrained: number;
  solver: { exact: string; lissa: Record<string, number | string> };
  retraining: { method: string; gradTol: number; batch: number; hessianDropBelow: number; maxIterations: number; meanIterations: number; maxGradNorm: number; maxActualErrorBound: number };
  training: { lbfgsIterations: number; newtonIterations: number; gradNorm: number; trainAccuracy: number; testAccuracy: number };
  testIndices: number[];
  /** Pearson and Spearman of the stated (first) test point, exact solver. */
  pearson: number;
  spearman: number;
  panels: Mnist10Panel[];
  seconds: Record<string, number>;
}

/** Loads rows of the MNIST training and test files as sparse [0, 1] pixels. */
export function loadMnist10(nTrain?: number): { train: SoftmaxData; test: SoftmaxData; trainRows: Int32Array } {
  const { train: rows } = kohLiangMnistSplit({ nTrain });
  const tr = loadMnistBytes('train');
  const te = loadMnistBytes('test');
  const train = { X: sparseRows(tr.images, 784, rows, 1 / 255), y: Int32Array.from(rows, (r) => tr.labels[r]!) };
  const all = Int32Array.from({ length: te.n }, (_, i) => i);
  const test = { X: sparseRows(te.images, 784, all, 1 / 255), y: Int32Array.from(te.labels) };
  return { train, test, trainRows: rows };
}

/**
 * Solves H x = v by conjugate gradients with exact HVPs, preconditioned by `Minv` (a dense
 * approximate inverse of H), to ‖Hx − v‖ ≤ tol‖v‖; reports the true residual, recomputed at the end.
 */
export function pcg(hvp: (v: Float64Array) => Float64Array, Minv: Float64Array, v: Float64Array, tol: number, maxIter = 100): { x: Float64Array; iterations: number; relResidual: number } {
  const d = v.length;
  const x = new Float64Array(d);
  const r = Float64Array.from(v);
  let z = denseMatvec(Minv, d, r);
  const p = Float64Array.from(z);
  let rz = dot(r, z);
  const vn = norm(v);
  let it = 0;
  let rel = norm(r) / vn;
  while (rel > tol && it < maxIter) {
    const Hp = hvp(p);
    const alpha = rz / dot(p, Hp);
    for (let j = 0; j < d; j++) {
      x[j] += alpha * p[j]!;
      r[j] -= alpha * Hp[j]!;
    }
    it++;
    rel = norm(r) / vn;
    if (rel <= tol) break;
    z = denseMatvec(Minv, d, r);
    const rz2 = dot(r, z);
    const beta = rz2 / rz;
    rz = rz2;
    for (let j = 0; j < d; j++) p[j] = z[j]! + beta * p[j]!;
  }
  // The recursive residual drifts from the true one; report the true one.
  const Hx = hvp(x);
  let s = 0;
  for (let j = 0; j < d; j++) s += (Hx[j]! - v[j]!) ** 2;
  return { x, iterations: it, relResidual: Math.sqrt(s) / vn };
}

function readF64(path: string): Float64Array {
  const buf = readFileSync(path);
  const out = new Float64Array(buf.byteLength / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/**
 * Stochastic LiSSA as Koh & Liang run it: h ← v + (1 − d) h − H̃ h / s with H̃ the Hessian of R on
 * `batchSize` training points (regulariser included), `depth` steps, the estimate h/s averaged over
 * `repeats` runs. Each run walks a fresh seeded shuffle of the training rows (the paper's reader
 * hands out batches in shuffled order). Throws if an iterate stops being finite (divergence).
 */
export function stochasticLissa(
  model: SoftmaxRegression,
  theta: Float64Array,
  P: Float64Array,
  v: Float64Array,
  o: { scale: number; depth: number; damping: number; batchSize: number; repeats: number; seed?: number },
): Float64Array {
  const rng = new Rng(o.seed ?? 17);
  const dim = model.dim;
  const out = new Float64Array(dim);
  const batch = new Int32Array(o.batchSize);
  for (let rep = 0; rep < o.repeats; rep++) {
    const order = rng.permutation(model.n);
    let next = 0;
    let h = Float64Array.from(v);
    for (let t = 0; t < o.depth; t++) {
      for (let b = 0; b < o.batchSize; b++) {
        if (next === order.length) {
          rng.shuffle(order);
          next = 0;
        }
        batch[b] = order[next++]!;
      }
      const Hh = model.hvp(theta, h, batch, P);
      for (let j = 0; j < dim; j++) h[j] = v[j]! + (1 - o.damping) * h[j]! - Hh[j]! / o.scale;
      if (t % 500 === 499 && !Number.isFinite(norm(h))) {
        throw new Error(`stochastic LiSSA diverged at repeat ${rep}, step ${t + 1} (scale ${o.scale}, damping ${o.damping}): raise the scale`);
      }
    }
    if (!Number.isFinite(norm(h))) throw new Error(`stochastic LiSSA diverged at repeat ${rep} (scale ${o.scale}): raise the scale`);
    for (let j = 0; j < dim; j++) out[j] += h[j]! / o.scale / o.repeats;
    h = new Float64Array(0);
  }
  return out;
}

/** (1/n) sᵀ ∇ℓᵢ(θ) for every training row i (∇ℓᵢ = xᵢ ⊗ (pᵢ − e_{yᵢ}), P the probabilities at θ). */
export function removalEffects(model: SoftmaxRegression, P: Float64Array, s: Float64Array): Float64Array {
  const { X, y } = model.data;
  const K = model.K;
  const out = new Float64Array(model.n);
  for (let i = 0; i < model.n; i++) {
    let acc = 0;
    for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
      const xv = X.val[e]!;
      const o = X.col[e]! * K;
      let t = 0;
      for (let k = 0; k < K; k++) t += s[o + k]! * (P[i * K + k]! - (k === y[i] ? 1 : 0));
      acc += xv * t;
    }
    out[i] = acc / model.n;
  }
  return out;
}

/**
 * Exact leave-one-out retraining by warm-started Newton: θ̂₋ᵢ minimises R − (1/n)ℓᵢ. The Newton
 * matrix is M = H − (1/n)∇²ℓᵢ(θ̂), applied through the Woodbury identity on the dense H⁻¹:
 * ∇²ℓᵢ = V Vᵀ with V = xᵢ ⊗ B, B Bᵀ = diag(p) − ppᵀ (B = diag(√p) − p√pᵀ), so
 * M⁻¹ = H⁻¹ + (1/n) U (I − (1/n) Vᵀ U)⁻¹ Uᵀ with U = H⁻¹V. Since xᵢ is sparse, U costs
 * nnz(xᵢ)·K rows of H⁻¹, not a solve.
 */
export class LooRetrainer {
  private readonly HinvGrad: Float64Array;

  constructor(
    readonly model: SoftmaxRegression,
    /** θ̂. */
    readonly theta: Float64Array,
    /** ∇R(θ̂) (near zero, but not dropped). */
    readonly grad: Float64Array,
    /** The dense inverse of the full-data Hessian used as Newton matrix, dim × dim. */
    readonly Hinv: Float64Array,
    /** Probabilities at θ̂ (n × K). */
    readonly P: Float64Array,
  ) {
    this.HinvGrad = denseMatvec(Hinv, model.dim, grad);
  }

  /**
   * The Newton matrix of point i, M⁻¹g = H⁻¹g + (1/n) U (I − VᵀU/n)⁻¹ Uᵀg (given H⁻¹g), and the first
   * Newton step from θ̂, which needs no pass over the data: g₀ = ∇R(θ̂) − (1/n)∇ℓᵢ(θ̂) and
   * H⁻¹g₀ = H⁻¹∇R(θ̂) − (1/n) G r with G = H⁻¹(xᵢ ⊗ I) and r = pᵢ − e_{yᵢ}.
   */
  prepare(i: number): { solve: (g: Float64Array, Hg: Float64Array) => Float64Array; g0: Float64Array; step0: Float64Array } {
    const { model, Hinv, P } = this;
    const { X, y } = model.data;
    const K = model.K;
    const dim = model.dim;
    const n = model.n;
    const p = P.subarray(i * K, i * K + K);
    // G[k′] = H⁻¹ (xᵢ ⊗ e_k′) = Σ_j x_j H⁻¹[(j,k′), :] (H⁻¹ symmetric).
    const G: Float64Array[] = Array.from({ length: K }, () => new Float64Array(dim));
    for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
      const xv = X.val[e]!;
      const o = X.col[e]! * K;
      for (let k = 0; k < K; k++) {
        const row = (o + k) * dim;
        const gk = G[k]!;
        for (let c = 0; c < dim; c++) gk[c] += xv * Hinv[row + c]!;
      }
    }
    const sp = Array.from(p, Math.sqrt);
    const B = new Float64Array(K * K); // B[k, c]
    for (let k = 0; k < K; k++) for (let c = 0; c < K; c++) B[k * K + c] = (k === c ? sp[c]! : 0) - p[k]! * sp[c]!;
    const U: Float64Array[] = Array.from({ length: K }, () => new Float64Array(dim));
    for (let c = 0; c < K; c++) {
      const uc = U[c]!;
      for (let k = 0; k < K; k++) {
        const b = B[k * K + c]!;
        if (b === 0) continue;
        const gk = G[k]!;
        for (let a = 0; a < dim; a++) uc[a] += b * gk[a]!;
      }
    }
    // C = I − (1/n) Vᵀ U, (Vᵀu)_c = Σ_j x_j Σ_k B[k,c] u[(j,k)].
    const C = new Float64Array(K * K);
    for (let c2 = 0; c2 < K; c2++) {
      const u = U[c2]!;
      for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
        const xv = X.val[e]!;
        const o = X.col[e]! * K;
        for (let c = 0; c < K; c++) {
          let t = 0;
          for (let k = 0; k < K; k++) t += B[k * K + c]! * u[o + k]!;
          C[c * K + c2] += xv * t;
        }
      }
    }
    for (let a = 0; a < K * K; a++) C[a] = -C[a]! / n;
    for (let c = 0; c < K; c++) C[c * K + c] += 1;
    for (let a = 0; a < K; a++) for (let b = 0; b < a; b++) C[a * K + b] = C[b * K + a] = 0.5 * (C[a * K + b]! + C[b * K + a]!);
    const Lc = cholesky(C, K, 'the Woodbury capacitance I − VᵀH⁻¹V/n');
    const solve = (g: Float64Array, Hg: Float64Array): Float64Array => {
      const t = new Float64Array(K);
      for (let c = 0; c < K; c++) t[c] = dot(U[c]!, g);
      const q = choleskySolve(Lc, K, t);
      const out = Float64Array.from(Hg);
      for (let c = 0; c < K; c++) {
        const f = q[c]! / n;
        const uc = U[c]!;
        for (let a = 0; a < dim; a++) out[a] += f * uc[a]!;
      }
      return out;
    };
    const r = Float64Array.from(p);
    r[y[i]!] -= 1;
    const g0 = Float64Array.from(this.grad);
    const Hg0 = Float64Array.from(this.HinvGrad);
    for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
      const xv = X.val[e]!;
      const o = X.col[e]! * K;
      for (let k = 0; k < K; k++) g0[o + k] -= (xv * r[k]!) / n;
    }
    for (let k = 0; k < K; k++) {
      const f = r[k]! / n;
      const gk = G[k]!;
      for (let a = 0; a < dim; a++) Hg0[a] -= f * gk[a]!;
    }
    return { solve, g0, step0: solve(g0, Hg0) };
  }

  /**
   * Retrains without each of the training rows `rows` (a batch: the passes over the data and the
   * products with H⁻¹ serve all of them at once); each point iterates θ ← θ − M⁻¹∇R₋ᵢ(θ) until
   * ‖∇R₋ᵢ‖ ≤ gradTol, or until the norm stops falling by half (rounding), or maxIterations.
   */
  retrainBatch(rows: readonly number[], opts: { gradTol?: number; maxIterations?: number } = {}): { theta: Float64Array; iterations: number; gradNorm: number; history: number[] }[] {
    const tol = opts.gradTol ?? 1e-12;
    const maxIt = opts.maxIterations ?? 30;
    const dim = this.model.dim;
    const states = rows.map((i) => {
      const pr = this.prepare(i);
      return { i, solve: pr.solve, step: pr.step0, theta: Float64Array.from(this.theta), history: [norm(pr.g0)], iterations: 0, done: false };
    });
    for (let it = 0; it < maxIt; it++) {
      const active = states.filter((s) => !s.done);
      if (active.length === 0) break;
      for (const s of active) {
        for (let a = 0; a < dim; a++) s.theta[a] -= s.step[a]!;
        s.iterations++;
      }
      const gs = this.model.gradients(active.map((s) => s.theta), active.map((s) => s.i));
      const still: { s: (typeof states)[number]; g: Float64Array }[] = [];
      active.forEach((s, b) => {
        const gn = norm(gs[b]!);
        s.history.push(gn);
        const h = s.history;
        if (gn <= tol || s.iterations >= maxIt || (h.length > 3 && gn > 0.5 * h[h.length - 2]!)) s.done = true;
        else still.push({ s, g: gs[b]! });
      });
      if (still.length === 0) continue;
      const Hgs = denseMatvecs(this.Hinv, dim, still.map((x) => x.g));
      still.forEach((x, b) => (x.s.step = x.s.solve(x.g, Hgs[b]!)));
    }
    return states.map((s) => ({ theta: s.theta, iterations: s.iterations, gradNorm: s.history[s.history.length - 1]!, history: s.history }));
  }

  /** Retrains without training row i (a batch of one). */
  retrain(i: number, opts: { gradTol?: number; maxIterations?: number } = {}): { theta: Float64Array; iterations: number; gradNorm: number; history: number[] } {
    return this.retrainBatch([i], opts)[0]!;
  }
}

/**
 * Runs the left and middle panels: trains, computes exact and LiSSA influence for the stated
 * and the random test point, retrains the top points of each, and correlates.
 *
 * @example
 * ```ts
 * const res = runMnist10({ nTrain: 2000, points: 20, log: console.error });
 * res.pearson; // ≈ 0.99
 * ```
 */
export function runMnist10(opts: Mnist10Options = {}): Mnist10Result {
  const log = opts.log ?? (() => {});
  const tStart = performance.now();
  const seconds: Record<string, number> = {};
  const lap = (name: string, t: number) => (seconds[name] = (performance.now() - t) / 1000);
  const l2 = opts.l2 ?? 0.01;
  const K = 10;
  const gradTol = opts.gradTol ?? 1e-12;
  const lissaOpts = { ...PAPER_LISSA, seed: 17, ...opts.lissa };
  let t = performance.now();
  const { train, test, trainRows } = loadMnist10(opts.nTrain);
  const model = new SoftmaxRegression(train, K, l2);
  const n = model.n;
  const dim = model.dim;
  lap('load', t);
  log(`figure 2 (10-class MNIST): n = ${n}, ${dim} parameters (no intercept), λ = ${l2}`);

  // 1. L-BFGS to ‖∇R‖ ≤ 1e-7, the dense Hessian there, its inverse, then Newton steps to rounding.
  const dropBelow = opts.hessianDropBelow ?? 0;
  const cacheKey = opts.cacheDir ? join(opts.cacheDir, `mnist10-n${n}-l2${l2}-drop${dropBelow}`) : undefined;
  let theta: Float64Array;
  let Hinv: Float64Array;
  let g: Float64Array;
  let gn: number;
  let lbIts = 0;
  let newtonIts = 0;
  if (cacheKey && existsSync(`${cacheKey}.json`)) {
    const meta = JSON.parse(readFileSync(`${cacheKey}.json`, 'utf8')) as { lbIts: number; newtonIts: number; seconds: Record<string, number> };
    theta = readF64(`${cacheKey}.theta`);
    Hinv = readF64(`${cacheKey}.hinv`);
    g = model.gradient(theta);
    gn = norm(g);
    lbIts = meta.lbIts;
    newtonIts = meta.newtonIts;
    Object.assign(seconds, meta.seconds);
    log(`  reusing θ̂ and H⁻¹ from ${cacheKey}.* (‖∇R(θ̂)‖ = ${gn.toExponential(2)})`);
  } else {
    // 1. L-BFGS to ‖∇R‖ ≤ 1e-7, then Newton steps on the dense Hessian at that point.
    t = performance.now();
    const lb = minimizeLbfgs((th) => model.valueAndGradient(th), new Float64Array(dim), {
      tol: 1e-7,
      maxIter: 3000,
      allowUnconverged: true,
      onIteration: (it, gn) => {
        if (it % 50 === 0) log(`  L-BFGS ${it}: ‖∇R‖ = ${gn.toExponential(2)}, ${((performance.now() - t) / 1000).toFixed(0)} s`);
      },
    });
    lap('lbfgs', t);
    log(`  L-BFGS: ${lb.iterations} iterations, ‖∇R‖ = ${lb.gradNorm.toExponential(2)} (${seconds.lbfgs!.toFixed(0)} s)`);
    t = performance.now();
    const H = model.hessian(lb.theta, { log, dropBelow: opts.hessianDropBelow ?? 0 });
    lap('hessian', t);
    log(`  Hessian ${dim}×${dim} (${((dim * dim * 8) / 2 ** 20).toFixed(0)} MiB): ${seconds.hessian!.toFixed(0)} s`);
    t = performance.now();
    const L = blockedCholeskyInPlace(H, dim);
    lap('cholesky', t);
    log(`  Cholesky: ${seconds.cholesky!.toFixed(0)} s`);
    t = performance.now();
    Hinv = inverseFromCholesky(L, dim, log);
    lap('inverse', t);
    // Newton (chord) steps θ ← θ − H(θ₀)⁻¹∇R(θ) to rounding.
    t = performance.now();
    lbIts = lb.iterations;
    theta = lb.theta;
    g = model.gradient(theta);
    gn = norm(g);
    for (; newtonIts < 20 && gn > 1e-14; newtonIts++) {
      const step = denseMatvec(Hinv, dim, g);
      const next = Float64Array.from(theta, (v, a) => v - step[a]!);
      const g2 = model.gradient(next);
      const gn2 = norm(g2);
      if (!(gn2 < gn)) break;
      theta = next;
      g = g2;
      gn = gn2;
    }
    lap('newton', t);
    log(`  Newton: ${newtonIts} steps, ‖∇R(θ̂)‖ = ${gn.toExponential(2)}`);
    if (cacheKey) {
      mkdirSync(opts.cacheDir!, { recursive: true });
      writeFileSync(`${cacheKey}.theta`, new Uint8Array(theta.buffer, theta.byteOffset, theta.byteLength));
      writeFileSync(`${cacheKey}.hinv`, new Uint8Array(Hinv.buffer, Hinv.byteOffset, Hinv.byteLength));
      writeFileSync(`${cacheKey}.json`, JSON.stringify({ lbIts, newtonIts, seconds }));
    }
  }
  const P = model.probabilities(theta);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (P[i * K + k]! > P[i * K + best]!) best = k;
    if (best === train.y[i]) correct++;
  }
  const pt = new Float64Array(K);
  const testPred = (j: number) => {
    rowProbs(theta, test.X, j, K, pt);
    let best = 0;
    for (let k = 1; k < K; k++) if (pt[k]! > pt[best]!) best = k;
    return best;
  };
  let testCorrect = 0;
  for (let j = 0; j < test.X.n; j++) if (testPred(j) === test.y[j]) testCorrect++;

  // 2. Test points and their influence.
  const stated = opts.testIndex ?? 8;
  const random = new Rng(opts.seed ?? 0).int(test.X.n);
  const tests = [
    { index: stated, rule: opts.testIndex === undefined ? 'test_idx = 8 of the paper script (influence-release scripts/train_mnist_logreg.py)' : 'given by --test-index', k: opts.points ?? 500 },
    { index: random, rule: `uniform over the 10,000 test images, Rng(${opts.seed ?? 0}).int(10000)`, k: opts.randomPoints ?? opts.points ?? 500 },
  ];
  const hvp = (v: Float64Array) => model.hvp(theta, v, undefined, P);
  const prepared = tests.map((tp) => {
    const gt = rowGradient(theta, test.X, test.y, tp.index, K);
    let t1 = performance.now();
    const cg = pcg(hvp, Hinv, gt, 1e-13);
    const exactSec = (performance.now() - t1) / 1000;
    log(`  test ${tp.index}: PCG ${cg.iterations} iterations, relative residual ${cg.relResidual.toExponential(2)} (${exactSec.toFixed(1)} s)`);
    t1 = performance.now();
    const sl = stochasticLissa(model, theta, P, gt, lissaOpts);
    const lissaSec = (performance.now() - t1) / 1000;
    log(`  test ${tp.index}: stochastic LiSSA (${lissaOpts.repeats} × ${lissaOpts.depth} steps): ${lissaSec.toFixed(1)} s`);
    const exact = removalEffects(model, P, cg.x);
    const lissa = removalEffects(model, P, sl);
    const order = Array.from(exact.keys()).sort((a, b) => Math.abs(exact[b]!) - Math.abs(exact[a]!));
    const rows = order.slice(0, Math.min(tp.k, n));
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      num += (lissa[i]! - exact[i]!) ** 2;
      den += exact[i]! ** 2;
    }
    const xNorm = norm(test.X.val.subarray(test.X.rowPtr[tp.index]!, test.X.rowPtr[tp.index + 1]!));
    return { ...tp, exact, lissa, rows, cg, exactSec, lissaSec, lissaRel: Math.sqrt(num / den), lissaAll: pearson(lissa, exact), xNorm, base: rowLoss(theta, test.X, test.y, tp.index, K) };
  });

  // 3. Retraining the union of the chosen points.
  const union = [...new Set(prepared.flatMap((p) => p.rows))];
  log(`  retraining without each of ${union.length} points (${prepared.map((p) => p.rows.length).join(' + ')}, union) to ‖∇R₋ᵢ‖ ≤ ${gradTol.toExponential(0)} …`);
  t = performance.now();
  const retrainer = new LooRetrainer(model, theta, g, Hinv, P);
  const results = new Map<number, { losses: number[]; gradNorm: number; iterations: number }>();
  let maxIts = 0;
  let sumIts = 0;
  const batch = opts.batch ?? 50;
  for (let c0 = 0; c0 < union.length; c0 += batch) {
    const rowsB = union.slice(c0, c0 + batch);
    const rs = retrainer.retrainBatch(rowsB, { gradTol });
    rs.forEach((r, b) => {
      results.set(rowsB[b]!, { losses: prepared.map((p) => rowLoss(r.theta, test.X, test.y, p.index, K)), gradNorm: r.gradNorm, iterations: r.iterations });
      maxIts = Math.max(maxIts, r.iterations);
      sumIts += r.iterations;
    });
    const done = Math.min(union.length, c0 + batch);
    const el = (performance.now() - t) / 1000;
    log(`  retrained ${done}/${union.length}: Newton steps ${Math.min(...rs.map((r) => r.iterations))}–${Math.max(...rs.map((r) => r.iterations))}, largest ‖∇R₋ᵢ‖ ${Math.max(...rs.map((r) => r.gradNorm)).toExponential(2)}; ${el.toFixed(0)} s, about ${((el / done) * (union.length - done)).toFixed(0)} s left`);
  }
  lap('retraining', t);

  const panels: Mnist10Panel[] = prepared.map((pp, which) => {
    const actual = pp.rows.map((i) => results.get(i)!.losses[which]! - pp.base);
    const bound = pp.rows.map((i) => (Math.SQRT2 * pp.xNorm * (results.get(i)!.gradNorm + gn)) / l2);
    const pe = pp.rows.map((i) => pp.exact[i]!);
    const pl = pp.rows.map((i) => pp.lissa[i]!);
    const predictedClass = testPred(pp.index);
    return {
      testIndex: pp.index,
      rule: pp.rule,
      label: test.y[pp.index]!,
      predictedClass,
      misclassified: predictedClass !== test.y[pp.index],
      testLoss: pp.base,
      trainIndices: pp.rows,
      mnistRows: pp.rows.map((i) => trainRows[i]!),
      labels: pp.rows.map((i) => train.y[i]!),
      predictedExact: pe,
      predictedLissa: pl,
      actual,
      actualErrorBound: bound,
      exact: { pearson: pearson(pe, actual), spearman: spearman(pe, actual) },
      lissa: { pearson: pearson(pl, actual), spearman: spearman(pl, actual) },
      lissaVsExactAll: { pearson: pp.lissaAll, relError: pp.lissaRel },
    };
  });
  for (const p of panels) {
    log(`  test ${p.testIndex} (label ${p.label}, predicted ${p.predictedClass}): exact Pearson ${p.exact.pearson.toFixed(4)} Spearman ${p.exact.spearman.toFixed(4)}; LiSSA Pearson ${p.lissa.pearson.toFixed(4)} Spearman ${p.lissa.spearman.toFixed(4)}`);
  }
  const maxGrad = Math.max(...[...results.values()].map((r) => r.gradNorm));
  seconds.total = (performance.now() - tStart) / 1000;
  return {
    classes: K,
    nTrain: n,
    nParams: dim,
    l2,
    split: `rows ${trainRows[0]}..${trainRows[n - 1]} of train-images-idx3-ubyte: the training file minus the first 5,000 rows that TensorFlow's read_data_sets (validation_size = 5000) holds out for validation, as influence-release's load_mnist does${n < 55000 ? ` (only the first ${n} of the 55,000)` : ''}`,
    l2Source: 'weight_decay = 0.01 in influence-release scripts/train_mnist_logreg.py (objective mean loss + weight_decay·‖W‖²/2, i.e. sklearn C = 1/(n·weight_decay))',
    retrained: union.length,
    solver: {
      exact: 'H⁻¹∇ℓ_test by conjugate gradients on exact HVPs at θ̂, preconditioned by the dense inverse Hessian, to relative residual 1e-13',
      lissa: { ...lissaOpts, effectiveDamping: lissaOpts.scale * lissaOpts.damping, sampling: 'a fresh seeded shuffle of the training rows per repeat, batches taken in order' },
    },
    retraining: {
      method: 'Newton warm-started at θ̂, Newton matrix = full-data Hessian − (1/n)∇²ℓᵢ(θ̂) by Woodbury on the dense H⁻¹ (the Hessian at the L-BFGS iterate); stop at ‖∇(R − ℓᵢ/n)‖ ≤ gradTol',
      gradTol,
      batch: opts.batch ?? 50,
      hessianDropBelow: dropBelow,
      maxIterations: maxIts,
      meanIterations: sumIts / union.length,
      maxGradNorm: maxGrad,
      maxActualErrorBound: Math.max(...panels.flatMap((p) => p.actualErrorBound)),
    },
    training: { lbfgsIterations: lbIts, newtonIterations: newtonIts, gradNorm: gn, trainAccuracy: correct / n, testAccuracy: testCorrect / test.X.n },
    testIndices: panels.map((p) => p.testIndex),
    pearson: panels[0]!.exact.pearson,
    spearman: panels[0]!.exact.spearman,
    panels,
    seconds,
  };
}
