/**
 * Transformations built from the three basic ones (jvp, vjp, vmap), as in JAX: `grad`,
 * `valueAndGrad`, `jacrev`, `jacfwd`, `hessian` and `hvp`.
 *
 * @module
 */
import { asTensor, eye, ones, zeros } from '../core/create.ts';
import { type Pytree, treeFlatten, treeMap } from '../core/pytree.ts';
import { fmt } from '../base/shape.ts';
import { Tensor } from '../core/tensor.ts';
import { jvp } from './jvp.ts';
import { vjp } from './reverse.ts';
import { vmap } from './vmap.ts';
import { reshape } from '../prims/reshape.ts';
import { transpose } from '../prims/transpose.ts';
import { vdot } from '../ops/products.ts';
import { add } from '../ops/arith.ts';

/** Options for `grad` and `valueAndGrad`. */
export interface GradOptions {
  /** Which argument(s) to differentiate: a number gives one gradient, a list gives a list. Default 0. */
  argnums?: number | readonly number[];
  /** `f` returns `[loss, aux]`; the aux value is returned alongside, not differentiated. */
  hasAux?: boolean;
}

function checkArgnums(op: string, argnums: number | readonly number[], nargs: number): number[] {
  const list = typeof argnums === 'number' ? [argnums] : [...argnums];
  for (const i of list) {
    if (!Number.isInteger(i) || i < 0 || i >= nargs) {
      throw new Error(`${op}: argnums ${JSON.stringify(argnums)} refers to argument ${i}, but the function was called with ${nargs} argument(s)`);
    }
  }
  return list;
}

/**
 * Like `grad`, but returns `[value, gradient]` (with `hasAux`: `[[value, aux], gradient]`).
 *
 * @example
 * ```ts
 * const [loss, g] = valueAndGrad((w) => sum(mul(w, w)))(tensor([1, 2]));
 * loss.item();  // 5
 * g.toArray();  // [2, 4]
 * ```
 */
export function valueAndGrad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => [any, any] {
  const { argnums = 0, hasAux = false } = options;
  return (...args: Pytree[]) => {
    const nums = checkArgnums('grad', argnums, args.length);
    const diffArgs = nums.map((i) => args[i]!);
    const [out, pullback] = vjp((...d: Pytree[]) => {
      const all = [...args];
      nums.forEach((i, j) => (all[i] = d[j]!));
      return f(...all);
    }, ...diffArgs);
    let value: Pytree;
    let aux: Pytree = undefined;
    if (hasAux) {
      if (!Array.isArray(out) || out.length !== 2) throw new Error('grad: with hasAux, f must return [value, aux]');
      [value, aux] = out as [Pytree, Pytree];
    } else value = out as Pytree;
    if (!(value instanceof Tensor) && typeof value !== 'number') {
      throw new Error('grad: f must return a scalar tensor');
    }
    const y = asTensor(value as Tensor | number);
    if (y.ndim !== 0) {
      throw new Error(`grad: f must return a scalar (shape []), got shape ${fmt(y.shape)}; use vjp or jacrev for non-scalar outputs`);
    }
    const ct = hasAux ? [ones([]), treeMap((l) => zeros(asTensor(l).shape), aux)] : ones([]);
    const grads = pullback(ct as Pytree);
    const g = typeof argnums === 'number' ? grads[0] : grads;
    return [hasAux ? [value, aux] : value, g];
  };
}

/**
 * The gradient of a scalar function: `grad(f)(x)` has the structure and shapes of `x`.
 * Differentiates argument 0 unless `argnums` says otherwise. Nests to any order.
 *
 * @example
 * ```ts
 * grad((x) => mul(x, mul(x, x)))(tensor(2)).item();           // 3·2² = 12
 * grad(grad((x) => mul(x, mul(x, x))))(tensor(2)).item();     // 6·2 = 12
 * grad((w, b) => sum(add(w, b)), { argnums: [0, 1] })(w, b);  // [dw, db]
 * ```
 */
export function grad(f: (...args: any[]) => any, options: GradOptions = {}): (...args: any[]) => any {
  const vg = valueAndGrad(f, options);
  return (...args: Pytree[]) => {
    const [value, g] = vg(...args);
    return options.hasAux ? [g, (value as [Pytree, Pytree])[1]] : g;
  };
}

function singleTensorArg(op: string, args: Pytree[], argnum: number): Tensor {
  const x = args[argnum];
  if (!(x instanceof Tensor) && typeof x !== 'number') {
    throw new Error(`${op}: argument ${argnum} must be a single tensor (flatten a pytree of parameters first)`);
  }
  return asTensor(x);
}

/**
 * The output of `f` for `jacrev`/`jacfwd`, which build one Jacobian of shape `[...yShape, ...xShape]`
 * and so need one tensor; a pytree output is refused with what it was and what to do instead.
 */
function singleTensorOutput(op: string, y: unknown): Tensor {
  if (y instanceof Tensor) return y;
  if (typeof y === 'number') return asTensor(y);
  let what: string;
  if (Array.isArray(y)) what = `an array of ${y.length} entries`;
  else if (y !== null && typeof y === 'object' && Object.getPrototypeOf(y) === Object.prototype) {
    what = `an object with keys ${Object.keys(y).join(', ') || '(none)'}`;
  } else what = y === null || y === undefined ? String(y) : `a ${(y as object).constructor?.name ?? typeof y}`;
  throw new Error(
    `${op}: f must return a single tensor, got ${what}; ${op} builds one Jacobian of shape [...output shape, ...input shape]. ` +
      `Return one tensor (stack or concat the outputs), call ${op} once per output, or use vjp/jvp, which accept pytree outputs`,
  );
}

/** Options for `jacrev` and `jacfwd`. */
export interface JacobianOptions {
  /** Which argument to differentiate (default 0). */
  argnums?: number;
}

/**
 * The Jacobian by reverse mode (one VJP per output element, batched with vmap). For f: Rⁿ → Rᵐ of
 * shapes `xShape → yShape`, the result has shape `[...yShape, ...xShape]`. `f` returns one tensor
 * (a pytree output is an error that says what to do instead).
 *
 * @example
 * ```ts
 * jacrev((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * ```
 */
export function jacrev(f: (...args: any[]) => Tensor, options: JacobianOptions = {}): (...args: any[]) => Tensor {
  const argnum = options.argnums ?? 0;
  return (...args: Pytree[]) => {
    checkArgnums('jacrev', argnum, args.length);
    const x = singleTensorArg('jacrev', args, argnum);
    const [y, pullback] = vjp((xx: Tensor) => {
      const all = [...args];
      all[argnum] = xx;
      return singleTensorOutput('jacrev', f(...all));
    }, x);
    const basis = reshape(eye(y.size), [y.size, ...y.shape]);
    const rows = vmap((ct: Tensor) => pullback(ct)[0] as Tensor)(basis);
    return reshape(rows, [...y.shape, ...x.shape]);
  };
}

/**
 * The Jacobian by forward mode (one JVP per input element, batched with vmap). Same shape as
 * `jacrev`: `[...yShape, ...xShape]`. Cheaper when inputs are fewer than outputs.
 *
 * @example
 * ```ts
 * jacfwd((x) => mul(x, x))(tensor([1, 2])).toArray(); // [[2, 0], [0, 4]]
 * ```
 */
export function jacfwd(f: (...args: any[]) => Tensor, options: JacobianOptions = {}): (...args: any[]) => Tensor {
  const argnum = options.argnums ?? 0;
  return (...args: Pytree[]) => {
    checkArgnums('jacfwd', argnum, args.length);
    const x = singleTensorArg('jacfwd', args, argnum);
    const g = (xx: Tensor): Tensor => {
      const all = [...args];
      all[argnum] = xx;
      return singleTensorOutput('jacfwd', f(...all));
    };
    const basis = reshape(eye(x.size), [x.size, ...x.shape]);
    const cols = vmap((t: Tensor) => jvp(g, [x], [t])[1])(basis); // [x.size, ...yShape]
    const r = cols.ndim - 1;
    const moved = transpose(cols, [...Array.from({ length: r }, (_, i) => i + 1), 0]);
    return reshape(moved, [...cols.shape.slice(1), ...x.shape]);
  };
}

/**
 * The Hessian of a scalar function, `jacfwd(jacrev(f))`: shape `[...x.shape, ...x.shape]`.
 *
 * @example
 * ```ts
 * hessian((x) => sum(mul(x, mul(x, x))))(tensor([1, 2])).toArray(); // [[6, 0], [0, 12]]
 * ```
 */
export function hessian(f: (...args: any[]) => Tensor, options: JacobianOptions = {}): (...args: any[]) => Tensor {
  return jacfwd(jacrev(f, options), options);
}

/** Options for `hvp`. */
export interface HvpOptions {
  /**
   * `'fwd-rev'` (default): forward-over-reverse, jvp of grad, Pearlmutter's R-operator; about the
   * cost of two gradients. `'rev-rev'`: reverse-over-reverse, the gradient of ⟨∇f(x), v⟩.
   */
  mode?: 'fwd-rev' | 'rev-rev';
}

function treeVdot(a: Pytree, b: Pytree): Tensor {
  const la = treeFlatten(a).leaves.map(asTensor);
  const lb = treeFlatten(b).leaves.map(asTensor);
  if (la.length !== lb.length) throw new Error(`hvp: v has ${lb.length} leaves, x has ${la.length}`);
  return la.reduce<Tensor>((acc, x, i) => add(acc, vdot(x, lb[i]!)), zeros([]));
}

/**
 * The Hessian-vector product ∇²f(x) · v without forming the Hessian. `x` and `v` may be pytrees of
 * the same structure; the result has that structure too.
 *
 * @example
 * ```ts
 * const f = (x) => sum(mul(x, mul(x, x)));               // H = diag(6x)
 * hvp(f, tensor([1, 2]), tensor([1, 1])).toArray();      // [6, 12]
 * hvp(f, tensor([1, 2]), tensor([1, 1]), { mode: 'rev-rev' }).toArray(); // the same
 * ```
 */
export function hvp<T extends Pytree>(f: (x: T) => Tensor, x: T, v: T, options: HvpOptions = {}): T {
  const mode = options.mode ?? 'fwd-rev';
  if (mode === 'fwd-rev') return jvp((xx: T) => grad(f)(xx) as T, [x], [v])[1] as T;
  if (mode === 'rev-rev') return grad((xx: T) => treeVdot(grad(f)(xx), v))(x) as T;
  throw new Error(`hvp: mode must be 'fwd-rev' or 'rev-rev', got '${mode as string}'`);
}

