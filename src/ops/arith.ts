/**
 * Elementwise arithmetic with numpy broadcasting, accepting plain numbers anywhere a tensor goes.
 * These wrap the equal-shape primitives: broadcasting is made explicit with `broadcastTo`, whose
 * transpose (a sum) is what gives a broadcast operand the right gradient.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { broadcastShapes } from '../base/shape.ts';
import type { Tensor, TensorLike } from '../core/tensor.ts';
import * as p from '../prims/index.ts';

/**
 * Broadcasts every argument to their common shape, naming `op` in errors.
 *
 * @example
 * ```ts
 * const [a, b] = broadcastAll('myOp', tensor([[1], [2]]), 3); // both [2, 1]
 * ```
 */
export function broadcastAll(op: string, ...xs: TensorLike[]): Tensor[] {
  const ts = xs.map(asTensor);
  const shape = broadcastShapes(op, ...ts.map((t) => t.shape));
  return ts.map((t) => p.broadcastTo(t, shape));
}

function binary(op: string, prim: (a: Tensor, b: Tensor) => Tensor) {
  return (a: TensorLike, b: TensorLike): Tensor => {
    const [x, y] = broadcastAll(op, a, b);
    return prim(x!, y!);
  };
}

/**
 * a + b, broadcasting.
 * @example
 * ```ts
 * add(tensor([1, 2]), 10).toArray(); // [11, 12]
 * ```
 */
export const add = binary('add', p.add);
/**
 * a − b, broadcasting.
 * @example
 * ```ts
 * sub(tensor([[1], [2]]), tensor([1, 2])).toArray(); // [[0, -1], [1, 0]]
 * ```
 */
export const sub = binary('sub', p.sub);
/**
 * a · b elementwise, broadcasting.
 * @example
 * ```ts
 * mul(tensor([1, 2, 3]), 2).toArray(); // [2, 4, 6]
 * ```
 */
export const mul = binary('mul', p.mul);
/**
 * a / b elementwise, broadcasting.
 * @example
 * ```ts
 * div(1, tensor([2, 4])).toArray(); // [0.5, 0.25]
 * ```
 */
export const div = binary('div', p.div);
/**
 * a^b elementwise, broadcasting.
 * @example
 * ```ts
 * pow(tensor([2, 3]), 2).toArray(); // [4, 9]
 * ```
 */
export const pow = binary('pow', p.pow);
/**
 * The elementwise larger of a and b (half the derivative to each at ties).
 * @example
 * ```ts
 * maximum(tensor([-1, 2]), 0).toArray(); // [0, 2]
 * ```
 */
export const maximum = binary('maximum', p.maximum);
/**
 * The elementwise smaller of a and b.
 * @example
 * ```ts
 * minimum(tensor([-1, 2]), 0).toArray(); // [-1, 0]
 * ```
 */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => neg(maximum(neg(a), neg(b)));
/**
 * a > b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * greater(tensor([1, 3]), 2).toArray(); // [0, 1]
 * ```
 */
export const greater = binary('greater', p.greater);
/**
 * a ≥ b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * greaterEqual(tensor([1, 2]), 2).toArray(); // [0, 1]
 * ```
 */
export const greaterEqual = binary('greaterEqual', p.greaterEqual);
/**
 * a < b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * less(tensor([1, 3]), 2).toArray(); // [1, 0]
 * ```
 */
export const less = binary('less', p.less);
/**
 * a ≤ b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * lessEqual(tensor([1, 2]), 1).toArray(); // [1, 0]
 * ```
 */
export const lessEqual = binary('lessEqual', p.lessEqual);
/**
 * a = b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * equal(tensor([1, 2]), 2).toArray(); // [0, 1]
 * ```
 */
export const equal = binary('equal', p.equal);
/**
 * a ≠ b as 1 or 0 (no gradient).
 * @example
 * ```ts
 * notEqual(tensor([1, 2]), 2).toArray(); // [1, 0]
 * ```
 */
export const notEqual = binary('notEqual', p.notEqual);

/**
 * `a` where `cond` is non-zero, else `b`, broadcasting all three.
 * @example
 * ```ts
 * where(greater(x, 0), x, 0); // relu
 * ```
 */
export function where(cond: TensorLike, a: TensorLike, b: TensorLike): Tensor {
  const [c, x, y] = broadcastAll('where', cond, a, b);
  return p.select(c!, x!, y!);
}

function unary(prim: (x: Tensor) => Tensor) {
  return (x: TensorLike): Tensor => prim(asTensor(x));
}

/**
 * −x.
 * @example
 * ```ts
 * neg(tensor([1, -2])).toArray(); // [-1, 2]
 * ```
 */
export const neg = unary(p.neg);
/**
 * eˣ elementwise.
 * @example
 * ```ts
 * exp(0).item(); // 1
 * ```
 */
export const exp = unary(p.exp);
/**
 * Natural logarithm elementwise.
 * @example
 * ```ts
 * log(Math.E).item(); // 1
 * ```
 */
export const log = unary(p.log);
/**
 * log(1 + x), accurate for tiny x.
 * @example
 * ```ts
 * log1p(1e-20).item(); // 1e-20
 * ```
 */
export const log1p = unary(p.log1p);
/**
 * Sine elementwise.
 * @example
 * ```ts
 * sin(0).item(); // 0
 * ```
 */
export const sin = unary(p.sin);
/**
 * Cosine elementwise.
 * @example
 * ```ts
 * cos(0).item(); // 1
 * ```
 */
export const cos = unary(p.cos);
/**
 * Hyperbolic tangent elementwise.
 * @example
 * ```ts
 * tanh(0).item(); // 0
 * ```
 */
export const tanh = unary(p.tanh);
/**
 * Square root elementwise.
 * @example
 * ```ts
 * sqrt(tensor([4, 9])).toArray(); // [2, 3]
 * ```
 */
export const sqrt = unary(p.sqrt);
/**
 * |x| elementwise (derivative 0 at 0).
 * @example
 * ```ts
 * abs(tensor([-2, 3])).toArray(); // [2, 3]
 * ```
 */
export const abs = unary(p.abs);
/**
 * The sign, −1, 0 or 1 (no gradient).
 * @example
 * ```ts
 * sign(tensor([-2, 0, 3])).toArray(); // [-1, 0, 1]
 * ```
 */
export const sign = unary(p.sign);
/**
 * The error function erf x = (2/√π) ∫₀ˣ e^(−t²) dt, elementwise (float64 to a few ulp on the CPU;
 * about 1e-7 absolute on the GPU).
 * @example
 * ```ts
 * erf(tensor([0, 0.5, -3])).toArray(); // [0, 0.5204998778130465, -0.9999779095030014]
 * ```
 */
export const erf = unary(p.erf);
/**
 * x² elementwise.
 * @example
 * ```ts
 * square(tensor([3])).toArray(); // [9]
 * ```
 */
export const square = (x: TensorLike): Tensor => {
  const t = asTensor(x);
  return p.mul(t, t);
};
/**
 * Blocks differentiation: the identity with zero derivative.
 * @example
 * ```ts
 * grad((x) => mul(x, stopGradient(x)))(tensor(3)).item(); // 3
 * ```
 */
export const stopGradient = unary(p.stopGradient);
