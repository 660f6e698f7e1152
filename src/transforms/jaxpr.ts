/**
 * Seeing the program: `makeJaxpr` traces a function to the primitives it applies.
 *
 * A `JaxprTrace` is one more kind of trace on the stack. Its tracers are *variables*: they carry a
 * shape and no values. Each primitive that reaches this level (`process`) is recorded as an
 * equation — the primitive, its input variables or literals, its parameters and a fresh output
 * variable whose shape comes from `prim.shape` — and the output variable is returned as a new
 * tracer. Transformations called inside the traced function sit above this level, so what they
 * bind on their lower-level values (the JVP and VJP rules' primitives, the batching rules'
 * primitives) lands here: `makeJaxpr(grad(f))` shows the forward pass *and* the backward pass.
 *
 * Concrete tensors captured from outside (closures, constants made inside rules) are not inputs:
 * a scalar becomes a literal printed inline, anything larger a constant variable, listed before
 * the `;` of the program's header as in JAX.
 *
 * The printed form (one equation a line):
 *
 * ```text
 * { lambda ; a:f64[3]. let
 *     b:f64[3] = sin a
 *     c:f64[3] = mul b a
 *     d:f64[] = sum[axes=[0]] c
 *   in (d) }
 * ```
 *
 * `lambda <constants> ; <inputs>.`, then `out:type = primitive[params] inputs` per equation, then
 * the outputs. Every value is float64, so every type is `f64[shape]`; names run a…z, ba, bb, …
 *
 * @module
 */
import { asTensor } from '../core/create.ts';
import { type Pytree, type TreeDef, treeDefsEqual, treeFlatten, treeUnflatten } from '../core/pytree.ts';
import { type Shape, fmt, shapesEqual, sizeOf } from '../base/shape.ts';
import { BINARY_OPS, UNARY_OPS } from '../base/op-list.ts';
import { ConcreteTensor, Tensor } from '../core/tensor.ts';
import { type Primitive, Trace, Tracer, bind, withTrace } from '../core/trace.ts';

/** A variable of a traced program: an input, a constant or an equation's output. */
export class JaxprVar {
  constructor(
    /** The shape of the value it stands for. */
    readonly shape: Shape,
  ) {}
}

/** A scalar constant written inline in the program. */
export interface JaxprLiteral {
  /** The value. */
  readonly literal: number;
}

/** An equation's input: a variable or an inline scalar literal. */
export type JaxprAtom = JaxprVar | JaxprLiteral;

/** One recorded primitive application: `output = primitive[params] inputs`. */
export interface JaxprEquation {
  /** The primitive itself (what `evalJaxpr` binds again). */
  readonly primitive: Primitive<any>;
  /** Its inputs, in order. */
  readonly inputs: readonly JaxprAtom[];
  /** Its parameters, as passed to `bind`. */
  readonly params: unknown;
  /** The variable holding its result. */
  readonly output: JaxprVar;
}

/** The operation and FLOP count of one primitive in a program (see {@link Jaxpr.counts}). */
export interface PrimitiveCount {
  /** How many equations apply this primitive. */
  count: number;
  /** Their estimated floating-point operations, summed. */
  flops: number;
}

/** The counts of a whole program (see {@link Jaxpr.counts}). */
export interface JaxprCounts {
  /** The number of equations. */
  equations: number;
  /** The estimated floating-point operations of all equations. */
  flops: number;
  /** Per primitive name, sorted by name. */
  byPrimitive: Record<string, PrimitiveCount>;
}

/** A variable in the JSON form: its printed name and its shape. */
export interface JaxprJsonVar {
  /** The name `toString` prints (`a`, `b`, …). */
  name: string;
  /** The shape. */
  shape: number[];
}

/** A constant in the JSON form, with its values. */
export interface JaxprJsonConst extends JaxprJsonVar {
  /** The values, row-major (`null` for a constant that is itself a tracer of an outer transformation). */
  value: number[] | null;
}

/** An equation in the JSON form. */
export interface JaxprJsonEquation {
  /** The primitive's name. */
  primitive: string;
  /** The inputs: variable names, or inline scalar literals. */
  inputs: (string | JaxprLiteral)[];
  /** The parameters as plain values (typed arrays become arrays). */
  params: Record<string, unknown>;
  /** The output variable. */
  output: JaxprJsonVar;
}

/** The JSON form of a program: names as printed, shapes as arrays, parameters as plain values. */
export interface JaxprJson {
  /** Constant variables with their values. */
  consts: JaxprJsonConst[];
  /** Input variables, flattened in the order of the arguments' leaves. */
  inputs: JaxprJsonVar[];
  /** The equations in order. */
  equations: JaxprJsonEquation[];
  /** The outputs, flattened: variable names or literals. */
  outputs: (string | JaxprLiteral)[];
}

const isLiteral = (a: JaxprAtom): a is JaxprLiteral => !(a instanceof JaxprVar);

/** Data movement: no arithmetic, 0 FLOPs by convention. */
const MOVEMENT = new Set(['broadcastTo', 'reshape', 'transpose', 'slice', 'pad', 'concat', 'take', 'stopGradient']);
/** Reductions (and `scatterAdd`, which accumulates its input): one FLOP per input element. */
const REDUCTIONS = new Set(['sum', 'max', 'logSumExp', 'scatterAdd']);
/** Elementwise primitives: one FLOP per output element (also the default for unlisted ones). */
export const ELEMENTWISE_PRIMITIVES: ReadonlySet<string> = new Set<string>([...UNARY_OPS, ...BINARY_OPS, 'select']);

/**
 * The FLOP estimate of one equation. Conventions: elementwise primitives (and any primitive this
 * table does not know) count their output size; `matmul` counts 2·batch·m·k·n, the convolution
 * primitives 2·n·o·c·kh·kw·ho·wo (per group); reductions
 * (`sum`, `max`, `logSumExp`) and `scatterAdd` count their input size; data movement (`reshape`,
 * `transpose`, `broadcastTo`, `slice`, `pad`, `concat`, `take`, `stopGradient`) counts 0.
 */
function equationFlops(eqn: JaxprEquation): number {
  const name = eqn.primitive.name;
  const shapeOf = (a: JaxprAtom): Shape => (isLiteral(a) ? [] : a.shape);
  if (MOVEMENT.has(name)) return 0;
  if (REDUCTIONS.has(name)) return sizeOf(shapeOf(eqn.inputs[0]!));
  if (name === 'matmul') {
    const sa = shapeOf(eqn.inputs[0]!);
    const { transA } = eqn.params as { transA: boolean };
    const rank = sa.length;
    const batch = rank === 3 ? sa[0]! : 1;
    const [m, k] = transA ? [sa[rank - 1]!, sa[rank - 2]!] : [sa[rank - 2]!, sa[rank - 1]!];
    const n = eqn.output.shape[rank - 1]!;
    return 2 * batch * m * k * n;
  }
  if (name === 'conv' || name === 'convInputGrad' || name === 'convKernelGrad') {
    // One multiply-add per (group, image, output channel, input channel, window entry, output pixel).
    const { plan, grouped } = eqn.params as { plan: { c: number; o: number; kh: number; kw: number; ho: number; wo: number }; grouped: boolean };
    const sa = shapeOf(eqn.inputs[0]!);
    const groups = grouped ? sa[0]! : 1, n = sa[grouped ? 1 : 0]!;
    return 2 * groups * n * plan.o * plan.c * plan.kh * plan.kw * plan.ho * plan.wo;
  }
  return sizeOf(eqn.output.shape); // ELEMENTWISE_PRIMITIVES, and any primitive not listed above
}

/** The spreadsheet-style name of the i-th variable: a…z, ba, bb, … */
function varName(i: number): string {
  let s = '';
  do {
    s = String.fromCharCode(97 + (i % 26)) + s;
    i = Math.floor(i / 26);
  } while (i > 0);
  return s;
}

/** A parameter value as plain JSON-able data (typed arrays become arrays). */
function plainParam(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map(plainParam);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainParam(x)]));
  }
  return v;
}

/** A parameter value printed compactly: long index arrays are summarised by their length. */
function showParam(v: unknown): string {
  const p = plainParam(v);
  if (Array.isArray(p) && p.length > 8) return `[…${p.length} values]`;
  return JSON.stringify(p);
}

const showLiteral = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/**
 * A traced program: constants, inputs, equations and outputs, with the input and output pytree
 * structures so that {@link evalJaxpr} can take and give the same shapes of arguments as `f`.
 */
export class Jaxpr {
  constructor(
    /** Constant variables (concrete tensors captured from outside, larger than a scalar). */
    readonly constvars: readonly JaxprVar[],
    /** Their values, in the same order. */
    readonly constValues: readonly Tensor[],
    /** Input variables, one per leaf of the arguments. */
    readonly invars: readonly JaxprVar[],
    /** The equations, in the order they were applied. */
    readonly equations: readonly JaxprEquation[],
    /** The outputs, one per leaf of the result. */
    readonly outputs: readonly JaxprAtom[],
    /** @internal The arguments' structure. */
    readonly inDef: TreeDef,
    /** @internal The result's structure. */
    readonly outDef: TreeDef,
  ) {}

  /** Printed names: constants first, then inputs, then equation outputs in order. */
  private names(): Map<JaxprVar, string> {
    const names = new Map<JaxprVar, string>();
    for (const v of [...this.constvars, ...this.invars, ...this.equations.map((e) => e.output)]) {
      if (!names.has(v)) names.set(v, varName(names.size));
    }
    return names;
  }

  /**
   * The program one equation a line, in the format of JAX's `make_jaxpr` (see the module
   * documentation): `{ lambda consts ; inputs. let … in (outputs) }`.
   *
   * @example
   * ```ts
   * String(makeJaxpr((x) => sum(sin(x)))(tensor([1, 2, 3])));
   * // { lambda ; a:f64[3]. let
   * //     b:f64[3] = sin a
   * //     c:f64[] = sum[axes=[0]] b
   * //   in (c) }
   * ```
   */
  toString(): string {
    const names = this.names();
    const ty = (v: JaxprVar) => `${names.get(v)}:f64${fmt(v.shape)}`;
    const atom = (a: JaxprAtom) => (isLiteral(a) ? showLiteral(a.literal) : names.get(a)!);
    const lines = this.equations.map((e) => {
      const params = Object.entries((e.params ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined);
      const p = params.length ? `[${params.map(([k, v]) => `${k}=${showParam(v)}`).join(' ')}]` : '';
      return `    ${ty(e.output)} = ${e.primitive.name}${p} ${e.inputs.map(atom).join(' ')}`;
    });
    const consts = this.constvars.map(ty).join(' ');
    const head = `{ lambda ${consts}${consts ? ' ' : ''}; ${this.invars.map(ty).join(' ')}. let`;
    return [head, ...lines, `  in (${this.outputs.map(atom).join(', ')}) }`].join('\n');
  }

  /**
   * The program as plain data (names as printed by `toString`).
   *
   * @example
   * ```ts
   * const j = makeJaxpr((x) => sin(x))(tensor([1, 2])).toJSON();
   * j.equations[0].primitive; // 'sin'
   * ```
   */
  toJSON(): JaxprJson {
    const names = this.names();
    const atom = (a: JaxprAtom) => (isLiteral(a) ? { literal: a.literal } : names.get(a)!);
    return {
      consts: this.constvars.map((v, i) => {
        const t = this.constValues[i]!;
        return { name: names.get(v)!, shape: [...v.shape], value: t instanceof ConcreteTensor ? Array.from(t.toFloat64Array()) : null };
      }),
      inputs: this.invars.map((v) => ({ name: names.get(v)!, shape: [...v.shape] })),
      equations: this.equations.map((e) => ({
        primitive: e.primitive.name,
        inputs: e.inputs.map(atom),
        params: plainParam(e.params ?? {}) as Record<string, unknown>,
        output: { name: names.get(e.output)!, shape: [...e.output.shape] },
      })),
      outputs: this.outputs.map(atom),
    };
  }

  /**
   * The number of equations and the estimated FLOPs, in total and per primitive. Conventions:
   * elementwise primitives (and unknown ones) count their output size; `matmul` counts
   * 2·batch·m·k·n; reductions (`sum`, `max`, `logSumExp`) and `scatterAdd` count their input size;
   * data movement (`reshape`, `transpose`, `broadcastTo`, `slice`, `pad`, `concat`, `take`,
   * `stopGradient`) counts 0.
   *
   * @example
   * ```ts
   * const c = makeJaxpr((a, b) => matmul(a, b))(ones([2, 3]), ones([3, 4])).counts();
   * c.byPrimitive.matmul; // { count: 1, flops: 48 }  (2·2·3·4)
   * ```
   */
  counts(): JaxprCounts {
    const by: Record<string, PrimitiveCount> = {};
    let flops = 0;
    for (const e of this.equations) {
      const f = equationFlops(e);
      const c = (by[e.primitive.name] ??= { count: 0, flops: 0 });
      c.count++;
      c.flops += f;
      flops += f;
    }
    const byPrimitive = Object.fromEntries(Object.keys(by).sort().map((k) => [k, by[k]!]));
    return { equations: this.equations.length, flops, byPrimitive };
  }
}

/** A value at a `makeJaxpr` level: a variable (or literal) with a shape and no values. */
export class JaxprTracer extends Tracer {
  constructor(
    trace: Trace,
    /** The variable or literal it stands for. */
    readonly atom: JaxprAtom,
  ) {
    super(trace);
  }
  get shape(): Shape {
    return isLiteral(this.atom) ? [] : this.atom.shape;
  }
  toFloat64Array(): Float64Array {
    throw new Error(
      `makeJaxpr: cannot read the values of a traced variable of shape ${fmt(this.shape)}: while tracing, ` +
        'values are abstract (only shapes are known); the program cannot branch on them or print them',
    );
  }
}

/** The trace of one `makeJaxpr` call: the program being recorded. */
export class JaxprTrace extends Trace {
  readonly kind = 'makeJaxpr';
  readonly equations: JaxprEquation[] = [];
  readonly constvars: JaxprVar[] = [];
  readonly constValues: Tensor[] = [];
  private readonly constOf = new Map<Tensor, JaxprVar>();

  /** A value from below becomes a literal (a concrete scalar) or a constant variable. */
  pure(x: Tensor): Tracer {
    if (x instanceof ConcreteTensor && x.ndim === 0) return new JaxprTracer(this, { literal: x.item() });
    let v = this.constOf.get(x);
    if (!v) {
      v = new JaxprVar(x.shape);
      this.constOf.set(x, v);
      this.constvars.push(v);
      this.constValues.push(x);
    }
    return new JaxprTracer(this, v);
  }

  process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor {
    const inputs = args.map((a) => (a as JaxprTracer).atom);
    const shape = prim.shape(
      args.map((a) => a.shape),
      params,
    );
    const output = new JaxprVar([...shape]);
    this.equations.push({ primitive: prim, inputs, params, output });
    return new JaxprTracer(this, output);
  }
}

/**
 * Traces `f` to its primitive program: `makeJaxpr(f)(...args)` runs `f` once on variables with the
 * arguments' shapes (the values are never read) and returns the recorded {@link Jaxpr}, which
 * prints one equation a line (`toString`), converts to plain data (`toJSON`) and counts equations
 * and FLOPs per primitive (`counts`). Arguments may be pytrees of tensors; numbers are scalar
 * inputs. Transformations inside `f` show what they produce: `makeJaxpr(grad(f))` is the forward
 * and backward pass, `makeJaxpr((x) => jvp(grad(f), [x], [v])[1])` a forward-over-reverse HVP.
 *
 * `f` must return a tensor, a number or a pytree of them, and must not read values (`item()`,
 * `toArray()`), which do not exist while tracing.
 *
 * @example
 * ```ts
 * const program = makeJaxpr(grad((x) => sum(sin(x))))(tensor([1, 2, 3]));
 * console.log(String(program));   // sin b, sum, then `e = cos b; f = mul a e`: sin's VJP rule
 * program.counts().byPrimitive;   // { cos: { count: 1, flops: 3 }, mul: …, sin: …, sum: … }
 * ```
 */
export function makeJaxpr(f: (...args: any[]) => Pytree): (...args: Pytree[]) => Jaxpr {
  if (typeof f !== 'function') throw new Error('makeJaxpr: expected a function');
  return (...args: Pytree[]): Jaxpr => {
    const p = treeFlatten(args as Pytree, 'makeJaxpr arguments');
    const trace = new JaxprTrace();
    return withTrace(trace, () => {
      const invars = p.leaves.map((leaf) => new JaxprVar([...asTensor(leaf).shape]));
      const tracers = invars.map((v) => new JaxprTracer(trace, v));
      const out = f(...treeUnflatten<Pytree[]>(p.def, tracers));
      if (out === undefined) {
        throw new Error('makeJaxpr: f returned undefined; it must return a tensor, a number or a pytree of them');
      }
      const o = treeFlatten(out, 'makeJaxpr output');
      const outputs = o.leaves.map((leaf, i) => {
        const y = asTensor(leaf);
        if (y instanceof JaxprTracer && y.trace === trace) return y.atom;
        if (y instanceof Tracer) {
          throw new Error(
            `makeJaxpr: output ${i} (shape ${fmt(y.shape)}) is a ${y.trace.kind} tracer of another transformation, ` +
              'not a value of the traced program (did a tracer escape?)',
          );
        }
        return (trace.pure(y) as JaxprTracer).atom; // does not depend on the inputs: a constant
      });
      return new Jaxpr(trace.constvars, trace.constValues, invars, trace.equations, outputs, p.def, o.def);
    });
  };
}

/**
 * Evaluates a recorded program on new arguments (with the structure and shapes it was traced
 * with) by replaying its equations through `bind`, and returns the result with the structure `f`
 * returned. Because it binds primitives, it can itself be differentiated, batched or traced again.
 *
 * @example
 * ```ts
 * const f = (x: Tensor) => sum(mul(sin(x), x));
 * const program = makeJaxpr(f)(tensor([1, 2, 3]));
 * evalJaxpr(program, tensor([4, 5, 6])).item() === f(tensor([4, 5, 6])).item(); // true
 * ```
 */
export function evalJaxpr<Out extends Pytree = Tensor>(jaxpr: Jaxpr, ...args: Pytree[]): NoInfer<Out> {
  const a = treeFlatten(args as Pytree, 'evalJaxpr arguments');
  if (!treeDefsEqual(a.def, jaxpr.inDef) || a.leaves.length !== jaxpr.invars.length) {
    throw new Error(
      `evalJaxpr: the arguments have ${a.leaves.length} leaves in a different structure than the program was traced with ` +
        `(${jaxpr.invars.length} inputs)`,
    );
  }
  const env = new Map<JaxprVar, Tensor>();
  jaxpr.constvars.forEach((v, i) => env.set(v, jaxpr.constValues[i]!));
  a.leaves.forEach((leaf, i) => {
    const x = asTensor(leaf);
    const v = jaxpr.invars[i]!;
    if (!shapesEqual(x.shape, v.shape)) {
      throw new Error(`evalJaxpr: input ${i} has shape ${fmt(x.shape)}, but the program was traced with shape ${fmt(v.shape)}`);
    }
    env.set(v, x);
  });
  const read = (atom: JaxprAtom): Tensor => (isLiteral(atom) ? asTensor(atom.literal) : env.get(atom)!);
  for (const e of jaxpr.equations) env.set(e.output, bind(e.primitive, e.inputs.map(read), e.params));
  return treeUnflatten<Out>(jaxpr.outDef, jaxpr.outputs.map(read));
}
