/**
 * Products with numpy semantics (`matmul`, `dot`, `vdot`, `outer`) over the rank-2/rank-3 matmul primitive.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { broadcastShapes, fmt, sizeOf } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import * as p from '../prims/index.ts';
import { mul } from './arith.ts';
import { sum } from './reduce.ts';

/**
 * Matrix product with numpy semantics: vectors are promoted (and the added axis removed again),
 * leading axes are batch axes and broadcast.
 *
 * @example
 * ```ts
 * matmul(tensor([[1, 2], [3, 4]]), tensor([1, 1])).toArray(); // [3, 7]
 * matmul(zeros([5, 2, 3]), zeros([3, 4])).shape;                // [5, 2, 4]
 * ```
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.ndim === 0 || y.ndim === 0) {
    throw new Error(`matmul: operands must have at least one axis, got shapes ${fmt(x.shape)} and ${fmt(y.shape)}`);
  }
  const xm = x.ndim === 1 ? p.reshape(x, [1, x.shape[0]!]) : x;
  const ym = y.ndim === 1 ? p.reshape(y, [y.shape[0]!, 1]) : y;
  const [m, k] = xm.shape.slice(-2) as [number, number];
  const [k2, n] = ym.shape.slice(-2) as [number, number];
  if (k !== k2) {
    throw new Error(`matmul: cannot multiply shapes ${fmt(x.shape)} and ${fmt(y.shape)}: inner dimensions ${k} and ${k2} differ`);
  }
  let out: Tensor;
  if (xm.ndim === 2 && ym.ndim === 2) {
    out = p.gemm(xm, ym);
  } else if (ym.ndim === 2) {
    // Batched A against one B: fold A's batch axes into its rows, one big product.
    const lead = xm.shape.slice(0, -2);
    out = p.reshape(p.gemm(p.reshape(xm, [sizeOf(lead) * m, k]), ym), [...lead, m, n]);
  } else {
    const batch = broadcastShapes('matmul', xm.shape.slice(0, -2), ym.shape.slice(0, -2));
    const nb = sizeOf(batch);
    const A = p.reshape(p.broadcastTo(xm, [...batch, m, k]), [nb, m, k]);
    const B = p.reshape(p.broadcastTo(ym, [...batch, k, n]), [nb, k, n]);
    out = p.reshape(p.gemm(A, B), [...batch, m, n]);
  }
  // Remove the axes that promotion added.
  const shape = [...out.shape];
  if (y.ndim === 1) shape.splice(shape.length - 1, 1);
  if (x.ndim === 1) shape.splice(shape.length - (y.ndim === 1 ? 1 : 2), 1);
  return p.reshape(out, shape);
}

/**
 * `numpy.dot` (and `jax.numpy.dot`, which follows it): a scalar operand multiplies; otherwise the
 * last axis of `a` is contracted with the second-to-last axis of `b` (its only axis when `b` is a
 * vector), and the output shape is `a.shape[:-1] ++ b.shape[:-2] ++ b.shape[-1:]`. For vectors and
 * matrices this is `matmul`; for higher ranks it is not: `dot` pairs every row of `a` with every
 * matrix of `b` (no batch axis), where `matmul` broadcasts the leading axes as batches. Use
 * `matmul` for batched products.
 * @example
 * ```ts
 * dot(tensor([1, 2, 3]), tensor([4, 5, 6])).item(); // 32
 * dot(zeros([2, 3, 4]), zeros([5, 4, 6])).shape;    // [2, 3, 5, 6] (matmul would refuse these)
 * dot(2, tensor([1, 2])).toArray();                 // [2, 4]
 * ```
 */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.ndim === 0 || y.ndim === 0) return mul(x, y);
  const k = x.shape[x.ndim - 1]!;
  const k2 = y.shape[Math.max(0, y.ndim - 2)]!;
  if (k !== k2) {
    throw new Error(
      `dot: cannot contract the last axis of shape ${fmt(x.shape)} (size ${k}) with the second-to-last axis of ` +
        `shape ${fmt(y.shape)} (size ${k2})`,
    );
  }
  if (y.ndim <= 2) return matmul(x, y); // contracts x's last axis with y's first: numpy's dot too
  const n = y.shape[y.ndim - 1]!;
  // [...ya, k, n] → [k, ...ya, n] → [k, |ya|·n]: one product pairs every row of x with every matrix of y.
  const lead = y.shape.slice(0, -2);
  const perm = [y.ndim - 2, ...lead.keys(), y.ndim - 1];
  const y2 = p.reshape(p.transpose(y, perm), [k, sizeOf(lead) * n]);
  const x2 = p.reshape(x, [sizeOf(x.shape.slice(0, -1)), k]);
  return p.reshape(p.gemm(x2, y2), [...x.shape.slice(0, -1), ...lead, n]);
}

/**
 * The sum of all elementwise products of two equal-shaped tensors (any rank): ⟨a, b⟩.
 * @example
 * ```ts
 * vdot(tensor([[1, 2], [3, 4]]), tensor([[1, 0], [0, 1]])).item(); // 5
 * ```
 */
export function vdot(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  if (x.ndim === 1 && y.ndim === 1 && x.shape[0] === y.shape[0]) return matmul(x, y);
  if (x.size !== y.size || x.shape.some((d, i) => d !== y.shape[i]) || x.ndim !== y.ndim) {
    throw new Error(`vdot: shapes ${fmt(x.shape)} and ${fmt(y.shape)} must be equal`);
  }
  return sum(mul(x, y));
}

/**
 * The outer product of two vectors.
 * @example
 * ```ts
 * outer(tensor([1, 2]), tensor([3, 4])).toArray(); // [[3, 4], [6, 8]]
 * ```
 */
export function outer(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return p.gemm(p.reshape(x, [x.size, 1]), p.reshape(y, [1, y.size]));
}
