/**
 * Multinomial (softmax) logistic regression without intercept, in closed form on sparse rows: the
 * model of Koh & Liang's 10-class MNIST experiment (their `LogisticRegressionWithLBFGS`: logits
 * x W with W of shape [d, K], no biases). Parameters θ are W row-major, θ[j·K + k].
 *
 * R(θ) = (1/n) Σᵢ ℓᵢ(θ) + (λ/2)‖θ‖², ℓᵢ = −log softmax(xᵢ W)_{yᵢ}
 * ∇ℓᵢ = xᵢ ⊗ (pᵢ − e_{yᵢ}),  ∇²ℓᵢ = xᵢxᵢᵀ ⊗ Sᵢ with Sᵢ = diag(pᵢ) − pᵢpᵢᵀ.
 *
 * Everything here runs outside the autodiff engine because at MNIST scale the structure matters:
 * rows are ~19% non-zero (a pass over 55,000 images touches 8M pixels, not 43M), and the dense
 * Hessian is assembled from the 55 distinct (k ≤ k′) blocks Xᵀ diag(Sᵢ[k,k′]) X on the WebAssembly
 * matmul. test/influence/figure2-mnist10.test.ts checks every formula against the engine
 * (grad, hvp, hessian) on a small problem.
 *
 * @module
 */
import { wasmMatmul } from '../../backend/wasm/gemm.ts';
import { softmaxRowsInPlace } from '../../linalg/vector.ts';

/** Rows of a sparse matrix in compressed-row form. */
export interface SparseRows {
  /** Number of rows. */
  n: number;
  /** Number of columns. */
  d: number;
  /** Row i's entries are at rowPtr[i] .. rowPtr[i+1] − 1. */
  rowPtr: Int32Array;
  /** Column of each entry. */
  col: Int32Array;
  /** Value of each entry. */
  val: Float64Array;
}

/**
 * Compressed rows of the chosen rows of a dense row-major matrix (bytes or floats), each entry
 * multiplied by `scale`; zeros are dropped.
 *
 * @example
 * ```ts
 * const S = sparseRows(Uint8Array.of(0, 255, 0, 51), 2, [1, 0], 1 / 255); // row 0 = [0, 0.2], row 1 = [0, 1]
 * ```
 */
export function sparseRows(dense: ArrayLike<number>, d: number, rows: ArrayLike<number>, scale = 1): SparseRows {
  const n = rows.length;
  let nnz = 0;
  for (let r = 0; r < n; r++) {
    const o = rows[r]! * d;
    for (let j = 0; j < d; j++) if (dense[o + j] !== 0) nnz++;
  }
  const rowPtr = new Int32Array(n + 1);
  const col = new Int32Array(nnz);
  const val = new Float64Array(nnz);
  let e = 0;
  for (let r = 0; r < n; r++) {
    const o = rows[r]! * d;
    for (let j = 0; j < d; j++) {
      const v = dense[o + j]!;
      if (v !== 0) {
        col[e] = j;
        val[e++] = v * scale;
      }
    }
    rowPtr[r + 1] = e;
  }
  return { n, d, rowPtr, col, val };
}

/** A data set for the model: sparse inputs and integer labels 0..K−1. */
export interface SoftmaxData {
  X: SparseRows;
  y: Int32Array;
}

/** The logits θᵀxᵢ of row i into out[0..K) (a sparse row times the d × K weights). */
function rowLogits(theta: Float64Array, X: SparseRows, i: number, K: number, out: Float64Array): void {
  out.fill(0, 0, K);
  for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
    const v = X.val[e]!;
    const o = X.col[e]! * K;
    for (let k = 0; k < K; k++) out[k] += v * theta[o + k]!;
  }
}

/** Softmax probabilities of row i into out[0..K) (stable: the largest logit is subtracted). */
export function rowProbs(theta: Float64Array, X: SparseRows, i: number, K: number, out: Float64Array): void {
  rowLogits(theta, X, i, K, out);
  softmaxRowsInPlace(out, 1, K);
}

/** ℓ(z, θ) = −log p_y of row i (log-sum-exp form). */
export function rowLoss(theta: Float64Array, X: SparseRows, y: Int32Array, i: number, K: number): number {
  const z = new Float64Array(K);
  rowLogits(theta, X, i, K, z);
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, z[k]!);
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(z[k]! - m);
  return m + Math.log(s) - z[y[i]!]!;
}

/** ∇ℓ(zᵢ, θ) = xᵢ ⊗ (pᵢ − e_{yᵢ}), dense (length d·K). */
export function rowGradient(theta: Float64Array, X: SparseRows, y: Int32Array, i: number, K: number): Float64Array {
  const p = new Float64Array(K);
  rowProbs(theta, X, i, K, p);
  p[y[i]!] -= 1;
  const g = new Float64Array(X.d * K);
  for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
    const v = X.val[e]!;
    const o = X.col[e]! * K;
    for (let k = 0; k < K; k++) g[o + k] = v * p[k]!;
  }
  return g;
}

/**
 * The training objective R(θ) = (1/n) Σᵢ ℓᵢ + (λ/2)‖θ‖² of softmax regression on sparse rows,
 * and its derivatives in closed form.
 */
export class SoftmaxRegression {
  /** Number of training rows (the n of 1/n). */
  readonly n: number;
  /** Input dimension. */
  readonly d: number;
  /** Length of θ = d·K. */
  readonly dim: number;

  constructor(
    /** Training rows and labels. */
    readonly data: SoftmaxData,
    /** Number of classes K. */
    readonly K: number,
    /** λ in (λ/2)‖θ‖². */
    readonly l2: number,
  ) {
    this.n = data.X.n;
    this.d = data.X.d;
    this.dim = this.d * K;
    if (data.y.length !== this.n) throw new Error(`SoftmaxRegression: ${this.n} rows but ${data.y.length} labels`);
    for (let i = 0; i < this.n; i++) {
      const c = data.y[i]!;
      if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`SoftmaxRegression: label ${c} at row ${i} is not in 0..${K - 1}`);
    }
  }

  /** R(θ), optionally without row `skip`'s term (the leave-one-out objective R − (1/n)ℓ_skip). */
  value(theta: Float64Array, skip = -1): number {
    let s = 0;
    for (let i = 0; i < this.n; i++) if (i !== skip) s += rowLoss(theta, this.data.X, this.data.y, i, this.K);
    let w = 0;
    for (let j = 0; j < this.dim; j++) w += theta[j]! * theta[j]!;
    return s / this.n + (this.l2 / 2) * w;
  }

  /**
   * ∇R(θ) = (1/n) Σᵢ xᵢ ⊗ (pᵢ − e_{yᵢ}) + λθ; with `skip` ≥ 0, row `skip` is left out of the sum
   * (still divided by n: the leave-one-out objective of the project's definition).
   */
  gradient(theta: Float64Array, skip = -1): Float64Array {
    const { X, y } = this.data;
    const K = this.K;
    const g = new Float64Array(this.dim);
    const p = new Float64Array(K);
    for (let i = 0; i < this.n; i++) {
      if (i === skip) continue;
      rowProbs(theta, X, i, K, p);
      p[y[i]!] -= 1;
      for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
        const v = X.val[e]!;
        const o = X.col[e]! * K;
        for (let k = 0; k < K; k++) g[o + k] += v * p[k]!;
      }
    }
    const inv = 1 / this.n;
    for (let j = 0; j < this.dim; j++) g[j] = g[j]! * inv + this.l2 * theta[j]!;
    return g;
  }

  /** [R(θ), ∇R(θ)] in one pass over the rows. */
  valueAndGradient(theta: Float64Array): [number, Float64Array] {
    const { X, y } = this.data;
    const K = this.K;
    const g = new Float64Array(this.dim);
    const p = new Float64Array(K);
    let loss = 0;
    for (let i = 0; i < this.n; i++) {
      rowProbs(theta, X, i, K, p);
      loss -= Math.log(p[y[i]!]!);
      p[y[i]!] -= 1;
      for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
        const v = X.val[e]!;
        const o = X.col[e]! * K;
        for (let k = 0; k < K; k++) g[o + k] += v * p[k]!;
      }
    }
    let w = 0;
    const inv = 1 / this.n;
    for (let j = 0; j < this.dim; j++) {
      w += theta[j]! * theta[j]!;
      g[j] = g[j]! * inv + this.l2 * theta[j]!;
    }
    return [loss * inv + (this.l2 / 2) * w, g];
  }

  /**
   * ∇R₋ₛ(θ_b) for B parameter vectors at once, each without its own row `skips[b]` (−1: none): one
   * pass over the rows serves them all, with the B·K parameters of each input pixel side by side.
   * Each result equals {@link SoftmaxRegression.gradient}(θ_b, skips[b]) (same sums, same order).
   */
  gradients(thetas: readonly Float64Array[], skips: readonly number[]): Float64Array[] {
    const { X, y } = this.data;
    const { K, d, n } = this;
    const B = thetas.length;
    const BK = B * K;
    const T = new Float64Array(d * BK); // T[(j·B + b)·K + k] = θ_b[j·K + k]
    thetas.forEach((th, b) => {
      for (let j = 0; j < d; j++) for (let k = 0; k < K; k++) T[(j * B + b) * K + k] = th[j * K + k]!;
    });
    const G = new Float64Array(d * BK);
    const z = new Float64Array(BK);
    for (let i = 0; i < n; i++) {
      z.fill(0);
      const e0 = X.rowPtr[i]!;
      const e1 = X.rowPtr[i + 1]!;
      for (let e = e0; e < e1; e++) {
        const v = X.val[e]!;
        const o = X.col[e]! * BK;
        for (let c = 0; c < BK; c++) z[c] += v * T[o + c]!;
      }
      for (let b = 0; b < B; b++) {
        const o = b * K;
        if (skips[b] === i) {
          z.fill(0, o, o + K);
          continue;
        }
        let m = -Infinity;
        for (let k = 0; k < K; k++) m = Math.max(m, z[o + k]!);
        let s = 0;
        for (let k = 0; k < K; k++) {
          const ez = Math.exp(z[o + k]! - m);
          z[o + k] = ez;
          s += ez;
        }
        for (let k = 0; k < K; k++) z[o + k] /= s;
        z[o + y[i]!] -= 1;
      }
      for (let e = e0; e < e1; e++) {
        const v = X.val[e]!;
        const o = X.col[e]! * BK;
        for (let c = 0; c < BK; c++) G[o + c] += v * z[c]!;
      }
    }
    const inv = 1 / n;
    return thetas.map((th, b) => {
      const g = new Float64Array(this.dim);
      for (let j = 0; j < d; j++) for (let k = 0; k < K; k++) g[j * K + k] = G[(j * B + b) * K + k]! * inv + this.l2 * th[j * K + k]!;
      return g;
    });
  }

  /** Softmax probabilities of every training row, row-major n × K. */
  probabilities(theta: Float64Array): Float64Array {
    const P = new Float64Array(this.n * this.K);
    const p = new Float64Array(this.K);
    for (let i = 0; i < this.n; i++) {
      rowProbs(theta, this.data.X, i, this.K, p);
      P.set(p, i * this.K);
    }
    return P;
  }

  /**
   * ∇²R(θ) v = (1/|B|) Σ_{i∈B} xᵢ ⊗ Sᵢ (xᵢᵀ V) + λ v over rows B (default all, divided by n),
   * with V = v as a d × K matrix. `P` (from {@link SoftmaxRegression.probabilities}) saves
   * recomputing the probabilities.
   */
  hvp(theta: Float64Array, v: Float64Array, rows?: ArrayLike<number>, P?: Float64Array): Float64Array {
    const { X } = this.data;
    const K = this.K;
    const out = new Float64Array(this.dim);
    const p = new Float64Array(K);
    const a = new Float64Array(K);
    const count = rows ? rows.length : this.n;
    for (let r = 0; r < count; r++) {
      const i = rows ? rows[r]! : r;
      if (P) p.set(P.subarray(i * K, i * K + K));
      else rowProbs(theta, X, i, K, p);
      a.fill(0);
      for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
        const xv = X.val[e]!;
        const o = X.col[e]! * K;
        for (let k = 0; k < K; k++) a[k] += xv * v[o + k]!;
      }
      // S a = p ⊙ a − p (pᵀ a)
      let pa = 0;
      for (let k = 0; k < K; k++) pa += p[k]! * a[k]!;
      for (let k = 0; k < K; k++) a[k] = p[k]! * (a[k]! - pa);
      for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) {
        const xv = X.val[e]!;
        const o = X.col[e]! * K;
        for (let k = 0; k < K; k++) out[o + k] += xv * a[k]!;
      }
    }
    const inv = 1 / count;
    for (let j = 0; j < this.dim; j++) out[j] = out[j]! * inv + this.l2 * v[j]!;
    return out;
  }

  /**
   * The dense Hessian ∇²R(θ) (row-major dim × dim): for each of the K(K+1)/2 class pairs k ≤ k′,
   * the block Xᵀ diag(Sᵢ[k,k′]) X on the WebAssembly matmul, rows in chunks of `chunk`, scattered to
   * H[(j,k),(j′,k′)] and its mirror; then /n and + λI.
   */
  hessian(theta: Float64Array, opts: { chunk?: number; dropBelow?: number; log?: (msg: string) => void } = {}): Float64Array {
    const tau = opts.dropBelow ?? 0;
    const { X } = this.data;
    const { d, K, dim, n } = this;
    const chunk = Math.min(opts.chunk ?? 5000, n);
    const P = this.probabilities(theta);
    const H = new Float64Array(dim * dim);
    const dense = new Float64Array(chunk * d);
    const scaled = new Float64Array(chunk * d);
    const packed = new Float64Array(chunk * d);
    const t0 = performance.now();
    const chunks = Math.ceil(n / chunk);
    for (let c = 0; c < chunks; c++) {
      const r0 = c * chunk;
      const m = Math.min(chunk, n - r0);
      dense.fill(0);
      for (let r = 0; r < m; r++) {
        const i = r0 + r;
        for (let e = X.rowPtr[i]!; e < X.rowPtr[i + 1]!; e++) dense[r * d + X.col[e]!] = X.val[e]!;
      }
      for (let k = 0; k < K; k++) {
        for (let k2 = k; k2 < K; k2++) {
          // Rows with |s| ≤ tau are left out (tau = 0: only exact zeros); kept rows are packed.
          let kept = 0;
          for (let r = 0; r < m; r++) {
            const pi = (r0 + r) * K;
            const s = (k === k2 ? P[pi + k]! : 0) - P[pi + k]! * P[pi + k2]!;
            if (!(Math.abs(s) > tau)) continue;
            const o = r * d;
            const ok = kept * d;
            for (let j = 0; j < d; j++) {
              const x = dense[o + j]!;
              scaled[ok + j] = s * x;
              packed[ok + j] = x;
            }
            kept++;
          }
          if (kept === 0) continue;
          const A = scaled.subarray(0, kept * d);
          const Bm = packed.subarray(0, kept * d);
          const C = wasmMatmul(A, Bm, 1, d, kept, d, true, false) ?? plainAtB(A, Bm, kept, d);
          // C[j, j2] = Σ_r s_r x_rj x_rj2, symmetric in (j, j2); H[(j,k),(j2,k2)] and H[(j,k2),(j2,k)].
          for (let j = 0; j < d; j++) {
            const rowA = (j * K + k) * dim;
            const rowB = (j * K + k2) * dim;
            for (let j2 = 0; j2 < d; j2++) {
              const v = C[j * d + j2]!;
              H[rowA + j2 * K + k2] += v;
              if (k2 !== k) H[rowB + j2 * K + k] += v;
            }
          }
        }
      }
      if (opts.log) {
        const el = (performance.now() - t0) / 1000;
        opts.log(`  Hessian: rows ${r0 + m}/${n}, ${el.toFixed(0)} s, about ${((el / (c + 1)) * (chunks - c - 1)).toFixed(0)} s left`);
      }
    }
    const inv = 1 / n;
    for (let a = 0; a < dim * dim; a++) H[a] = H[a]! * inv;
    for (let a = 0; a < dim; a++) H[a * dim + a] += this.l2;
    return H;
  }
}

/** Aᵀ B for row-major A [m × d], B [m × d], where the WebAssembly kernel is unavailable. */
function plainAtB(A: Float64Array, B: Float64Array, m: number, d: number): Float64Array {
  const C = new Float64Array(d * d);
  for (let r = 0; r < m; r++) {
    for (let j = 0; j < d; j++) {
      const a = A[r * d + j]!;
      if (a === 0) continue;
      const o = j * d;
      for (let j2 = 0; j2 < d; j2++) C[o + j2] += a * B[r * d + j2]!;
    }
  }
  return C;
}

/**
 * L⁻¹ of a lower-triangular row-major L (d × d), by rows: row i of X = L⁻¹ solves
 * X[i,:] = (e_i − Σ_{k<i} L[i,k] X[k,:]) / L[i,i], and X[k,:] is zero beyond column k.
 */
export function lowerInverse(L: Float64Array, d: number): Float64Array {
  const X = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const ri = i * d;
    for (let k = 0; k < i; k++) {
      const l = L[ri + k]!;
      if (l === 0) continue;
      const rk = k * d;
      for (let c = 0; c <= k; c++) X[ri + c] -= l * X[rk + c]!;
    }
    X[ri + i] = 1;
    const inv = 1 / L[ri + i]!;
    for (let c = 0; c <= i; c++) X[ri + c] *= inv;
  }
  return X;
}

/** C = op(A) op(B) on the WebAssembly kernel (plain loops where it is unavailable). */
function mm(A: Float64Array, B: Float64Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float64Array {
  const C = wasmMatmul(A, B, 1, m, k, n, transA, transB);
  if (C) return C;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < k; t++) {
      const a = transA ? A[t * m + i]! : A[i * k + t]!;
      if (a === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += a * (transB ? B[j * k + t]! : B[t * n + j]!);
    }
  }
  return out;
}

/** Rows r0..r0+m, columns c0..c0+n of a row-major matrix with `ld` columns, as a fresh m × n array. */
function block(A: Float64Array, ld: number, r0: number, c0: number, m: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) out.set(A.subarray((r0 + i) * ld + c0, (r0 + i) * ld + c0 + n), i * n);
  return out;
}

/**
 * The Cholesky factor of a symmetric positive-definite d × d matrix, overwriting A's lower
 * triangle (the upper is zeroed): right-looking and blocked, the trailing updates A₂₂ −= L₂₁L₂₁ᵀ
 * (all but O(d²·nb) of the work) on the WebAssembly matmul, lower triangle only. The unblocked
 * factorisation of `linalg/dense.ts` streams every earlier row once per column, which makes it
 * memory-bound at d = 7840 (minutes); this one is the same arithmetic grouped for the cache.
 *
 * @throws if a pivot is not positive (A not numerically positive definite).
 */
export function blockedCholeskyInPlace(A: Float64Array, d: number, nb = 192): Float64Array {
  for (let k0 = 0; k0 < d; k0 += nb) {
    const b = Math.min(nb, d - k0);
    // 1. The diagonal block, unblocked.
    for (let j = 0; j < b; j++) {
      const rj = (k0 + j) * d + k0;
      let s = A[rj + j]!;
      for (let t = 0; t < j; t++) s -= A[rj + t]! * A[rj + t]!;
      if (!(s > 0)) throw new Error(`blocked Cholesky: pivot ${k0 + j} is ${s}: the ${d}×${d} matrix is not numerically positive definite`);
      const ljj = Math.sqrt(s);
      A[rj + j] = ljj;
      for (let i = j + 1; i < b; i++) {
        const ri = (k0 + i) * d + k0;
        let t2 = A[ri + j]!;
        for (let t = 0; t < j; t++) t2 -= A[ri + t]! * A[rj + t]!;
        A[ri + j] = t2 / ljj;
      }
    }
    const m = d - k0 - b;
    if (m === 0) break;
    // 2. The panel below: each row solves L₁₁ x = a (forward substitution), in place; copied to P.
    const P = new Float64Array(m * b);
    for (let i = 0; i < m; i++) {
      const ri = (k0 + b + i) * d + k0;
      for (let j = 0; j < b; j++) {
        const rj = (k0 + j) * d + k0;
        let s = A[ri + j]!;
        for (let t = 0; t < j; t++) s -= A[rj + t]! * A[ri + t]!;
        A[ri + j] = s / A[rj + j]!;
      }
      P.set(A.subarray(ri, ri + b), i * b);
    }
    // 3. Trailing update of the lower triangle, in row blocks: rows r0..r1 need columns 0..r1.
    const rbs = 512;
    for (let r0 = 0; r0 < m; r0 += rbs) {
      const r1 = Math.min(m, r0 + rbs);
      const C = mm(P.subarray(r0 * b, r1 * b), P.subarray(0, r1 * b), r1 - r0, b, r1, false, true);
      for (let i = r0; i < r1; i++) {
        const row = (k0 + b + i) * d + k0 + b;
        const crow = (i - r0) * r1;
        for (let j = 0; j <= i; j++) A[row + j] -= C[crow + j]!;
      }
    }
  }
  for (let i = 0; i < d; i++) A.fill(0, i * d + i + 1, (i + 1) * d);
  return A;
}

/**
 * L⁻¹ of a lower-triangular row-major L (d × d), recursively: [L₁₁ 0; L₂₁ L₂₂]⁻¹ =
 * [L₁₁⁻¹ 0; −L₂₂⁻¹ L₂₁ L₁₁⁻¹  L₂₂⁻¹], the products on the WebAssembly matmul, {@link lowerInverse}
 * below 256.
 */
export function blockedLowerInverse(L: Float64Array, d: number): Float64Array {
  if (d <= 256) return lowerInverse(L, d);
  const h = d >> 1;
  const m = d - h;
  const X11 = blockedLowerInverse(block(L, d, 0, 0, h, h), h);
  const X22 = blockedLowerInverse(block(L, d, h, h, m, m), m);
  const T = mm(block(L, d, h, 0, m, h), X11, m, h, h, false, false);
  const X21 = mm(X22, T, m, m, h, false, false);
  const X = new Float64Array(d * d);
  for (let i = 0; i < h; i++) X.set(X11.subarray(i * h, (i + 1) * h), i * d);
  for (let i = 0; i < m; i++) {
    const o = (h + i) * d;
    for (let j = 0; j < h; j++) X[o + j] = -X21[i * h + j]!;
    X.set(X22.subarray(i * m, (i + 1) * m), o + h);
  }
  return X;
}

/**
 * A⁻¹ = L⁻ᵀ L⁻¹ from the Cholesky factor L of A (row-major d × d). Row block r₀..r₁ of A⁻¹ needs
 * only rows k ≥ r₀ of L⁻¹ (L⁻¹[k, i] = 0 for k < i) and, by symmetry, only columns ≥ r₀: the
 * product runs on the WebAssembly matmul and the rest is mirrored.
 */
export function inverseFromCholesky(L: Float64Array, d: number, log?: (msg: string) => void): Float64Array {
  const t0 = performance.now();
  const Li = blockedLowerInverse(L, d);
  log?.(`  L⁻¹: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const out = new Float64Array(d * d);
  const rb = Math.max(64, Math.ceil(d / 8));
  for (let r0 = 0; r0 < d; r0 += rb) {
    const r1 = Math.min(d, r0 + rb);
    const w = d - r0;
    const A = block(Li, d, r0, r0, w, r1 - r0); // rows k ≥ r0, columns r0..r1: [w × rb]
    const B = block(Li, d, r0, r0, w, w);
    const C = mm(A, B, r1 - r0, w, w, true, false); // [rb × w]: A⁻¹[r0 + i, r0 + j]
    for (let i = 0; i < r1 - r0; i++) {
      const row = (r0 + i) * d + r0;
      for (let j = 0; j < w; j++) {
        const v = C[i * w + j]!;
        out[row + j] = v;
        out[(r0 + j) * d + r0 + i] = v;
      }
    }
  }
  log?.(`  A⁻¹ = L⁻ᵀL⁻¹: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return out;
}

/** [A x_1, …, A x_B] for a row-major d × d matrix, as one product on the WebAssembly matmul. */
export function denseMatvecs(A: Float64Array, d: number, xs: readonly Float64Array[]): Float64Array[] {
  const B = xs.length;
  if (B === 0) return [];
  const X = new Float64Array(d * B);
  xs.forEach((x, b) => {
    for (let j = 0; j < d; j++) X[j * B + b] = x[j]!;
  });
  const Y = mm(A, X, d, d, B, false, false);
  return xs.map((_, b) => Float64Array.from({ length: d }, (_, j) => Y[j * B + b]!));
}

/** y = A x for a row-major symmetric or general d × d matrix. */
export function denseMatvec(A: Float64Array, d: number, x: Float64Array): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) s += A[o + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** Euclidean norm. */
export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s);
}
