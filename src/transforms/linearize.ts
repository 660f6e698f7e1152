/**
 * `linearize` and `linearTranspose`: forward mode split into "evaluate once" and "apply the linear
 * map many times", and reverse mode obtained from it by transposing that linear map.
 *
 * `linearize(f, x)` runs the JVP of f once with a concrete primal x and an *abstract* tangent (a
 * `makeJaxpr` variable). Every primitive on primal values alone is computed on the spot; every
 * primitive that touches the tangent is recorded. What is recorded is the JVP rules' output, so it
 * is linear in the tangent: a program of `mul` by constants, `matmul` with a constant operand,
 * `add`, `reshape`, `sum`, … whose constants (cos x, the activations, …) are the residuals. Calling
 * the returned function replays that program only (JAX's partial evaluation, by tracing).
 *
 * `linearTranspose(g, x)` traces a linear g to its program and runs it backwards: the transpose of
 * a composition is the composition of the transposes in reverse order, and each linear
 * equation's transpose is its primitive's VJP rule with respect to its linear input(s), evaluated
 * at any point (the derivative of a linear map is the map itself). So
 * `linearTranspose(linearize(f, x)[1], x)` is f's vector-Jacobian product: reverse mode is the
 * transpose of forward mode. The transposed program is made of primitives too, so it differentiates,
 * batches and traces again.
 *
 * @module
 */
import { asTensor, zeros } from '../core/create.ts';
import { type Pytree, treeDefsEqual, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { fmt, shapesEqual } from '../base/shape.ts';
import { ConcreteTensor, Tensor } from '../core/tensor.ts';
import { type Primitive, Tracer, bind, withTrace } from '../core/trace.ts';
import { JvpTrace, JvpTracer } from './jvp.ts';
import { Jaxpr, JaxprTrace, JaxprTracer, JaxprVar, type JaxprAtom, evalJaxpr, makeJaxpr } from './jaxpr.ts';
import { add } from '../prims/add.ts';

/**
 * Forward mode without the joint primal-and-tangent rules. `matmul`'s `jvpJoint` stacks a primal
 * operand with its tangent into one product; with an abstract tangent that product would be
 * recorded, pulling the primal computation into the linear program. Here the primal is always
 * computed on its own (on concrete values) and only the tangent rule is recorded.
 */
class LinearizeTrace extends JvpTrace {
  override process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor {
    const primals = args.map((a) => (a as JvpTracer).primal);
    const tangents = args.map((a) => (a as JvpTracer).tangent);
    const out = bind(prim, primals, params);
    if (!prim.jvp || tangents.every((t) => t === null)) return out;
    const tangent = prim.jvp(primals, tangents, params, out);
    return tangent === null ? out : new JvpTracer(this, out, tangent);
  }
}

/**
 * Programs recorded by `linearize`: linear by construction (every equation is a JVP rule's output,
 * linear in the tangent), so `linearTranspose` transposes them without checking each primitive
 * against the table below, and new fused rule primitives need no entry there.
 */
const LINEAR_BY_CONSTRUCTION = new WeakSet<Jaxpr>();

/** The linear map returned by {@link linearize}: tangents in, output tangent out. */
export interface LinearizedFunction<Out extends Pytree = Tensor> {
  /** J_f(x) · tangents, with the structure and shapes of f's output. */
  (...tangents: Pytree[]): Out;
  /** The recorded linear program (print it, count it, or evaluate it with `evalJaxpr`). */
  readonly jaxpr: Jaxpr;
}

/**
 * Evaluates `f(...primals)` and returns it with the linear map `tangents ↦ J_f(primals) · tangents`
 * (JAX's `linearize`). The JVP runs once, with abstract tangents: primal work is done then and its
 * results needed by the derivative (the residuals) are kept as constants of a recorded linear
 * program (`fJvp.jaxpr`); each call of `fJvp` replays only that program, without recomputing f.
 * Cost: one JVP to linearize (primal plus tangent, the tangent work recorded rather than done), then
 * per call the tangent part of a JVP; memory: the residuals, like a reverse-mode tape.
 * Arguments and outputs may be pytrees; each tangent has the structure and shapes of its primal.
 *
 * @example
 * ```ts
 * const [y, fJvp] = linearize((x) => sin(x), tensor([0, 1]));
 * y.toArray();                        // [0, sin 1]
 * fJvp(tensor([1, 1])).toArray();     // [cos 0, cos 1]
 * String(fJvp.jaxpr);                 // one equation: b = mul a <const cos x>
 * ```
 */
export function linearize<Out extends Pytree = Tensor>(f: (...args: any[]) => Out, ...primals: Pytree[]): [Out, LinearizedFunction<Out>] {
  if (typeof f !== 'function') throw new Error('linearize: expected a function as the first argument');
  if (primals.length === 0) throw new Error('linearize: no primals given; call linearize(f, ...primals) with one value per argument of f');
  const p = treeFlatten(primals as Pytree, 'linearize primals');
  const xs = p.leaves.map(asTensor);
  const recorder = new JaxprTrace();
  const [primalOut, jaxpr] = withTrace(recorder, () => {
    const invars = xs.map((x) => new JaxprVar([...x.shape]));
    const [outs, outTangents, outDef] = withTrace(new LinearizeTrace(), (lt) => {
      const inputs = xs.map((x, i) => new JvpTracer(lt, x, new JaxprTracer(recorder, invars[i]!)));
      const o = treeFlatten(f(...treeUnflatten<Pytree[]>(p.def, inputs)), 'linearize output');
      const ys: Tensor[] = [];
      const ts: Tensor[] = [];
      for (const leaf of o.leaves) {
        const y = asTensor(leaf);
        const mine = y instanceof JvpTracer && y.trace === lt;
        ys.push(mine ? y.primal : y);
        ts.push(mine && y.tangent ? y.tangent : zeros(y.shape)); // independent of the input: zero tangent
      }
      return [ys, ts, o.def] as const;
    });
    const outputs = outTangents.map((t) => (t instanceof JaxprTracer && t.trace === recorder ? t.atom : (recorder.pure(t) as JaxprTracer).atom));
    return [
      treeUnflatten<Out>(outDef, outs),
      new Jaxpr(recorder.constvars, recorder.constValues, invars, recorder.equations, outputs, p.def, outDef),
    ] as const;
  });
  const fJvp = ((...tangents: Pytree[]): Out => {
    const t = treeFlatten(tangents as Pytree, 'linearize tangents');
    if (!treeDefsEqual(t.def, p.def) || t.leaves.length !== xs.length) {
      throw new Error(`linearize: the tangents must have the structure of the primals (${xs.length} leaves), got ${t.leaves.length} leaves`);
    }
    t.leaves.forEach((leaf, i) => {
      const s = asTensor(leaf).shape;
      if (!shapesEqual(s, xs[i]!.shape)) throw new Error(`linearize: tangent ${i} has shape ${fmt(s)} but its primal has shape ${fmt(xs[i]!.shape)}`);
    });
    return evalJaxpr<Out>(jaxpr, ...tangents);
  }) as LinearizedFunction<Out>;
  Object.defineProperty(fJvp, 'jaxpr', { value: jaxpr, enumerable: true });
  LINEAR_BY_CONSTRUCTION.add(jaxpr);
  return [primalOut, fJvp];
}

/**
 * Primitives that can appear in a linear program, and which of their inputs may carry the linear
 * variable, for functions written by hand (programs from `linearize` are linear by construction and
 * need no entry; a primitive missing here only makes a hand-written linear function be refused): `'any'` (linear in all inputs jointly), `'one'` (bilinear: linear in each input while
 * the other is constant), or a list of the input positions that may be linear.
 */
const LINEAR: Record<string, 'any' | 'one' | number[]> = {
  add: 'any',
  sub: 'any',
  neg: 'any',
  concat: 'any',
  reshape: 'any',
  transpose: 'any',
  broadcastTo: 'any',
  sum: 'any',
  slice: 'any',
  pad: 'any', // pads with zeros, so linear (not merely affine)
  take: 'any',
  scatterAdd: 'any',
  mul: 'one',
  matmul: 'one',
  conv: 'one',
  convInputGrad: 'one',
  convKernelGrad: 'one',
  div: [0], // a / c is linear in a; c / a is not
  select: [1, 2], // the condition is a constant mask
  tanhGrad: [1], // g·(1 − y²): linear in g
  reluGrad: [1], // [x > 0]·g: linear in g
};

/**
 * The inputs a primitive adds (or places) into its output unchanged: where one of them is a
 * nonzero constant beside an input-dependent value, the map is affine, not linear.
 */
const additiveInputs = (name: string, arity: number): number[] =>
  name === 'add' || name === 'sub' || name === 'concat' ? Array.from({ length: arity }, (_, i) => i) : name === 'select' ? [1, 2] : [];

/**
 * The transpose of a linear program: a function from output cotangents to input cotangents.
 * Throws, naming the equation, when the program is not linear in its inputs.
 */
function transposeJaxpr(jaxpr: Jaxpr, op: string, trusted: boolean): (ct: Pytree) => Pytree[] {
  const linear = new Set<JaxprVar>(jaxpr.invars);
  jaxpr.equations.forEach((e, k) => {
    const lin = e.inputs.map((a) => a instanceof JaxprVar && linear.has(a));
    if (!lin.some(Boolean)) return; // cannot happen for recorded equations; harmless if it does
    if (trusted) {
      if (!e.primitive.vjp) throw new Error(`${op}: equation ${k} applies '${e.primitive.name}', which has no VJP rule to transpose it with`);
      linear.add(e.output);
      return;
    }
    const rule = LINEAR[e.primitive.name];
    const ok =
      rule === 'any' ||
      (rule === 'one' && lin.filter(Boolean).length === 1) ||
      (Array.isArray(rule) && lin.every((l, i) => !l || rule.includes(i)));
    if (!ok || !e.primitive.vjp) {
      throw new Error(
        `${op}: the function is not linear in its inputs: equation ${k} applies '${e.primitive.name}' to ` +
          `${lin.filter(Boolean).length} input(s) of shapes ${e.inputs.map((a) => fmt(a instanceof JaxprVar ? a.shape : [])).join(', ')} that depend on them`,
      );
    }
    // Adding a nonzero constant to an input-dependent value makes the map affine, not linear.
    const sums = additiveInputs(e.primitive.name, e.inputs.length);
    if (sums.length) {
      e.inputs.forEach((a, i) => {
        if (lin[i] || !sums.includes(i)) return;
        const value = a instanceof JaxprVar ? jaxpr.constValues[jaxpr.constvars.indexOf(a)] : asTensor(a.literal);
        if (value instanceof ConcreteTensor && value.toFloat64Array().some((x) => x !== 0)) {
          throw new Error(
            `${op}: the function is affine, not linear: equation ${k} ('${e.primitive.name}') combines a value that depends on the inputs ` +
              `with a nonzero constant of shape ${fmt(value.shape)}; transpose its linear part (linearize it first)`,
          );
        }
      });
    }
    linear.add(e.output);
  });
  jaxpr.outputs.forEach((a, i) => {
    if (a instanceof JaxprVar && linear.has(a)) return;
    // An output that does not depend on the inputs must be zero, or the map is affine, not linear.
    const value = a instanceof JaxprVar ? jaxpr.constValues[jaxpr.constvars.indexOf(a)] : asTensor((a as { literal: number }).literal);
    if (value instanceof ConcreteTensor && value.toFloat64Array().some((v) => v !== 0)) {
      throw new Error(`${op}: output ${i} (shape ${fmt(value.shape)}) is a nonzero constant: the function is affine, not linear`);
    }
  });
  const constOf = new Map<JaxprVar, Tensor>(jaxpr.constvars.map((v, i) => [v, jaxpr.constValues[i]!]));
  return (ct: Pytree): Pytree[] => {
    const c = treeFlatten(ct, `${op} cotangent`);
    if (!treeDefsEqual(c.def, jaxpr.outDef) || c.leaves.length !== jaxpr.outputs.length) {
      throw new Error(`${op}: the cotangent must have the structure of the output (${jaxpr.outputs.length} leaves), got ${c.leaves.length} leaves`);
    }
    const acc = new Map<JaxprVar, Tensor>();
    const accumulate = (v: JaxprVar, t: Tensor) => {
      const prev = acc.get(v);
      acc.set(v, prev ? add(prev, t) : t);
    };
    c.leaves.forEach((leaf, i) => {
      const a = jaxpr.outputs[i]!;
      const t = asTensor(leaf);
      const want = a instanceof JaxprVar ? a.shape : [];
      if (!shapesEqual(t.shape, want)) throw new Error(`${op}: cotangent ${i} has shape ${fmt(t.shape)}, the output has shape ${fmt(want)}`);
      if (a instanceof JaxprVar && linear.has(a)) accumulate(a, t);
    });
    for (let k = jaxpr.equations.length - 1; k >= 0; k--) {
      const e = jaxpr.equations[k]!;
      const g = acc.get(e.output);
      if (!g) continue;
      acc.delete(e.output);
      const active = e.inputs.map((a) => a instanceof JaxprVar && linear.has(a));
      // A linear map's derivative is the map itself at every point: evaluate the VJP rule with the
      // linear inputs (and so the output) at zero; only the constant inputs' values matter.
      const primals = e.inputs.map((a: JaxprAtom, i) =>
        active[i] ? zeros((a as JaxprVar).shape) : a instanceof JaxprVar ? constOf.get(a)! : asTensor(a.literal),
      );
      const cts = e.primitive.vjp!(g, primals, e.params, zeros(e.output.shape), active);
      e.inputs.forEach((a, i) => {
        const t = cts[i];
        if (active[i] && t) accumulate(a as JaxprVar, t);
      });
    }
    return treeUnflatten<Pytree[]>(jaxpr.inDef, jaxpr.invars.map((v) => acc.get(v) ?? zeros(v.shape)));
  };
}

/**
 * The transpose of a linear function (JAX's `linear_transpose`): for g linear in its arguments,
 * returns `ct ↦ [gᵀ ct]`, one cotangent per argument of g, with ⟨ct, g(v)⟩ = ⟨gᵀ ct, v⟩. `primals`
 * give only the arguments' shapes (g is traced once with them; their values are not read). g is
 * checked to be linear as traced: an equation that is not linear in the inputs (`sin` of one, a
 * product of two, a nonzero constant added) is an error naming it. Transposing `linearize(f, x)[1]`
 * gives f's VJP at x; that program is linear by construction and is transposed as recorded.
 *
 * @example
 * ```ts
 * const A = tensor([[1, 2], [3, 4], [5, 6]]);
 * const At = linearTranspose((v: Tensor) => matmul(A, v), zeros([2, 1]));
 * At(tensor([[1], [0], [0]]))[0].toArray();  // [[1], [2]]: Aᵀ e₁
 *
 * const [, fJvp] = linearize((x: Tensor) => sum(sin(x)), tensor([0, 1]));
 * linearTranspose(fJvp, zeros([2]))(tensor(1))[0].toArray(); // [cos 0, cos 1] = the gradient
 * ```
 */
export function linearTranspose(g: (...args: any[]) => Pytree, ...primals: Pytree[]): (ct: Pytree) => Pytree[] {
  if (typeof g !== 'function') throw new Error('linearTranspose: expected a function as the first argument');
  if (primals.length === 0) throw new Error('linearTranspose: no primals given; pass one value per argument of g (only their shapes are used)');
  const recorded = (g as Partial<LinearizedFunction<Pytree>>).jaxpr;
  if (recorded && LINEAR_BY_CONSTRUCTION.has(recorded)) {
    // `linearize`'s own program: transpose it as recorded (the primals must match its inputs).
    const p = treeFlatten(primals as Pytree, 'linearTranspose primals');
    const same =
      treeDefsEqual(p.def, recorded.inDef) &&
      p.leaves.length === recorded.invars.length &&
      p.leaves.every((leaf, i) => shapesEqual(asTensor(leaf).shape, recorded.invars[i]!.shape));
    if (same) return transposeJaxpr(recorded, 'linearTranspose', true);
  }
  return transposeJaxpr(makeJaxpr(g)(...primals), 'linearTranspose', false);
}
