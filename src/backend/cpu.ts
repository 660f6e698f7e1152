/**
 * The float64 reference backend, in plain TypeScript (`setBackend('reference')`).
 *
 * This backend *is* the definition of every operation: the default `cpu` backend (`wasm/backend.ts`,
 * which inherits everything here but the large matrix products), the GPU backend and every test
 * compare against it. It favours loops whose memory access is sequential (the matmul variants pick their
 * loop order from the transpose flags) because that, not cleverness, is what makes plain JavaScript
 * fast on these sizes.
 *
 * @module
 */
import type { Backend, Storage, WindowPlan } from './backend.ts';
import type { BinaryOp, ReduceOp, UnaryOp } from '../base/op-list.ts';
import { sizeOf, stridesOf } from '../base/shape.ts';
import { erf } from './special.ts';
import { allocateF64, isReleasedF64, releaseF64 } from './f64-pool.ts';
import { stridedAxpy, stridedDot } from '../linalg/vector.ts';

type F64 = Float64Array;

/**
 * Walks the elements of `shape` in row-major order one innermost row at a time, calling
 * `visit(k, off)` with the row's dense index `k` and its strided offset `off = base + Σ idx_i ·
 * strides_i` (over the outer axes). The row itself is `shape[rank−1]` long with stride
 * `strides[rank−1]`; the caller's tight inner loop handles it, and an odometer advances the outer
 * axes. Gather, scatter and reduce are all this walk with a different inner loop.
 */
function forEachRow(
  shape: readonly number[],
  strides: readonly number[],
  base: number,
  visit: (k: number, off: number) => void,
): void {
  const size = sizeOf(shape);
  if (size === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    visit(0, base);
    return;
  }
  const inner = shape[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let off = base;
  for (let k = 0; k < size; k += inner) {
    visit(k, off);
    for (let ax = rank - 2; ax >= 0; ax--) {
      idx[ax]!++;
      off += strides[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      off -= idx[ax]! * strides[ax]!;
      idx[ax] = 0;
    }
  }
}

/** The length and stride of the innermost axis (1 and 1 for a scalar). */
function innerRow(shape: readonly number[], strides: readonly number[]): [number, number] {
  return shape.length ? [shape[shape.length - 1]!, strides[strides.length - 1]!] : [1, 1];
}

/** Rows at least this long are copied with `TypedArray.set` instead of an element loop. */
const COPY_MIN = 32;

/**
 * Reads a strided view densely: `out[k] = src[base + Σ idx_i · strides_i]` in row-major order of
 * `shape`. Zero strides broadcast; permuted strides transpose.
 */
function gatherStrided(src: F64, base: number, shape: readonly number[], strides: readonly number[]): F64 {
  const out = allocateF64(sizeOf(shape), false);
  const [inner, step] = innerRow(shape, strides);
  forEachRow(shape, strides, base, (k, off) => {
    // A long contiguous row is a block copy (memcpy, several times the element loop's speed).
    if (step === 1 && inner >= COPY_MIN) out.set(src.subarray(off, off + inner), k);
    else if (step === 1) for (let j = 0; j < inner; j++) out[k + j] = src[off + j]!;
    else if (step === 0) out.fill(src[off]!, k, k + inner); // a broadcast row: one value repeated
    else for (let j = 0; j < inner; j++) out[k + j] = src[off + j * step]!;
  });
  return out;
}

/**
 * The adjoint of `gatherStrided` with distinct targets: writes `src[k]` (dense, row-major order of
 * `shape`) to `out[base + Σ idx_i · strides_i]`.
 */
function scatterStrided(src: F64, out: F64, base: number, shape: readonly number[], strides: readonly number[]): void {
  const [inner, step] = innerRow(shape, strides);
  forEachRow(shape, strides, base, (k, off) => {
    if (step === 1 && inner >= COPY_MIN) out.set(src.subarray(k, k + inner), off);
    else for (let j = 0; j < inner; j++) out[off + j * step] = src[k + j]!;
  });
}

function unaryLoop(op: UnaryOp, x: F64, n: number): F64 {
  const o = allocateF64(n, false);
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) o[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) o[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) o[i] = Math.log(x[i]!); break;
    case 'log1p': for (let i = 0; i < n; i++) o[i] = Math.log1p(x[i]!); break;
    case 'sin': for (let i = 0; i < n; i++) o[i] = Math.sin(x[i]!); break;
    case 'cos': for (let i = 0; i < n; i++) o[i] = Math.cos(x[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) o[i] = Math.tanh(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) o[i] = Math.sqrt(x[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) o[i] = Math.abs(x[i]!); break;
    case 'sign': for (let i = 0; i < n; i++) { const v = x[i]!; o[i] = v > 0 ? 1 : v < 0 ? -1 : v; } break;
    case 'erf': for (let i = 0; i < n; i++) o[i] = erf(x[i]!); break;
    // x ≤ 0 is false for NaN, so NaN passes through (a test x > 0 would hide it as 0).
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; o[i] = v <= 0 ? 0 : v; } break;
    default: {
      // Exhaustive: a UnaryOp without a case above fails to compile here.
      const missing: never = op;
      throw new Error(`cpu backend: unknown unary op '${missing as string}'`);
    }
  }
  return o;
}

function binaryLoop(op: BinaryOp, a: F64, b: F64, n: number): F64 {
  const o = allocateF64(n, false);
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) o[i] = a[i]! + b[i]!; break;
    case 'sub': for (let i = 0; i < n; i++) o[i] = a[i]! - b[i]!; break;
    case 'mul': for (let i = 0; i < n; i++) o[i] = a[i]! * b[i]!; break;
    case 'div': for (let i = 0; i < n; i++) o[i] = a[i]! / b[i]!; break;
    case 'pow': for (let i = 0; i < n; i++) o[i] = Math.pow(a[i]!, b[i]!); break;
    // NaN propagates through maximum, as in numpy/JAX, so a bad value is never hidden.
    case 'maximum': for (let i = 0; i < n; i++) { const u = a[i]!, v = b[i]!; o[i] = u > v || u !== u ? u : v; } break;
    case 'greater': for (let i = 0; i < n; i++) o[i] = a[i]! > b[i]! ? 1 : 0; break;
    case 'greaterEqual': for (let i = 0; i < n; i++) o[i] = a[i]! >= b[i]! ? 1 : 0; break;
    case 'less': for (let i = 0; i < n; i++) o[i] = a[i]! < b[i]! ? 1 : 0; break;
    case 'lessEqual': for (let i = 0; i < n; i++) o[i] = a[i]! <= b[i]! ? 1 : 0; break;
    case 'equal': for (let i = 0; i < n; i++) o[i] = a[i]! === b[i]! ? 1 : 0; break;
    case 'notEqual': for (let i = 0; i < n; i++) o[i] = a[i]! !== b[i]! ? 1 : 0; break;
    case 'tanhGrad': for (let i = 0; i < n; i++) { const y = a[i]!; o[i] = b[i]! * (1 - y * y); } break;
    case 'reluGrad': for (let i = 0; i < n; i++) o[i] = a[i]! <= 0 ? 0 : b[i]!; break;
    default: {
      const missing: never = op;
      throw new Error(`cpu backend: unknown binary op '${missing as string}'`);
    }
  }
  return o;
}

/**
 * C = op(A) op(B) with two (or three) columns: a matrix times a couple of vectors, as in a
 * forward-over-reverse HVP, where `matmul`'s joint JVP stacks [w, v]. A is read once for both
 * columns: along four contiguous rows of A at once, or, with A transposed, four contiguous storage
 * rows scattered into the two columns of C. (Three columns: two, then one.)
 */
function narrowMatmul(
  a: F64, aOff: number, b: F64, bOff: number, c: F64, cOff: number,
  m: number, k: number, n: number, transA: boolean, sbp: number, sbj: number,
): void {
  if (n === 3) {
    // Rare: the first two columns together, then the third on its own.
    const two = new Float64Array(m * 2);
    narrowMatmul(a, aOff, b, bOff, two, 0, m, k, 2, transA, sbp, sbj);
    const one = new Float64Array(m);
    const column = Float64Array.from({ length: k }, (_, p) => b[bOff + 2 * sbj + p * sbp]!);
    matmulSlice(a, aOff, column, 0, one, 0, m, k, 1, transA, false);
    for (let i = 0; i < m; i++) {
      c[cOff + 3 * i] = two[2 * i]!;
      c[cOff + 3 * i + 1] = two[2 * i + 1]!;
      c[cOff + 3 * i + 2] = one[i]!;
    }
    return;
  }
  if (!transA) {
    // Four rows of A at a time, eight accumulators: each step loads the two values of B's row p
    // once for four rows and keeps eight independent chains (bench/README.md has the figures).
    const m4 = m - (m % 4);
    for (let i = 0; i < m4; i += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      let pa = aOff + i * k;
      const end = pa + k;
      let pb = bOff;
      for (; pa < end; pa++, pb += sbp) {
        const b0 = b[pb]!, b1 = b[pb + sbj]!;
        const a0 = a[pa]!, a1 = a[pa + k]!, a2 = a[pa + 2 * k]!, a3 = a[pa + 3 * k]!;
        s0 += a0 * b0; t0 += a0 * b1;
        s1 += a1 * b0; t1 += a1 * b1;
        s2 += a2 * b0; t2 += a2 * b1;
        s3 += a3 * b0; t3 += a3 * b1;
      }
      const o = cOff + 2 * i;
      c[o] = s0; c[o + 1] = t0; c[o + 2] = s1; c[o + 3] = t1;
      c[o + 4] = s2; c[o + 5] = t2; c[o + 6] = s3; c[o + 7] = t3;
    }
    // The last m mod 4 rows: two accumulators per column (even and odd p), four chains.
    for (let i = m4; i < m; i++) {
      let s0 = 0, s1 = 0, t0 = 0, t1 = 0;
      const pa = aOff + i * k;
      let pb = bOff;
      let p = 0;
      for (; p + 1 < k; p += 2, pb += 2 * sbp) {
        const a0 = a[pa + p]!, a1 = a[pa + p + 1]!;
        s0 += a0 * b[pb]!;
        s1 += a0 * b[pb + sbj]!;
        t0 += a1 * b[pb + sbp]!;
        t1 += a1 * b[pb + sbp + sbj]!;
      }
      if (p < k) {
        s0 += a[pa + p]! * b[pb]!;
        s1 += a[pa + p]! * b[pb + sbj]!;
      }
      c[cOff + 2 * i] = s0 + t0;
      c[cOff + 2 * i + 1] = s1 + t1;
    }
    return;
  }
  // A stored [k, m]: storage row p adds b[p, j] · A[p, :] into column j of C. Four rows of A are
  // combined per pass so each element of C is loaded and stored once per four rows, not per row.
  c.fill(0, cOff, cOff + m * 2);
  let p = 0;
  for (; p + 3 < k; p += 4) {
    const pb = bOff + p * sbp;
    const b00 = b[pb]!, b01 = b[pb + sbj]!;
    const b10 = b[pb + sbp]!, b11 = b[pb + sbp + sbj]!;
    const b20 = b[pb + 2 * sbp]!, b21 = b[pb + 2 * sbp + sbj]!;
    const b30 = b[pb + 3 * sbp]!, b31 = b[pb + 3 * sbp + sbj]!;
    const p0 = aOff + p * m, p1 = p0 + m, p2 = p1 + m, p3 = p2 + m;
    let o = cOff;
    for (let i = 0; i < m; i++, o += 2) {
      const a0 = a[p0 + i]!, a1 = a[p1 + i]!, a2 = a[p2 + i]!, a3 = a[p3 + i]!;
      c[o] += a0 * b00 + a1 * b10 + a2 * b20 + a3 * b30;
      c[o + 1] += a0 * b01 + a1 * b11 + a2 * b21 + a3 * b31;
    }
  }
  for (; p < k; p++) {
    const pb = bOff + p * sbp;
    const b0 = b[pb]!, b1 = b[pb + sbj]!;
    const pa = aOff + p * m;
    let o = cOff;
    for (let i = 0; i < m; i++, o += 2) {
      const av = a[pa + i]!;
      c[o] += av * b0;
      c[o + 1] += av * b1;
    }
  }
}

/**
 * C = op(A) op(B) for one batch slice, written into `c` at `cOff`.
 *
 * Matrix-vector products (n = 1) use a dot product per row, or an axpy per column when A is
 * transposed, both contiguous. Everything else goes through a 4 × 4 register tile: sixteen
 * accumulators stay in registers across the whole k loop, and each step loads four elements of A
 * and four of B for sixteen multiply-adds. Loading C once per tile instead of once per k step is
 * what makes this faster than row-by-row axpy updates. Transposes are just
 * different strides, so all four flag combinations share the tile.
 */
function matmulSlice(
  a: F64, aOff: number, b: F64, bOff: number, c: F64, cOff: number,
  m: number, k: number, n: number, transA: boolean, transB: boolean,
): void {
  if (n === 1) {
    if (!transA) {
      for (let i = 0; i < m; i++) c[cOff + i] = stridedDot(a, aOff + i * k, b, bOff, k);
    } else {
      // A is stored [k, m]: accumulate scaled rows of storage, four per pass over C so that each
      // element of C is loaded and stored once per four rows (the loop is bound by C's traffic).
      c.fill(0, cOff, cOff + m);
      let p = 0;
      for (; p + 3 < k; p += 4) {
        const b0 = b[bOff + p]!, b1 = b[bOff + p + 1]!, b2 = b[bOff + p + 2]!, b3 = b[bOff + p + 3]!;
        const p0 = aOff + p * m, p1 = p0 + m, p2 = p1 + m, p3 = p2 + m;
        for (let i = 0; i < m; i++) c[cOff + i] += a[p0 + i]! * b0 + a[p1 + i]! * b1 + a[p2 + i]! * b2 + a[p3 + i]! * b3;
      }
      for (; p < k; p++) stridedAxpy(b[bOff + p]!, a, aOff + p * m, c, cOff, m);
    }
    return;
  }
  // Strides of op(A)[i, p] and op(B)[p, j] in storage.
  const sai = transA ? 1 : k, sap = transA ? m : 1;
  const sbp = transB ? 1 : n, sbj = transB ? k : 1;
  if (n === 2 || n === 3) {
    narrowMatmul(a, aOff, b, bOff, c, cOff, m, k, n, transA, sbp, sbj);
    return;
  }
  const m4 = m - (m % 4), n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    for (let j = 0; j < n4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let pa = aOff + i * sai;
      let pb = bOff + j * sbj;
      for (let p = 0; p < k; p++, pa += sap, pb += sbp) {
        const a0 = a[pa]!, a1 = a[pa + sai]!, a2 = a[pa + 2 * sai]!, a3 = a[pa + 3 * sai]!;
        const b0 = b[pb]!, b1 = b[pb + sbj]!, b2 = b[pb + 2 * sbj]!, b3 = b[pb + 3 * sbj]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
      }
      const r0 = cOff + i * n + j, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n;
      c[r0] = c00; c[r0 + 1] = c01; c[r0 + 2] = c02; c[r0 + 3] = c03;
      c[r1] = c10; c[r1 + 1] = c11; c[r1 + 2] = c12; c[r1 + 3] = c13;
      c[r2] = c20; c[r2 + 1] = c21; c[r2 + 2] = c22; c[r2 + 3] = c23;
      c[r3] = c30; c[r3 + 1] = c31; c[r3 + 2] = c32; c[r3 + 3] = c33;
    }
  }
  // The ragged edges (rows past m4, columns past n4): one accumulator per element.
  for (let i = 0; i < m; i++) {
    for (let j = i < m4 ? n4 : 0; j < n; j++) {
      let s = 0;
      let pa = aOff + i * sai;
      let pb = bOff + j * sbj;
      for (let p = 0; p < k; p++, pa += sap, pb += sbp) s += a[pa]! * b[pb]!;
      c[cOff + i * n + j] = s;
    }
  }
}

/**
 * Max pooling's selection (`Backend.windowMax`): for each window, the positions S where x attains
 * its maximum, then either the mean of t over S (`gather`) or g/|S| added at S (`scatter`). The
 * mean is taken as t_f + Σ (t_p − t_f)/|S| from the first tied position f, so that gathering x
 * itself returns the maximum exactly, whatever the number of ties. One pass finds the maximum, its
 * first position and its count; only windows with a tie or a NaN (rare) are walked again.
 */
function windowMax(op: 'gather' | 'scatter', x: F64, t: F64, planes: number, h: number, w: number, win: WindowPlan): F64 {
  const { kh, kw, sh, sw, top, left, ho, wo } = win;
  const plane = h * w;
  const gather = op === 'gather';
  const out = allocateF64(gather ? planes * ho * wo : planes * plane);
  let q = 0;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * plane;
    for (let i = 0; i < ho; i++) {
      const r0 = Math.max(0, i * sh - top), r1 = Math.min(h, i * sh - top + kh);
      for (let j = 0; j < wo; j++, q++) {
        const c0 = Math.max(0, j * sw - left), c1 = Math.min(w, j * sw - left + kw);
        // Every window holds a real entry (the primitive checks the plan), so start from it.
        let first = base + r0 * w + c0;
        let m = x[first]!;
        let count = 1;
        let nan = m !== m;
        for (let r = r0; r < r1; r++) {
          const row = base + r * w;
          for (let c = r === r0 ? c0 + 1 : c0; c < c1; c++) {
            const v = x[row + c]!;
            if (v > m) {
              m = v;
              first = row + c;
              count = 1;
            } else if (v === m) count++;
            else if (v !== v) nan = true;
          }
        }
        if (count === 1 && !nan) {
          if (gather) out[q] = t[first]!;
          else out[first] += t[q]!;
          continue;
        }
        // A tie, or a window holding NaN: a NaN window selects every position (its value and
        // derivative are NaN); a tie spreads over the tied positions.
        if (nan) count = (r1 - r0) * (c1 - c0);
        if (gather) {
          const tf = t[first]!;
          let s = 0;
          for (let r = r0; r < r1; r++) {
            for (let c = c0; c < c1; c++) {
              const p = base + r * w + c;
              if (p !== first && x[p] === m) s += t[p]! - tf;
            }
          }
          out[q] = nan ? NaN : tf + s / count;
        } else {
          const share = t[q]! / count;
          for (let r = r0; r < r1; r++) {
            for (let c = c0; c < c1; c++) {
              const p = base + r * w + c;
              if (nan) out[p] = NaN;
              else if (x[p] === m) out[p] += share;
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * A permutation that keeps some leading axes and swaps the two blocks of axes after them
 * (`[0, 2, 3, 1]` on [N, C, H, W]: channels last) is a batch of matrix transposes: returns
 * `[batch, rows, cols]` with the input read as [batch, rows, cols] and the output as [batch, cols,
 * rows], or `null` for any other permutation.
 */
function blockSwap(shape: readonly number[], perm: readonly number[]): [number, number, number] | null {
  const r = perm.length;
  let b = 0;
  while (b < r && perm[b] === b) b++;
  if (b >= r - 1) return null;
  const j = perm[b]!; // the output's first moved axis starts the second input block
  for (let i = 0; i < r - j; i++) if (perm[b + i] !== j + i) return null;
  for (let i = 0; i < j - b; i++) if (perm[b + (r - j) + i] !== b + i) return null;
  const prod = (lo: number, hi: number) => shape.slice(lo, hi).reduce((m, d) => m * d, 1);
  return [prod(0, b), prod(b, j), prod(j, r)];
}

/**
 * out[q, c, r] = x[q, r, c] in 16 × 16 tiles: both the reads and the writes of a tile stay within
 * 16 cache lines, where a plain strided gather touches a new line on every read of a column
 * (bench/README.md has the figures).
 */
function transposeTiled(x: F64, batch: number, rows: number, cols: number): F64 {
  const out = allocateF64(batch * rows * cols, false);
  const T = 16;
  for (let q = 0; q < batch; q++) {
    const base = q * rows * cols;
    for (let r0 = 0; r0 < rows; r0 += T) {
      const r1 = Math.min(rows, r0 + T);
      for (let c0 = 0; c0 < cols; c0 += T) {
        const c1 = Math.min(cols, c0 + T);
        for (let r = r0; r < r1; r++) {
          const src = base + r * cols;
          for (let c = c0; c < c1; c++) out[base + c * rows + r] = x[src + c]!;
        }
      }
    }
  }
  return out;
}

/** The starting value of each reduction (a `Record`, so a new ReduceOp fails to compile until it has one). */
const REDUCE_IDENTITY: Record<ReduceOp, number> = { sum: 0, max: -Infinity };

/** The float64 CPU backend. */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly precision = 'float64' as const;

  fromFloat64(data: Float64Array): Storage {
    return data;
  }
  toFloat64(s: Storage, size: number): Float64Array {
    const d = s as F64;
    if (isReleasedF64(d)) throw new Error('cpu backend: storage used after release (tidy or dispose released this tensor; return it from the tidy function to keep it)');
    if (d.length !== size) throw new Error(`cpu backend: storage holds ${d.length} numbers, expected ${size}`);
    return d.slice();
  }
  /** Gives the array back to the pool of `f64-pool.ts` for the next result of its length. */
  release(s: Storage): void {
    releaseF64(s as F64);
  }
  isReleased(s: Storage): boolean {
    return isReleasedF64(s as F64);
  }
  fill(size: number, value: number): Storage {
    return allocateF64(size, false).fill(value);
  }
  unary(op: UnaryOp, x: Storage, size: number): Storage {
    return unaryLoop(op, x as F64, size);
  }
  binary(op: BinaryOp, a: Storage, b: Storage, size: number): Storage {
    return binaryLoop(op, a as F64, b as F64, size);
  }
  select(cond: Storage, a: Storage, b: Storage, size: number): Storage {
    const c = cond as F64, x = a as F64, y = b as F64;
    const o = allocateF64(size, false);
    for (let i = 0; i < size; i++) o[i] = c[i] !== 0 ? x[i]! : y[i]!;
    return o;
  }
  reduce(op: ReduceOp, xs: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    const x = xs as F64;
    const outShape = shape.filter((_, i) => !axes.includes(i));
    const out = allocateF64(sizeOf(outShape), false).fill(REDUCE_IDENTITY[op]);
    // Output strides laid over the input's axes, 0 on reduced axes: walking the input in order,
    // every element lands on its output slot.
    const keep = stridesOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
    const ostr = shape.map((_, i) => (axes.includes(i) ? 0 : keep[i]!));
    const [inner, step] = innerRow(shape, ostr);
    forEachRow(shape, ostr, 0, (k, off) => {
      if (op === 'sum') {
        if (step === 0) {
          let s = 0;
          for (let j = 0; j < inner; j++) s += x[k + j]!;
          out[off] += s;
        } else for (let j = 0; j < inner; j++) out[off + j * step] += x[k + j]!;
      } else {
        for (let j = 0; j < inner; j++) {
          const v = x[k + j]!;
          const o = off + j * step;
          if (v > out[o]! || v !== v) out[o] = v; // NaN wins, as in maximum
        }
      }
    });
    return out;
  }
  broadcast(x: Storage, shape: readonly number[], to: readonly number[]): Storage {
    const st = stridesOf(shape).map((s, i) => (shape[i] === 1 && to[i] !== 1 ? 0 : s));
    return gatherStrided(x as F64, 0, to, st);
  }
  transpose(x: Storage, shape: readonly number[], perm: readonly number[]): Storage {
    const swap = blockSwap(shape, perm);
    if (swap) return transposeTiled(x as F64, ...swap);
    const st = stridesOf(shape);
    return gatherStrided(x as F64, 0, perm.map((p) => shape[p]!), perm.map((p) => st[p]!));
  }
  slice(x: Storage, shape: readonly number[], starts: readonly number[], sizes: readonly number[]): Storage {
    const st = stridesOf(shape);
    let base = 0;
    for (let i = 0; i < shape.length; i++) base += starts[i]! * st[i]!;
    return gatherStrided(x as F64, base, sizes, st);
  }
  pad(x: Storage, shape: readonly number[], lo: readonly number[], hi: readonly number[]): Storage {
    const outShape = shape.map((d, i) => d + lo[i]! + hi[i]!);
    const out = allocateF64(sizeOf(outShape));
    const st = stridesOf(outShape);
    let base = 0;
    for (let i = 0; i < shape.length; i++) base += lo[i]! * st[i]!;
    scatterStrided(x as F64, out, base, shape, st);
    return out;
  }
  concat(xs: readonly Storage[], shapes: readonly (readonly number[])[], axis: number): Storage {
    const outShape = [...shapes[0]!];
    outShape[axis] = shapes.reduce((s, sh) => s + sh[axis]!, 0);
    const out = allocateF64(sizeOf(outShape), false);
    const st = stridesOf(outShape);
    let offset = 0;
    xs.forEach((x, i) => {
      scatterStrided(x as F64, out, offset * st[axis]!, shapes[i]!, st);
      offset += shapes[i]![axis]!;
    });
    return out;
  }
  take(xs: Storage, shape: readonly number[], indices: Float64Array, axis: number): Storage {
    const x = xs as F64;
    const outer = sizeOf(shape.slice(0, axis));
    const inner = sizeOf(shape.slice(axis + 1));
    const len = shape[axis]!;
    const ni = indices.length;
    const out = allocateF64(outer * ni * inner, false);
    if (inner === 1) {
      // A plain gather (im2col of a one-channel image): no inner loop to set up per index.
      for (let o = 0; o < outer; o++) {
        const src = o * len, dst = o * ni;
        for (let j = 0; j < ni; j++) out[dst + j] = x[src + indices[j]!]!;
      }
      return out;
    }
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < ni; j++) {
        const src = (o * len + indices[j]!) * inner;
        const dst = (o * ni + j) * inner;
        if (inner >= COPY_MIN) out.set(x.subarray(src, src + inner), dst);
        else for (let q = 0; q < inner; q++) out[dst + q] = x[src + q]!;
      }
    }
    return out;
  }
  scatterAdd(gs: Storage, gShape: readonly number[], indices: Float64Array, axis: number, axisSize: number): Storage {
    const g = gs as F64;
    const ni = indices.length;
    const outer = sizeOf(gShape.slice(0, axis));
    const inner = sizeOf(gShape.slice(axis + 1));
    const out = allocateF64(outer * axisSize * inner);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < ni; j++) {
        const dst = (o * axisSize + indices[j]!) * inner;
        const src = (o * ni + j) * inner;
        for (let q = 0; q < inner; q++) out[dst + q] += g[src + q]!;
      }
    }
    return out;
  }
  windowMax(op: 'gather' | 'scatter', x: Storage, t: Storage, planes: number, h: number, w: number, win: WindowPlan): Storage {
    return windowMax(op, x as F64, t as F64, planes, h, w, win);
  }
  matmul(a: Storage, b: Storage, batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): Storage {
    const A = a as F64, B = b as F64;
    const c = allocateF64(batch * m * n);
    for (let q = 0; q < batch; q++) {
      matmulSlice(A, q * m * k, B, q * k * n, c, q * m * n, m, k, n, transA, transB);
    }
    return c;
  }
}

/** The one shared instance. */
export const cpuBackend = new CpuBackend();
