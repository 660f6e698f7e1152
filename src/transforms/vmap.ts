/**
 * Batching: run a function written for one example on a whole batch at once.
 *
 * A `BatchTracer` holds a value whose axis 0 is the batch (or no batch axis at all, `dim = null`,
 * for values shared by every example). Each primitive's batching rule turns the batched call into
 * one primitive call on the stacked arrays. Keeping the batch on axis 0 always keeps every rule
 * short; `inAxes` and `outAxes` are handled by moving axes at the boundary.
 *
 * `vmap(grad(loss))` gives per-example gradients in one pass, which influence functions and
 * Learning to Reweight both need.
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { type Pytree, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { fmt, normalizeAxis } from '../base/shape.ts';
import { Tensor } from '../core/tensor.ts';
import { type Primitive, Trace, Tracer, bind, withTrace } from '../core/trace.ts';
import { broadcastTo } from '../prims/broadcast-to.ts';
import { transpose } from '../prims/transpose.ts';

/** A batched value at one vmap level. */
export class BatchTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly value: Tensor,
    readonly dim: 0 | null,
  ) {
    super(trace);
  }
  get shape() {
    return this.dim === 0 ? this.value.shape.slice(1) : this.value.shape;
  }
  toFloat64Array(): Float64Array {
    if (this.dim === null) return this.value.toFloat64Array();
    throw new Error(
      `cannot read the values of a batched tensor of per-example shape ${fmt(this.shape)} inside vmap; ` +
        'return it from the mapped function instead',
    );
  }
}

/** The trace of one `vmap` call. */
export class BatchTrace extends Trace {
  readonly kind = 'vmap';
  constructor(readonly batchSize: number) {
    super();
  }
  pure(x: Tensor): Tracer {
    return new BatchTracer(this, x, null);
  }
  process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor {
    const values = args.map((a) => (a as BatchTracer).value);
    const dims = args.map((a) => (a as BatchTracer).dim);
    if (dims.every((d) => d === null)) return bind(prim, values, params);
    return new BatchTracer(this, prim.batch(values, dims, params, this.batchSize), 0);
  }
}

/** Moves axis `from` of x to the front. */
function moveToFront(x: Tensor, from: number): Tensor {
  if (from === 0) return x;
  const perm = [from, ...Array.from({ length: x.ndim }, (_, i) => i).filter((i) => i !== from)];
  return transpose(x, perm);
}

/** Moves the front axis of x to position `to`. */
function moveFromFront(x: Tensor, to: number): Tensor {
  if (to === 0) return x;
  const rest = Array.from({ length: x.ndim - 1 }, (_, i) => i + 1);
  const perm = [...rest.slice(0, to), 0, ...rest.slice(to)];
  return transpose(x, perm);
}

/** Options for `vmap`. */
export interface VmapOptions {
  /** Where the batch axis goes in every output (default 0). */
  outAxes?: number;
}

/**
 * Vectorising map: `vmap(f)(xs)` applies `f` to every slice of `xs` along axis 0 and stacks the
 * results, in one batched pass. `inAxes` gives the mapped axis of each argument (`null`: not
 * mapped, shared by every example); a single number applies to all arguments. Each mapped argument
 * may be a pytree, mapped along the same axis in all its leaves.
 *
 * @example
 * ```ts
 * const perExampleGrads = vmap(grad(loss), [null, 0, 0])(params, X, y);
 * const rowNorms = vmap((r) => sqrt(sum(mul(r, r))))(tensor([[3, 4], [6, 8]])); // [5, 10]
 * ```
 */
export function vmap<Out extends Pytree = Tensor>(
  f: (...args: any[]) => Out,
  inAxes: number | null | readonly (number | null)[] = 0,
  options: VmapOptions = {},
): (...args: Pytree[]) => Out {
  return (...args: Pytree[]): Out => {
    const axes = Array.isArray(inAxes) ? (inAxes as (number | null)[]) : args.map(() => inAxes as number | null);
    if (axes.length !== args.length) {
      throw new Error(`vmap: inAxes has ${axes.length} entries but the function was called with ${args.length} arguments`);
    }
    // Find the batch size and check that every mapped leaf agrees.
    let batchSize = -1;
    let sizeSource = '';
    const flat = args.map((arg, i) => {
      const { leaves, def } = treeFlatten(arg, `vmap argument ${i}`);
      const tensors = leaves.map(asTensor);
      const axis = axes[i];
      if (axis !== null && axis !== undefined) {
        for (const t of tensors) {
          if (t.ndim === 0) throw new Error(`vmap: argument ${i} is a scalar (shape []) but inAxes[${i}] = ${axis} maps it`);
          const a = normalizeAxis(`vmap (inAxes[${i}])`, axis, t.ndim);
          const n = t.shape[a]!;
          if (batchSize === -1) {
            batchSize = n;
            sizeSource = `argument ${i} has size ${n} along axis ${axis} (shape ${fmt(t.shape)})`;
          } else if (n !== batchSize) {
            throw new Error(
              `vmap: inconsistent sizes for the mapped axis: ${sizeSource}, but argument ${i} has size ${n} along axis ${axis} (shape ${fmt(t.shape)})`,
            );
          }
        }
      }
      return { tensors, def, axis };
    });
    if (batchSize === -1) throw new Error('vmap: no argument is mapped (every inAxes entry is null)');
    const outAxis = options.outAxes ?? 0;
    return withTrace(new BatchTrace(batchSize), (trace) => {
      const inputs = flat.map(({ tensors, def, axis }) =>
        treeUnflatten(
          def,
          tensors.map((t) =>
            axis === null || axis === undefined
              ? t
              : new BatchTracer(trace, moveToFront(t, normalizeAxis('vmap', axis, t.ndim)), 0),
          ),
        ),
      );
      const out = f(...inputs);
      const o = treeFlatten(out, 'vmap output');
      const results = o.leaves.map((leaf) => {
        const y = asTensor(leaf);
        const stacked =
          y instanceof BatchTracer && y.trace === trace
            ? y.dim === 0
              ? y.value
              : broadcastTo(y.value, [batchSize, ...y.value.shape])
            : broadcastTo(y, [batchSize, ...y.shape]); // the same for every example
        return moveFromFront(stacked, normalizeAxis('vmap (outAxes)', outAxis, stacked.ndim));
      });
      return treeUnflatten<Out>(o.def, results);
    });
  };
}
