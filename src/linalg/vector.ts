/**
 * Float64 vector kernels on plain `Float64Array`s: inner products, axpy, norms, a dense
 * matrix-vector product, row-wise softmax and normalisation, and Pearson correlation. The optimisers, the inverse-HVP solvers, the CPU
 * backend and the linear models' closed-form HVP all loop through these.
 *
 * @module
 */

/**
 * ⟨a[aOff…], b[bOff…]⟩ over k elements with four independent accumulators: one running sum is a
 * chain of dependent additions, limited by add latency; four chains keep the FPU busy (about 3×
 * faster here). The summation order differs from a left-to-right sum only by rounding. The CPU
 * backend's matrix products and the linear models' closed-form HVP use it.
 *
 * @example
 * ```ts
 * stridedDot(new Float64Array([9, 1, 2]), 1, new Float64Array([3, 4]), 0, 2); // 1·3 + 2·4 = 11
 * ```
 */
export function stridedDot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, k: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  // Running indices rather than offset + p: V8 then has one add per load (about 20% faster here).
  let pa = aOff, pb = bOff;
  const end4 = aOff + k - 3, end = aOff + k;
  for (; pa < end4; pa += 4, pb += 4) {
    s0 += a[pa]! * b[pb]!;
    s1 += a[pa + 1]! * b[pb + 1]!;
    s2 += a[pa + 2]! * b[pb + 2]!;
    s3 += a[pa + 3]! * b[pb + 3]!;
  }
  for (; pa < end; pa++, pb++) s0 += a[pa]! * b[pb]!;
  return s0 + s1 + s2 + s3;
}

/**
 * y[yOff…] += alpha · x[xOff…] over n elements, unrolled by four.
 *
 * @example
 * ```ts
 * const y = new Float64Array([1, 1]);
 * stridedAxpy(2, new Float64Array([0, 5, 6]), 1, y, 0, 2); // y = [11, 13]
 * ```
 */
export function stridedAxpy(alpha: number, x: Float64Array, xOff: number, y: Float64Array, yOff: number, n: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    y[yOff + j] += alpha * x[xOff + j]!;
    y[yOff + j + 1] += alpha * x[xOff + j + 1]!;
    y[yOff + j + 2] += alpha * x[xOff + j + 2]!;
    y[yOff + j + 3] += alpha * x[xOff + j + 3]!;
  }
  for (; j < n; j++) y[yOff + j] += alpha * x[xOff + j]!;
}

/** ⟨a, b⟩ over a's length. @example `innerProduct(new Float64Array([1, 2]), new Float64Array([3, 4])) // 11` */
export function innerProduct(a: Float64Array, b: Float64Array): number {
  return stridedDot(a, 0, b, 0, a.length);
}

/** ‖a‖₂. @example `norm2(new Float64Array([3, 4])) // 5` */
export function norm2(a: Float64Array): number {
  return Math.sqrt(innerProduct(a, a));
}

/** y ← y + α x, in place; returns y. @example `axpy(2, x, y)` */
export function axpy(alpha: number, x: Float64Array, y: Float64Array): Float64Array {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i]!;
  return y;
}

/** α x as a new array. @example `scaled(2, new Float64Array([1])) // [2]` */
export function scaled(alpha: number, x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = alpha * x[i]!;
  return out;
}

/**
 * y = A x for a dense row-major `m × n` matrix.
 *
 * @example
 * ```ts
 * matvec(new Float64Array([1, 2, 3, 4]), 2, 2, new Float64Array([1, 1])); // [3, 7]
 * ```
 */
export function matvec(A: Float64Array, m: number, n: number, x: Float64Array): Float64Array {
  const y = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    const off = i * n;
    for (let j = 0; j < n; j++) s += A[off + j]! * x[j]!;
    y[i] = s;
  }
  return y;
}

/** Pearson correlation of two equal-length samples. @example `pearson([1, 2, 3], [2, 4, 7]) // ≈ 0.99` */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`pearson: lengths ${n} and ${b.length} differ`);
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * Row-wise softmax of the m × K matrix Z, in place (each row shifted by its maximum first, so no
 * exponential overflows); returns Z. The attribution code's closed forms (softmax regression, K-FAC's
 * output signals, representer points) share it.
 *
 * @example
 * ```ts
 * softmaxRowsInPlace(new Float64Array([0, 0, 1000, 1000]), 2, 2); // [0.5, 0.5, 0.5, 0.5]
 * ```
 */
export function softmaxRowsInPlace(Z: Float64Array, m: number, K: number): Float64Array {
  for (let i = 0; i < m; i++) {
    const o = i * K;
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, Z[o + k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Z[o + k] = Math.exp(Z[o + k]! - max);
    for (let k = 0; k < K; k++) Z[o + k] /= sum;
  }
  return Z;
}

/**
 * The squared Euclidean norm of each row of the m × p row-major matrix G (the self-scores of
 * gradient-dot-like estimators, and ‖L⁻¹g‖² of a whitened gradient).
 *
 * @example
 * ```ts
 * rowSquaredNorms(new Float64Array([3, 4, 1, 0]), 2, 2); // [25, 1]
 * ```
 */
export function rowSquaredNorms(G: Float64Array, m: number, p: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += G[i * p + j]! ** 2;
    out[i] = s;
  }
  return out;
}

/**
 * Each row of the m × p matrix G divided by its Euclidean norm, in place (a zero row stays zero);
 * returns G. Grad-Cos and normalised representer features use it.
 *
 * @example
 * ```ts
 * normalizeRowsInPlace(new Float64Array([3, 4, 0, 0]), 2, 2); // ≈ [0.6, 0.8, 0, 0]
 * ```
 */
export function normalizeRowsInPlace(G: Float64Array, m: number, p: number): Float64Array {
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += G[i * p + j]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < p; j++) G[i * p + j] *= inv;
  }
  return G;
}
