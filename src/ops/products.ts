/**
 * Products with numpy `matmul` semantics over the rank-2/rank-3 matmul primitive.
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
 * The inner product of two vectors, or `matmul` for higher ranks.
 * @example
 * ```ts
 * dot(tensor([1, 2, 3]), tensor([4, 5, 6])).item(); // 32
 * ```
 */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  return matmul(a, b);
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
