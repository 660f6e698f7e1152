/**
 * Dense float64 matrices on plain `Float64Array`s (row-major, symmetric matrices stored in
 * full): Cholesky factorisation and solves, the smallest eigenvalue of a symmetric matrix
 * (Householder tridiagonalisation + Sturm-sequence bisection), and a cyclic Jacobi eigen-solver
 * for small matrices (used by Arnoldi on its Krylov matrix).
 *
 * These run outside the autodiff engine on purpose: they consume derivatives (Hessians, HVPs) that
 * the engine has already produced and are never differentiated themselves, so plain loops over
 * contiguous rows are both the fastest and the most readable form.
 *
 * @module
 */

/** Thrown by {@link cholesky} when the matrix is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends Error {
  constructor(
    message: string,
    /** The smallest eigenvalue of the symmetric matrix (computed by {@link unequal!smallestEigenvalue}). */
    readonly smallestEigenvalue: number,
    /** The pivot (0-based) where the factorisation broke down. */
    readonly pivot: number,
    /**
     * The diagnosis: `non-finite` entries (an overflow upstream), `singular` to working precision,
     * `indefinite` (a clearly negative eigenvalue) or `ill-conditioned` (positive definite in exact
     * arithmetic, beyond float64 in practice).
     */
    readonly kind: 'non-finite' | 'singular' | 'indefinite' | 'ill-conditioned' = 'indefinite',
  ) {
    super(message);
    this.name = 'NotPositiveDefiniteError';
  }
}

/**
 * The Cholesky factor L (lower triangular, row-major, A = L Lᵀ) of a symmetric positive-definite
 * `d × d` matrix. Only the lower triangle of A is read.
 *
 * If a pivot is not positive the matrix is not positive definite: the error then reports the
 * smallest eigenvalue of A, computed exactly (to rounding) by {@link smallestEigenvalue}, because
 * "pivot 312 was −3e−9" tells a user nothing while "the smallest eigenvalue is −0.021" says how
 * much damping would fix it.
 *
 * @param what a name for error messages ("the Hessian").
 *
 * @example
 * ```ts
 * const L = cholesky(new Float64Array([4, 2, 2, 3]), 2); // [2, 0, 1, √2]
 * ```
 */
export function cholesky(A: Float64Array, d: number, what = 'the matrix'): Float64Array {
  const L = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    let s = A[rj + j]!;
    for (let k = 0; k < j; k++) s -= L[rj + k]! * L[rj + k]!;
    if (!(s > 0)) throw notPositiveDefinite(A, d, j, what);
    const ljj = Math.sqrt(s);
    L[rj + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      const ri = i * d;
      let t = A[ri + j]!;
      for (let k = 0; k < j; k++) t -= L[ri + k]! * L[rj + k]!;
      L[ri + j] = t / ljj;
    }
  }
  return L;
}

/**
 * The error {@link cholesky} throws at pivot `j`, with a diagnosis that cannot contradict itself:
 * non-finite entries (an overflow upstream: no eigenvalue to report), an eigenvalue at the rounding
 * level of the matrix (singular to working precision: damping must be well above rounding, not
 * "≥ 0"), or a clearly negative one (indefinite: damping must exceed its magnitude strictly, since
 * damping equal to it leaves the matrix singular).
 */
function notPositiveDefinite(A: Float64Array, d: number, j: number, what: string): NotPositiveDefiniteError {
  const head = `${what} (${d}×${d}) is not positive definite: Cholesky failed at pivot ${j}`;
  let norm = 0; // ‖A‖∞ (from the lower triangle, the part read), an upper bound on |λ|
  for (let r = 0; r < d; r++) {
    let rowSum = 0;
    for (let c = 0; c < d; c++) {
      const v = r >= c ? A[r * d + c]! : A[c * d + r]!;
      if (!Number.isFinite(v)) {
        return new NotPositiveDefiniteError(
          `${head}: entry [${Math.max(r, c)}, ${Math.min(r, c)}] is ${v}, so it has no eigenvalues to speak of; ` +
            'something upstream overflowed (inputs too large, or parameters that diverged): rescale the inputs or regularise',
          NaN,
          j,
          'non-finite',
        );
      }
      rowSum += Math.abs(v);
    }
    norm = Math.max(norm, rowSum);
  }
  const lambda = smallestEigenvalue(A, d);
  const rounding = d * Number.EPSILON * norm; // the backward error of the factorisation
  const fmt = (x: number) => x.toPrecision(3);
  if (lambda <= rounding) {
    if (lambda >= -rounding) {
      return new NotPositiveDefiniteError(
        `${head}: it is singular to working precision (smallest eigenvalue ${lambda.toPrecision(3)}, within rounding ${fmt(rounding)} of 0 for a matrix of norm ${fmt(norm)}): ` +
          'some direction has no curvature (collinear or constant features without an L2 penalty, or too few rows); raise the L2 penalty, remove the redundant features, ' +
          `or add damping well above rounding (e.g. ${fmt(1e-8 * norm)}; then the result is (H + damping·I)⁻¹ v, not H⁻¹ v)`,
        lambda,
        j,
        'singular',
      );
    }
    return new NotPositiveDefiniteError(
      `${head}: its smallest eigenvalue is ${lambda.toPrecision(6)} < 0 (Householder tridiagonalisation + Sturm bisection). Train closer to the optimum, raise the L2 penalty, ` +
        `or add damping greater than ${fmt(-lambda)} (e.g. ${fmt(-2 * lambda)}; then the result is (H + damping·I)⁻¹ v, not H⁻¹ v)`,
      lambda,
      j,
      'indefinite',
    );
  }
  return new NotPositiveDefiniteError(
    `${head} although its smallest eigenvalue is ${lambda.toPrecision(3)} > 0: it is too ill-conditioned for float64 (condition ≳ ${fmt(norm / lambda)}); ` +
      `raise the L2 penalty or add damping (e.g. ${fmt(1e-8 * norm)}; then the result is (H + damping·I)⁻¹ v, not H⁻¹ v)`,
    lambda,
    j,
    'ill-conditioned',
  );
}

/**
 * Solves A x = b given A's Cholesky factor L (forward then back substitution).
 *
 * @example
 * ```ts
 * const L = cholesky(new Float64Array([4, 2, 2, 3]), 2);
 * choleskySolve(L, 2, new Float64Array([6, 5])); // [1, 1]
 * ```
 */
export function choleskySolve(L: Float64Array, d: number, b: Float64Array): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    const ri = i * d;
    for (let k = 0; k < i; k++) s -= L[ri + k]! * y[k]!;
    y[i] = s / L[ri + i]!;
  }
  // Back substitution with Lᵀ, column-oriented so that L is still read row by row.
  const x = y;
  for (let i = d - 1; i >= 0; i--) {
    const ri = i * d;
    x[i] = x[i]! / L[ri + i]!;
    const xi = x[i]!;
    for (let k = 0; k < i; k++) x[k] -= L[ri + k]! * xi;
  }
  return x;
}

/** The Householder reflectors I − β v vᵀ of a tridiagonalisation, in the order they were applied. */
interface Reflectors {
  vs: Float64Array[];
  betas: number[];
}

/**
 * Householder reduction of a symmetric matrix (only its lower triangle is read) to tridiagonal form
 * T = Qᵀ A Q. Returns the diagonal and the sub-diagonal (`off[i]` couples rows i and i+1) and, when
 * `keepReflectors` is set, the reflectors whose product is Q (for {@link tridiagonalizeWithBasis});
 * eigenvalue-only callers skip storing them. 4d³/3 flops.
 */
function tridiagonalize(A: Float64Array, d: number, keepReflectors: boolean): { diag: Float64Array; off: Float64Array; reflectors: Reflectors } {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) a[i * d + j] = a[j * d + i] = A[i * d + j]!;
  const diag = new Float64Array(d);
  const off = new Float64Array(Math.max(0, d - 1));
  const reflectors: Reflectors = { vs: [], betas: [] };
  const p = new Float64Array(d);
  let v = new Float64Array(d);
  for (let k = 0; k < d - 2; k++) {
    if (keepReflectors) v = new Float64Array(d);
    else v.fill(0);
    let scale = 0;
    for (let i = k + 1; i < d; i++) scale = Math.max(scale, Math.abs(a[i * d + k]!));
    if (scale === 0) {
      off[k] = 0;
      if (keepReflectors) {
        reflectors.vs.push(v);
        reflectors.betas.push(0);
      }
      continue;
    }
    // The norm of the column below the diagonal, scaled against overflow.
    let s2 = 0;
    for (let i = k + 1; i < d; i++) s2 += (a[i * d + k]! / scale) ** 2;
    const x0 = a[(k + 1) * d + k]!;
    const alpha = (x0 > 0 ? -1 : 1) * scale * Math.sqrt(s2); // the sign that avoids cancellation in v[k+1]
    for (let i = k + 1; i < d; i++) v[i] = a[i * d + k]!;
    v[k + 1] = x0 - alpha;
    let vn = 0;
    for (let i = k + 1; i < d; i++) vn += v[i]! * v[i]!;
    const beta = vn > 0 ? 2 / vn : 0;
    off[k] = alpha;
    if (keepReflectors) {
      reflectors.vs.push(v);
      reflectors.betas.push(beta);
    }
    if (beta === 0) continue;
    // Trailing block B ← H B H with H = I − β v vᵀ: B − v wᵀ − w vᵀ, p = β B v, w = p − (β/2)(vᵀp) v.
    for (let i = k + 1; i < d; i++) {
      const ri = i * d;
      let s = 0;
      for (let j = k + 1; j < d; j++) s += a[ri + j]! * v[j]!;
      p[i] = beta * s;
    }
    let vp = 0;
    for (let i = k + 1; i < d; i++) vp += v[i]! * p[i]!;
    const c = (beta / 2) * vp;
    for (let i = k + 1; i < d; i++) p[i] -= c * v[i]!;
    for (let i = k + 1; i < d; i++) {
      const ri = i * d;
      const vi = v[i]!;
      const pi = p[i]!;
      for (let j = k + 1; j < d; j++) a[ri + j] -= vi * p[j]! + pi * v[j]!;
    }
  }
  for (let i = 0; i < d; i++) diag[i] = a[i * d + i]!;
  if (d >= 2) off[d - 2] = a[(d - 1) * d + (d - 2)]!;
  return { diag, off, reflectors };
}

/** The number of eigenvalues of the tridiagonal matrix below x (Sturm sequence count). */
function sturmCount(diag: Float64Array, off: Float64Array, x: number): number {
  let count = 0;
  let q = diag[0]! - x;
  if (q < 0) count++;
  for (let i = 1; i < diag.length; i++) {
    const e = off[i - 1]!;
    // A zero pivot would divide by zero; nudging it by a tiny amount is the standard remedy and
    // moves the count only for x within rounding of an eigenvalue.
    const qq = q !== 0 ? q : Number.EPSILON * Math.abs(e) || Number.MIN_VALUE;
    q = diag[i]! - x - (e * e) / qq;
    if (q < 0) count++;
  }
  return count;
}

/**
 * The k-th smallest eigenvalue (k = 0: the smallest) of a symmetric `d × d` matrix (only its
 * lower triangle is read), to within a few ulps of the spectral radius.
 *
 * Method: Householder tridiagonalisation (4d³/3 flops, ~1 s for d = 785), then bisection on the
 * Sturm-sequence count of the tridiagonal matrix, which is exact in the sense that bisection never
 * misses an eigenvalue (unlike power iteration or Lanczos, which can stall on clusters).
 *
 * @example
 * ```ts
 * smallestEigenvalue(new Float64Array([2, 1, 1, 2]), 2);    // 1
 * smallestEigenvalue(new Float64Array([2, 1, 1, 2]), 2, 1); // 3
 * ```
 */
export function smallestEigenvalue(A: Float64Array, d: number, k = 0): number {
  if (d === 0) throw new Error('smallestEigenvalue: empty matrix');
  if (!(k >= 0 && k < d)) throw new Error(`smallestEigenvalue: k = ${k} is outside 0..${d - 1}`);
  if (d === 1) return A[0]!;
  const { diag, off: offDiag } = tridiagonalize(A, d, false);
  // Gershgorin bounds enclose every eigenvalue.
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < d; i++) {
    const r = (i > 0 ? Math.abs(offDiag[i - 1]!) : 0) + (i < d - 1 ? Math.abs(offDiag[i]!) : 0);
    lo = Math.min(lo, diag[i]! - r);
    hi = Math.max(hi, diag[i]! + r);
  }
  const scale = Math.max(Math.abs(lo), Math.abs(hi), Number.MIN_VALUE);
  lo -= 1e-12 * scale;
  hi += 1e-12 * scale;
  for (let it = 0; it < 200 && hi - lo > 4 * Number.EPSILON * scale; it++) {
    const mid = 0.5 * (lo + hi);
    if (sturmCount(diag, offDiag, mid) > k) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/** What {@link jacobiEigen} returns: the eigendecomposition A = V diag(values) Vᵀ. */
export interface SymmetricEigen {
  /** The eigenvalues, decreasing. */
  values: Float64Array;
  /** V, row-major `d × d`, orthonormal, with the eigenvector of `values[j]` in column j. */
  vectors: Float64Array;
}

/**
 * All eigenpairs of a small symmetric matrix by cyclic Jacobi rotations, sorted by decreasing
 * eigenvalue. `vectors` is row-major `d × d` with eigenvector j in column j. Cost ~ 10·d³ flops: meant for
 * d up to a few hundred (Arnoldi's Krylov matrices, tests), not for full Hessians.
 *
 * @example
 * ```ts
 * const { values } = jacobiEigen(new Float64Array([2, 1, 1, 2]), 2); // values [3, 1]
 * ```
 */
export function jacobiEigen(A: Float64Array, d: number, maxSweeps = 100): SymmetricEigen {
  const a = Float64Array.from(A);
  for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) a[j * d + i] = a[i * d + j] = 0.5 * (a[i * d + j]! + a[j * d + i]!);
  const V = new Float64Array(d * d);
  for (let i = 0; i < d; i++) V[i * d + i] = 1;
  let total = 0;
  for (let i = 0; i < d * d; i++) total += a[i]! * a[i]!;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) off += a[i * d + j]! * a[i * d + j]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q]!;
        if (apq === 0) continue;
        const app = a[p * d + p]!;
        const aqq = a[q * d + q]!;
        // The rotation angle that zeroes a[p][q] (Golub & Van Loan, Alg. 8.5.1).
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p]!;
          const akq = a[k * d + q]!;
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k]!;
          const aqk = a[q * d + k]!;
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = V[k * d + p]!;
          const vkq = V[k * d + q]!;
          V[k * d + p] = c * vkp - s * vkq;
          V[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => a[j * d + j]! - a[i * d + i]!);
  const values = Float64Array.from(order, (i) => a[i * d + i]!);
  const vectors = new Float64Array(d * d);
  for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) vectors[r * d + c] = V[r * d + order[c]!]!;
  return { values, vectors };
}

/**
 * All eigenpairs of a symmetric `d × d` matrix (only its lower triangle is read), sorted by
 * decreasing eigenvalue, in {@link jacobiEigen}'s format: `vectors` row-major with eigenvector j in
 * column j, so A = V diag(values) Vᵀ.
 *
 * Method: Householder reduction to tridiagonal form T = Qᵀ A Q with Q accumulated, then the
 * implicit QL iteration with Wilkinson-type shifts on T, each Givens rotation applied to Q as well
 * (Golub & Van Loan §8.3). About 9d³ flops against Jacobi's ~10d³ per sweep times several sweeps,
 * and every inner loop runs along contiguous rows (the rotations act on rows of Qᵀ), so it serves
 * the 785×785 and 1025×1025 Kronecker factors of K-FAC where Jacobi is far too slow. The residuals
 * ‖A − VΛVᵀ‖ and ‖VᵀV − I‖ are small multiples of d·ε·‖A‖ and d·ε (test/linalg/dense.test.ts).
 *
 * @example
 * ```ts
 * const { values, vectors } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
 * values;  // [3, 1]
 * vectors; // [s, −s, s, s] up to the sign of each column, s = 1/√2
 * ```
 */
export function symmetricEigen(A: Float64Array, d: number): SymmetricEigen {
  if (!(Number.isInteger(d) && d >= 0)) throw new Error(`symmetricEigen: d must be a non-negative integer, got ${d}`);
  if (A.length < d * d) throw new Error(`symmetricEigen: A has ${A.length} entries, a ${d}×${d} matrix needs ${d * d}`);
  for (let i = 0; i < d * d; i++) {
    if (!Number.isFinite(A[i]!)) throw new Error(`symmetricEigen: entry [${Math.floor(i / d)}, ${i % d}] of the ${d}×${d} matrix is ${A[i]}`);
  }
  const { diag, off, Qt } = tridiagonalizeWithBasis(A, d);
  implicitQl(diag, off, Qt, d);
  const order = Array.from({ length: d }, (_, i) => i).sort((i, j) => diag[j]! - diag[i]!);
  const values = Float64Array.from(order, (i) => diag[i]!);
  const vectors = new Float64Array(d * d);
  // Row i of Qt is the eigenvector of diag[i]; the result wants it as column j of V.
  order.forEach((i, j) => {
    const ri = i * d;
    for (let r = 0; r < d; r++) vectors[r * d + j] = Qt[ri + r]!;
  });
  return { values, vectors };
}

/**
 * Householder tridiagonalisation T = Qᵀ A Q keeping Q, returned transposed (`Qt`, row-major:
 * row r of Qt is column r of Q) because the QL rotations then touch two contiguous rows.
 * `off[i]` couples rows i and i+1 of T.
 */
function tridiagonalizeWithBasis(A: Float64Array, d: number): { diag: Float64Array; off: Float64Array; Qt: Float64Array } {
  const { diag, off, reflectors } = tridiagonalize(A, d, true);
  const { vs, betas } = reflectors;
  // Q = H₀ H₁ ⋯ H_{d−3}, built right to left as H₀(H₁(⋯(H_{d−3} I))): each left product only
  // touches rows k+1.. (where v is nonzero); transposed at the end.
  const Q = new Float64Array(d * d);
  for (let i = 0; i < d; i++) Q[i * d + i] = 1;
  const row = new Float64Array(d);
  for (let k = vs.length - 1; k >= 0; k--) {
    const v = vs[k]!;
    const beta = betas[k]!;
    if (beta === 0) continue;
    // Q ← Q − β v (vᵀ Q): vᵀQ is a combination of rows k+1..d−1.
    row.fill(0);
    for (let i = k + 1; i < d; i++) {
      const vi = v[i]!;
      if (vi === 0) continue;
      const ri = i * d;
      for (let j = 0; j < d; j++) row[j] += vi * Q[ri + j]!;
    }
    for (let i = k + 1; i < d; i++) {
      const f = beta * v[i]!;
      if (f === 0) continue;
      const ri = i * d;
      for (let j = 0; j < d; j++) Q[ri + j] -= f * row[j]!;
    }
  }
  const Qt = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) Qt[j * d + i] = Q[i * d + j]!;
  return { diag, off, Qt };
}

/**
 * Diagonalises the symmetric tridiagonal (diag, off) in place by implicit QL sweeps, applying
 * each rotation to the rows of `Qt` (whose rows then hold the eigenvectors of `diag`'s entries).
 * Each sweep chases the bulge from the bottom of the unreduced block [l, m] up to l, with the shift
 * the eigenvalue of the leading 2×2 block nearer to diag[l] (cubic convergence in practice).
 */
function implicitQl(diag: Float64Array, off: Float64Array, Qt: Float64Array, d: number): void {
  const e = new Float64Array(d); // e[i] couples i and i+1; e[d−1] = 0 as a sentinel
  e.set(off);
  // A coupling below ε‖T‖ is dropped: a perturbation of the size rounding has already made. (A test
  // relative to the two neighbouring diagonal entries alone never fires inside a cluster of zero
  // eigenvalues, whose couplings are rounding noise of order ε‖T‖, not of order ε·0.)
  let norm = 0;
  for (let i = 0; i < d; i++) norm = Math.max(norm, Math.abs(diag[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const small = Number.EPSILON * norm;
  for (let l = 0; l < d; l++) {
    for (let iter = 0; ; iter++) {
      // The first negligible coupling at or below l ends the unreduced block [l, m].
      let m = l;
      for (; m < d - 1; m++) {
        if (Math.abs(e[m]!) <= small) break;
      }
      if (m === l) break;
      if (iter === 60) throw new Error(`symmetricEigen: the QL iteration did not converge for eigenvalue ${l} of ${d} after 60 sweeps`);
      // Shift: the eigenvalue of [[d_l, e_l], [e_l, d_{l+1}]] nearer to d_l.
      let g = (diag[l + 1]! - diag[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = diag[m]! - diag[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let pShift = 0;
      let i = m - 1;
      let deflated = false;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The rotation underflowed: the block splits here; undo the partial shift and restart.
          diag[i + 1] -= pShift;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = diag[i + 1]! - pShift;
        r = (diag[i]! - g) * s + 2 * c * b;
        pShift = s * r;
        diag[i + 1] = g + pShift;
        g = c * r - b;
        // The same rotation on eigenvector rows i and i+1.
        const ri = i * d;
        const rj = (i + 1) * d;
        for (let k = 0; k < d; k++) {
          const qi = Qt[ri + k]!;
          const qj = Qt[rj + k]!;
          Qt[rj + k] = s * qi + c * qj;
          Qt[ri + k] = c * qi - s * qj;
        }
      }
      if (deflated) continue;
      diag[l] -= pShift;
      e[l] = g;
      e[m] = 0;
    }
  }
}
