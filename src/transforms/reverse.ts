/**
 * Reverse mode: a tape per call, replayed backwards with VJP rules written in primitives.
 *
 * While `f` runs, every primitive applied to a tracked value appends a node to the tape of this
 * level (the primitive, its inputs and its output). The pullback walks the tape from the end,
 * asking each primitive's VJP rule for its inputs' cotangents. Because those rules are made of
 * primitives, the backward pass is itself traced by every transformation below this level: that is
 * how `grad(grad(f))` and `jvp(grad(f))` work, with no special code for second order.
 *
 * @module
 */
import { asTensor, zeros } from '../core/create.ts';
import { type Pytree, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { fmt, shapesEqual } from '../base/shape.ts';
import { Tensor } from '../core/tensor.ts';
import { type Primitive, Trace, Tracer, bind, withTrace } from '../core/trace.ts';
import { add } from '../prims/add.ts';

/** A value tracked by one reverse-mode level. `active` is false for constants lifted from below. */
export class ReverseTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly primal: Tensor,
    readonly active: boolean,
  ) {
    super(trace);
  }
  get shape() {
    return this.primal.shape;
  }
  toFloat64Array(): Float64Array {
    return this.primal.toFloat64Array();
  }
}

/** One recorded operation: enough to compute its inputs' cotangents from its output's. */
export interface TapeNode {
  /** The output tracer whose cotangent drives this node. */
  output: ReverseTracer;
  /** Input tracers (inactive ones receive nothing). */
  inputs: ReverseTracer[];
  /** Computes input cotangents from the output cotangent. */
  backward(ct: Tensor, active: boolean[]): (Tensor | null)[];
}

/** The trace of one `vjp` call, holding its tape. */
export class ReverseTrace extends Trace {
  readonly kind = 'vjp';
  readonly tape: TapeNode[] = [];
  pure(x: Tensor): Tracer {
    return new ReverseTracer(this, x, false);
  }
  process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor {
    const inputs = args as ReverseTracer[];
    const primals = inputs.map((a) => a.primal);
    const out = bind(prim, primals, params);
    if (!prim.vjp || inputs.every((a) => !a.active)) return out; // constant: nothing to record
    const output = new ReverseTracer(this, out, true);
    const vjp = prim.vjp;
    this.tape.push({ output, inputs, backward: (ct, active) => vjp(ct, primals, params, out, active) });
    return output;
  }
  /** Records a node with a custom backward function (used by `customVjp`). */
  record(output: ReverseTracer, inputs: ReverseTracer[], backward: TapeNode['backward']): void {
    this.tape.push({ output, inputs, backward });
  }
}

/**
 * Runs the tape backwards from the given output cotangents and returns the cotangents of `leaves`
 * (zeros where a leaf did not influence the outputs).
 */
function backpropagate(
  trace: ReverseTrace,
  outputs: Tensor[],
  cts: Tensor[],
  leaves: ReverseTracer[],
): Tensor[] {
  const acc = new Map<ReverseTracer, Tensor>();
  const accumulate = (t: ReverseTracer, ct: Tensor): void => {
    const prev = acc.get(t);
    acc.set(t, prev ? add(prev, ct) : ct);
  };
  outputs.forEach((y, i) => {
    if (y instanceof ReverseTracer && y.trace === trace && y.active) accumulate(y, cts[i]!);
  });
  for (let n = trace.tape.length - 1; n >= 0; n--) {
    const node = trace.tape[n]!;
    const ct = acc.get(node.output);
    if (!ct) continue;
    acc.delete(node.output); // its cotangent is final once its consumer nodes are done
    const active = node.inputs.map((x) => x.active);
    const inCts = node.backward(ct, active);
    node.inputs.forEach((x, i) => {
      const c = inCts[i];
      if (x.active && c) accumulate(x, c);
    });
  }
  return leaves.map((leaf) => acc.get(leaf) ?? zeros(leaf.shape));
}

/**
 * Reverse-mode derivative: evaluates `f(...primals)` and returns `[out, pullback]`, where
 * `pullback(ct)` gives the cotangent of every argument, i.e. the vector-Jacobian product ctᵀ J.
 * `ct` has the structure and shapes of `out`. The pullback may be called many times.
 *
 * @example
 * ```ts
 * const [y, pullback] = vjp((x) => mul(x, x), tensor([1, 2, 3]));
 * const [dx] = pullback(ones([3]));
 * dx.toArray(); // [2, 4, 6]
 * ```
 */
export function vjp<Out extends Pytree = Tensor>(
  f: (...args: any[]) => Out,
  ...primals: Pytree[]
): [Out, (ct: Pytree) => Pytree[]] {
  const p = treeFlatten(primals as Pytree, 'vjp primals');
  const trace = new ReverseTrace();
  let leafTracers: ReverseTracer[] = [];
  const [outLeaves, outDef] = withTrace(trace, () => {
    leafTracers = p.leaves.map((leaf) => new ReverseTracer(trace, asTensor(leaf), true));
    const o = treeFlatten(f(...treeUnflatten<Pytree[]>(p.def, leafTracers)), 'vjp output');
    return [o.leaves.map(asTensor), o.def] as const;
  });
  const primalOut = treeUnflatten<Out>(
    outDef,
    outLeaves.map((y) => (y instanceof ReverseTracer && y.trace === trace ? y.primal : y)),
  );
  const pullback = (ct: Pytree): Pytree[] => {
    const c = treeFlatten(ct, 'vjp cotangent');
    if (c.leaves.length !== outLeaves.length) {
      throw new Error(`vjp pullback: cotangent has ${c.leaves.length} leaves, the output has ${outLeaves.length}`);
    }
    const cts = c.leaves.map((leaf, i) => {
      const t = asTensor(leaf);
      const want = outLeaves[i]!.shape;
      if (!shapesEqual(t.shape, want)) {
        throw new Error(`vjp pullback: cotangent ${i} has shape ${fmt(t.shape)}, the output has shape ${fmt(want)}`);
      }
      return t;
    });
    const grads = backpropagate(trace, outLeaves, cts, leafTracers);
    return treeUnflatten<Pytree[]>(p.def, grads);
  };
  return [primalOut, pullback];
}
