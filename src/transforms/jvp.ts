/**
 * Forward mode: dual numbers, one level per call.
 *
 * A `JvpTracer` carries a primal value and a tangent (`null` is a symbolic zero, which costs
 * nothing). Each primitive's JVP rule maps input tangents to the output tangent using primitives on
 * the lower-level values, so a JVP of a JVP, or a JVP of a gradient (forward-over-reverse), just
 * works: the rules' own operations are traced by whichever transformations sit below.
 *
 * @module
 */
import { asTensor, zeros } from '../core/create.ts';
import { type Pytree, treeDefsEqual, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { fmt, shapesEqual } from '../base/shape.ts';
import { Tensor } from '../core/tensor.ts';
import { type Primitive, Trace, Tracer, bind, withTrace } from '../core/trace.ts';

/** A primal value with its tangent at one forward-mode level. */
export class JvpTracer extends Tracer {
  constructor(
    trace: Trace,
    readonly primal: Tensor,
    readonly tangent: Tensor | null,
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

/** The trace of one `jvp` call. */
export class JvpTrace extends Trace {
  readonly kind = 'jvp';
  pure(x: Tensor): Tracer {
    return new JvpTracer(this, x, null);
  }
  process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor {
    const primals = args.map((a) => (a as JvpTracer).primal);
    const tangents = args.map((a) => (a as JvpTracer).tangent);
    if (prim.jvpJoint && tangents.some((t) => t !== null)) {
      const joint = prim.jvpJoint(primals, tangents, params);
      if (joint) return new JvpTracer(this, joint[0], joint[1]);
    }
    const out = bind(prim, primals, params);
    if (!prim.jvp || tangents.every((t) => t === null)) return out; // nothing perturbed: a constant
    const tangent = prim.jvp(primals, tangents, params, out);
    return tangent === null ? out : new JvpTracer(this, out, tangent);
  }
}

/**
 * Forward-mode derivative: evaluates `f(...primals)` and the directional derivative
 * J_f(primals) · tangents in one pass. Arguments and results may be pytrees; each tangent has the
 * structure and shapes of its primal.
 *
 * @example
 * ```ts
 * const [y, dy] = jvp((x) => sin(x), [tensor(0)], [tensor(1)]);
 * y.item();  // 0
 * dy.item(); // cos(0) = 1
 * ```
 */
export function jvp<Out extends Pytree = Tensor>(
  f: (...args: any[]) => Out,
  primals: readonly Pytree[],
  tangents: readonly Pytree[],
): [Out, Out] {
  if (!Array.isArray(primals) || !Array.isArray(tangents)) {
    throw new Error('jvp: primals and tangents must be arrays, one entry per argument of f');
  }
  if (primals.length !== tangents.length) {
    throw new Error(`jvp: ${primals.length} primals but ${tangents.length} tangents`);
  }
  const p = treeFlatten(primals as Pytree, 'jvp primals');
  const t = treeFlatten(tangents as Pytree, 'jvp tangents');
  if (!treeDefsEqual(p.def, t.def) || p.leaves.length !== t.leaves.length) {
    throw new Error('jvp: tangents must have the same structure as primals');
  }
  return withTrace(new JvpTrace(), (trace) => {
    const inputs = p.leaves.map((leaf, i) => {
      const x = asTensor(leaf);
      const dx = asTensor(t.leaves[i]!);
      if (!shapesEqual(x.shape, dx.shape)) {
        throw new Error(`jvp: tangent ${i} has shape ${fmt(dx.shape)} but its primal has shape ${fmt(x.shape)}`);
      }
      return new JvpTracer(trace, x, dx);
    });
    const out = f(...treeUnflatten<Pytree[]>(p.def, inputs));
    const o = treeFlatten(out, 'jvp output');
    const outs: Tensor[] = [];
    const outTangents: Tensor[] = [];
    for (const leaf of o.leaves) {
      const y = asTensor(leaf);
      if (y instanceof JvpTracer && y.trace === trace) {
        outs.push(y.primal);
        outTangents.push(y.tangent ?? zeros(y.shape));
      } else {
        outs.push(y); // does not depend on the inputs
        outTangents.push(zeros(y.shape));
      }
    }
    return [treeUnflatten<Out>(o.def, outs), treeUnflatten<Out>(o.def, outTangents)];
  });
}
