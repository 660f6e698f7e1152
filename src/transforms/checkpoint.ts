/**
 * `checkpoint` (rematerialisation): trade compute for memory in reverse mode.
 *
 * Under reverse mode every primitive of f puts a node on the tape that keeps its inputs (and its
 * output) alive until the backward pass: memory grows with the length of the forward pass. A
 * checkpointed function instead puts ONE node on the tape, holding only its arguments; its
 * backward step runs f again under a fresh `vjp` and pulls the cotangent through that. The
 * gradient is the same (the same primitives on the same values), the intermediates of f live only
 * during its own backward step, and the price is one more forward pass of f.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { type Pytree, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { Tensor } from '../core/tensor.ts';
import { findTopTrace } from '../core/trace.ts';
import { ReverseTrace, ReverseTracer, vjp } from './reverse.ts';

/**
 * Wraps `f` so that reverse mode recomputes its forward pass during the backward pass instead of
 * keeping its intermediates (JAX's `checkpoint` / `remat`). The value and every derivative are those
 * of `f`; only what the tape holds changes: one node with f's arguments and output, instead of one
 * node per primitive of f. Arguments may be pytrees of tensors; `f` returns one tensor.
 *
 * It acts when reverse mode is the innermost transformation at the call (`grad`, `vjp`, the
 * reverse half of `hvp` or `hessian`), including reverse-over-reverse, where the recomputation is
 * itself differentiated. Under forward mode, `vmap` or no transformation it simply calls `f`.
 * Typical use: checkpoint each block of a deep network, so that the tape keeps one activation per
 * block and a block's internals exist only while its own gradient is computed.
 *
 * @typeParam F the wrapped function's type, kept by the wrapper.
 *
 * @example
 * ```ts
 * const block = checkpoint((w: Tensor, h: Tensor) => tanh(matmul(h, w)));
 * const loss = (w: Tensor) => sum(block(w, block(w, x)));
 * grad(loss)(w);   // equal to grad without checkpoint; the tape held 2 nodes for the blocks
 * ```
 */
export function checkpoint<F extends (...args: any[]) => Tensor>(f: F): F {
  if (typeof f !== 'function') throw new Error('checkpoint: expected a function');
  const wrapped = (...args: Pytree[]): Tensor => {
    const a = treeFlatten(args as Pytree, 'checkpoint arguments');
    const leaves = a.leaves.map(asTensor);
    const top = findTopTrace(leaves, 'checkpoint');
    if (!(top instanceof ReverseTrace)) return checkedOutput(f(...args));
    const inputs = leaves.map((x) => (x instanceof ReverseTracer && x.trace === top ? x : (top.pure(x) as ReverseTracer)));
    const primals = inputs.map((x) => x.primal);
    const call = (...ls: Tensor[]): Tensor => checkedOutput(f(...treeUnflatten<Pytree[]>(a.def, ls)));
    // The forward pass below this level: nothing of f is taped here (lower levels still see it).
    const out = call(...primals);
    if (inputs.every((x) => !x.active)) return out;
    const output = new ReverseTracer(top, out, true);
    top.record(output, inputs, (ct, active) => {
      // Recompute f with a tape of its own and pull the cotangent through it. Its operations bind
      // on the primals, so transformations below this level differentiate the recomputation too.
      // Only the active arguments are differentiated, so no cotangent is computed for a constant.
      const act = primals.flatMap((_, i) => (active[i] ? [i] : []));
      const onActive = (...ls: Tensor[]): Tensor => {
        const all = [...primals];
        act.forEach((i, j) => (all[i] = ls[j]!));
        return call(...all);
      };
      const [, pullback] = vjp(onActive, ...act.map((i) => primals[i]!));
      const cts = pullback(ct) as Tensor[];
      const out: (Tensor | null)[] = primals.map(() => null);
      act.forEach((i, j) => (out[i] = cts[j]!));
      return out;
    });
    return output;
  };
  return wrapped as F;
}

function checkedOutput(y: unknown): Tensor {
  if (y instanceof Tensor) return y;
  if (typeof y === 'number') return asTensor(y);
  throw new Error(`checkpoint: f must return one tensor, got ${Array.isArray(y) ? `an array of ${y.length} entries` : y === null ? 'null' : typeof y}; wrap each output in its own checkpoint, or concatenate them`);
}
