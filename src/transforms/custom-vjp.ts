/**
 * User-defined reverse-mode rules, for functions whose autodiff is unstable or wasteful.
 *
 * When the innermost active transformation is reverse mode, the function runs its `fwd` on the
 * underlying values and records one tape node whose backward step is `bwd`. Under every other
 * transformation (forward mode, vmap) or none, `f` itself runs and is differentiated through its
 * own operations. `bwd` is written with unequal's operations, so it is differentiable again
 * (grad-of-grad through a custom rule works when `bwd` is correct to second order).
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { Tensor, type TensorLike } from '../core/tensor.ts';
import { findTopTrace } from '../core/trace.ts';
import { ReverseTrace, ReverseTracer } from './reverse.ts';

/** A function with a custom VJP, in JAX's two-step form: `customVjp(f)` then `.defvjp(fwd, bwd)`. */
export interface CustomVjpFunction {
  (...args: TensorLike[]): Tensor;
  /** Attaches the rule; returns the function itself, now differentiated by `bwd` in reverse mode. */
  defvjp<R>(fwd: (...args: Tensor[]) => [Tensor, R], bwd: (residuals: R, ct: Tensor) => (Tensor | null)[]): CustomVjpFunction;
}

/**
 * Defines a function with a custom VJP. `fwd(...args)` returns `[out, residuals]`; `bwd(residuals,
 * ct)` returns one cotangent (or `null`) per argument. `f` and `fwd` must agree on `out`. Both call
 * shapes work: `customVjp(f, fwd, bwd)`, or JAX's `customVjp(f).defvjp(fwd, bwd)` (before `defvjp`
 * the function is simply `f`, differentiated through its own operations).
 *
 * @example
 * ```ts
 * // log(1 + eˣ) with the gradient σ(x) written directly
 * const softplusStable = customVjp(
 *   (x) => softplus(x),
 *   (x) => [softplus(x), sigmoid(x)],
 *   (s, ct) => [mul(ct, s)],
 * );
 * grad((x) => sum(softplusStable(x)))(tensor([0])).toArray(); // [0.5]
 *
 * const clipGrad = customVjp((x) => x).defvjp((x) => [x, null], (_r, ct) => [clip(ct)]);
 * ```
 */
export function customVjp<R>(
  f: (...args: Tensor[]) => Tensor,
  fwd?: (...args: Tensor[]) => [Tensor, R],
  bwd?: (residuals: R, ct: Tensor) => (Tensor | null)[],
): CustomVjpFunction {
  let rule: ((...args: TensorLike[]) => Tensor) | null = fwd && bwd ? withRule(f, fwd, bwd) : null;
  const call = ((...args: TensorLike[]) => (rule ? rule(...args) : f(...args.map(asTensor)))) as CustomVjpFunction;
  call.defvjp = (fwd2, bwd2) => {
    rule = withRule(f, fwd2, bwd2);
    return call;
  };
  return call;
}

function withRule<R>(
  f: (...args: Tensor[]) => Tensor,
  fwd: (...args: Tensor[]) => [Tensor, R],
  bwd: (residuals: R, ct: Tensor) => (Tensor | null)[],
): (...args: TensorLike[]) => Tensor {
  return (...rawArgs: TensorLike[]): Tensor => {
    const args = rawArgs.map(asTensor);
    const top = findTopTrace(args, 'customVjp');
    if (!(top instanceof ReverseTrace)) return f(...args);
    const inputs = args.map((a) => (a instanceof ReverseTracer && a.trace === top ? a : (top.pure(a) as ReverseTracer)));
    const [out, residuals] = fwd(...inputs.map((a) => a.primal));
    if (inputs.every((a) => !a.active)) return out;
    const output = new ReverseTracer(top, out, true);
    top.record(output, inputs, (ct) => {
      const cts = bwd(residuals, ct);
      if (cts.length !== args.length) {
        throw new Error(`customVjp: bwd returned ${cts.length} cotangents for ${args.length} arguments`);
      }
      return cts;
    });
    return output;
  };
}
