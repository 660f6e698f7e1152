/**
 * `matmul(a, b, transA, transB)`: C = op(A) op(B) for rank-2 operands, or for rank-3 operands with
 * a shared leading batch axis. op transposes the last two axes when its flag is set; keeping the
 * transposes as flags (instead of materialising them) is what lets the reverse rules run at the
 * speed of the forward product.
 *
 * Bilinear, so d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB), and the cotangents are
 *   !transA: dA = G op(B)ᵀ            transA: dA = op(B) Gᵀ
 *   !transB: dB = op(A)ᵀ G            transB: dB = Gᵀ op(A)
 * each itself one matmul with flags (proofs/primitive-rules.md derives them).
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { type Shape, fmt } from '../base/shape.ts';
import { add } from './add.ts';
import { concat } from './concat.ts';
import { slice } from './slice.ts';
import { broadcastTo } from './broadcast-to.ts';
import { reshape } from './reshape.ts';

export interface MatmulParams {
  transA: boolean;
  transB: boolean;
}

/** (batch, m, k, n) of op(A) op(B), or an error naming both shapes. */
function dims(sa: Shape, sb: Shape, { transA, transB }: MatmulParams): [number, number, number, number] {
  const rank = sa.length;
  const bad = (why: string): Error =>
    new Error(
      `matmul: cannot multiply shapes ${fmt(sa)}${transA ? 'ᵀ' : ''} and ${fmt(sb)}${transB ? 'ᵀ' : ''}: ${why}`,
    );
  if (rank !== sb.length || (rank !== 2 && rank !== 3)) throw bad('the primitive takes two rank-2 or two rank-3 tensors');
  const batch = rank === 3 ? sa[0]! : 1;
  if (rank === 3 && sb[0] !== batch) throw bad(`batch sizes ${sa[0]} and ${sb[0]} differ`);
  const [r0, r1] = [sa[rank - 2]!, sa[rank - 1]!];
  const [s0, s1] = [sb[rank - 2]!, sb[rank - 1]!];
  const [m, k] = transA ? [r1, r0] : [r0, r1];
  const [k2, n] = transB ? [s1, s0] : [s0, s1];
  if (k !== k2) throw bad(`inner dimensions ${k} and ${k2} differ`);
  return [batch, m, k, n];
}

export const matmulP: Primitive<MatmulParams> = {
  name: 'matmul',
  shape([sa, sb], p) {
    const [batch, m, , n] = dims(sa!, sb!, p);
    return sa!.length === 3 ? [batch, m, n] : [m, n];
  },
  impl([a, b], p, be) {
    const [batch, m, k, n] = dims(a!.shape, b!.shape, p);
    const shape = a!.ndim === 3 ? [batch, m, n] : [m, n];
    return new ConcreteTensor(be.matmul(a!.storage, b!.storage, batch, m, k, n, p.transA, p.transB), shape, be);
  },
  jvp([a, b], [ta, tb], p) {
    const l = ta ? gemm(ta, b!, p.transA, p.transB) : null;
    const r = tb ? gemm(a!, tb, p.transA, p.transB) : null;
    return l && r ? add(l, r) : (l ?? r);
  },
  jvpJoint([a, b], [ta, tb], { transA, transB }) {
    // One operand constant (the data matrix X of a linear model, or the weights held fixed): the
    // primal and the tangent share it, so stack the other operand with its tangent and make one
    // product, reading the constant once instead of twice. That is most of the work of a
    // forward-over-reverse HVP (X·[w, v] forward, Xᵀ·[r, ṙ] backward).
    if (a!.ndim !== 2 || (ta && tb)) return null;
    if (tb) {
      const n = b!.shape[transB ? 0 : 1]!;
      const both = concat([b!, tb], transB ? 0 : 1); // [k, 2n] (or [2n, k] stored transposed)
      const c = gemm(a!, both, transA, transB); // [m, 2n]
      const m = c.shape[0]!;
      return [slice(c, [0, 0], [m, n]), slice(c, [0, n], [m, n])];
    }
    const m = a!.shape[transA ? 1 : 0]!;
    const both = concat([a!, ta!], transA ? 1 : 0); // [2m, k] (or [k, 2m] stored transposed)
    const c = gemm(both, b!, transA, transB); // [2m, n]
    const n = c.shape[1]!;
    return [slice(c, [0, 0], [m, n]), slice(c, [m, 0], [m, n])];
  },
  vjp(g, [a, b], { transA, transB }, _out, active = [true, true]) {
    const da = !active[0] ? null : transA ? gemm(b!, g, transB, true) : gemm(g, b!, false, !transB);
    const db = !active[1] ? null : transB ? gemm(g, a!, true, transA) : gemm(a!, g, !transA, false);
    return [da, db];
  },
  batch([a, b], [da, db], p, n) {
    const rank = a!.ndim - (da === 0 ? 1 : 0);
    // Common case (per-example inputs against shared weights): fold the batch into the rows of A.
    if (rank === 2 && da === 0 && db === null && !p.transA) {
      const [m, k] = [a!.shape[1]!, a!.shape[2]!];
      const c = gemm(reshape(a!, [n * m, k]), b!, false, p.transB);
      return reshape(c, [n, m, c.shape[1]!]);
    }
    const A = da === 0 ? a! : broadcastTo(a!, [n, ...a!.shape]);
    const B = db === 0 ? b! : broadcastTo(b!, [n, ...b!.shape]);
    if (rank === 2) return gemm(A, B, p.transA, p.transB);
    // Rank 3 under vmap: merge the two batch axes into one.
    const c = gemm(
      reshape(A, [n * A.shape[1]!, A.shape[2]!, A.shape[3]!]),
      reshape(B, [n * B.shape[1]!, B.shape[2]!, B.shape[3]!]),
      p.transA,
      p.transB,
    );
    return reshape(c, [n, A.shape[1]!, c.shape[1]!, c.shape[2]!]);
  },
};

/**
 * General matrix multiply, the BLAS name: C = op(A) op(B), where op transposes its operand when
 * `transA` / `transB` is set, on rank-2 or batched rank-3 operands (primitive binder). Transposing
 * through the flags reads the operand in place instead of materialising its transpose.
 */
export function gemm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return bind(matmulP, [a, b], { transA, transB });
}
