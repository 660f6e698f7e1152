/**
 * The trace stack: how transformations nest without confusing their perturbations.
 *
 * Every active transformation (one call of `jvp`, `vjp`, `vmap`, …) owns a `Trace` with a
 * *level*, its position on a stack whose bottom (level 0) is plain evaluation. Values it is
 * tracking are `Tracer`s tagged with that trace. When a primitive is applied (`bind`), the trace of
 * the highest level among its arguments handles it; arguments from lower levels are constants to
 * that trace. The trace then binds primitives on the lower-level values it carries, and so the
 * work descends level by level to the backend.
 *
 * That rule is the whole answer to perturbation confusion: in d/dx [x · d/dy (x + y)], the inner
 * derivative's trace sees `x` as a constant from below, so it contributes no tangent there, and the
 * result is 1, not 2.
 *
 * @module
 */
import { type Shape, fmt } from '../base/shape.ts';
import { ConcreteTensor, Tensor } from './tensor.ts';
import { getBackend } from '../backend/index.ts';
import type { Backend } from '../backend/backend.ts';

/**
 * A primitive operation: its shape rule, its evaluation, and its derivative and batching rules,
 * side by side. Rules are written with primitives (through `bind`), never with raw arrays, which is
 * what makes every derivative differentiable again.
 */
export interface Primitive<P = unknown> {
  /** The name errors and proofs use (`'mul'`, `'matmul'`, …). */
  readonly name: string;
  /** Validates the input shapes and returns the output shape; errors name the op and shapes. */
  shape(inShapes: Shape[], params: P): Shape;
  /**
   * Evaluates on concrete tensors with `backend`, the backend they live on (the evaluation trace
   * moves them there first); the result lives there too.
   */
  impl(inputs: ConcreteTensor[], params: P, backend: Backend): ConcreteTensor;
  /**
   * The tangent of the output given input tangents (`null` is a symbolic zero; at least one is
   * non-null). `out` is the already computed primal output. Return `null` for a zero tangent.
   * Omitted for primitives with no derivative (comparisons, sign, stopGradient).
   */
  jvp?(primals: Tensor[], tangents: (Tensor | null)[], params: P, out: Tensor): Tensor | null;
  /**
   * Optional: the primal output and its tangent computed together, when one pass over the data
   * can serve both (a matrix product with a constant operand reads that operand once for the
   * primal and the tangent). Returns `null` to fall back to `bind` + `jvp`. Must agree with them.
   */
  jvpJoint?(primals: Tensor[], tangents: (Tensor | null)[], params: P): [Tensor, Tensor] | null;
  /**
   * The input cotangents given the output cotangent (`null` where an input gets none).
   * `active[i]` says whether input i needs a cotangent at all, so a rule may skip work for
   * constants. Omitted for primitives with no derivative.
   */
  vjp?(ct: Tensor, primals: Tensor[], params: P, out: Tensor, active?: readonly boolean[]): (Tensor | null)[];
  /**
   * The batched primitive: `args[i]` carries the batch on axis 0 when `dims[i]` is 0 and has none
   * when it is `null` (at least one is batched). The result carries the batch on axis 0.
   */
  batch(args: Tensor[], dims: (0 | null)[], params: P, batchSize: number): Tensor;
}

/** A value tracked by one trace. */
export abstract class Tracer extends Tensor {
  constructor(
    /** The transformation (and so the level) this tracer belongs to. */
    readonly trace: Trace,
  ) {
    super();
  }
  /** The shape the traced function sees. */
  abstract override readonly shape: Shape;
}

/** One active transformation. Subclasses say how primitives are processed at this level. */
export abstract class Trace {
  /** The position on the stack, set when pushed. */
  level = -1;
  /** False once the transformation has returned; a tracer of a dead trace has escaped. */
  alive = true;
  /** A short name for error messages: 'jvp', 'vjp', 'vmap'. */
  abstract readonly kind: string;
  /** Wraps a value from a lower level as a tracer of this trace with no perturbation. */
  abstract pure(x: Tensor): Tracer;
  /** Applies `prim` to tracers of this trace; may return a lower-level value when nothing is tracked. */
  abstract process(prim: Primitive<any>, args: Tracer[], params: unknown): Tensor;
}

/** Moves a concrete tensor to `backend` if it lives on another one. */
function onBackend(x: ConcreteTensor, backend: Backend): ConcreteTensor {
  if (x.backend === backend) return x;
  return new ConcreteTensor(backend.fromFloat64(x.backend.toFloat64(x.storage, x.size)), x.shape, backend);
}

let debugNans = false;

/**
 * Turns NaN checking on or off (off by default: it reads every result back). When on, a primitive
 * that produces a NaN from inputs without one throws at once, naming the primitive and the shapes,
 * instead of letting the NaN travel silently into a loss or a gradient. Derivative rules are
 * primitives too, so a NaN born in a backward pass is caught at the rule that made it.
 *
 * @example
 * ```ts
 * setDebugNans(true);
 * log(tensor([-1]));          // throws: log produced NaN from inputs without NaN (shape [1])
 * setDebugNans(false);
 * ```
 */
export function setDebugNans(on: boolean): void {
  debugNans = on;
}

function hasNaN(t: ConcreteTensor): boolean {
  return t.toFloat64Array().some((v) => v !== v);
}

/**
 * Level 0: evaluation. Its arguments are concrete tensors (it never holds tracers); it moves them to
 * the current backend, lets the primitive compute there, and checks the result for new NaNs when
 * `setDebugNans` is on.
 */
class EvalTrace extends Trace {
  readonly kind = 'eval';
  pure(): Tracer {
    throw new Error('internal: the evaluation trace has no tracers');
  }
  process(prim: Primitive<any>, args: Tensor[], params: unknown): Tensor {
    const backend = getBackend();
    const inputs = args.map((a) => onBackend(a as ConcreteTensor, backend));
    const out = prim.impl(inputs, params, backend);
    if (debugNans && hasNaN(out) && !inputs.some(hasNaN)) {
      throw new Error(
        `${prim.name} produced NaN from inputs without NaN (input shapes ${inputs.map((i) => fmt(i.shape)).join(', ')}); ` +
          'setDebugNans(false) to disable this check',
      );
    }
    return out;
  }
}

const evalTrace = new EvalTrace();
evalTrace.level = 0;
const stack: Trace[] = [evalTrace];

/**
 * Runs `body` with `trace` pushed on the stack, popping it (and marking it dead) afterwards even on
 * error.
 */
export function withTrace<T>(trace: Trace, body: (trace: Trace) => T): T {
  trace.level = stack.length;
  stack.push(trace);
  try {
    return body(trace);
  } finally {
    stack.pop();
    trace.alive = false;
  }
}

function checkAlive(x: Tensor, prim: string): void {
  if (x instanceof ConcreteTensor && x.backend.isReleased?.(x.storage)) {
    throw new Error(
      `${prim}: a tensor of shape ${fmt(x.shape)} was used after tidy or dispose released it; ` +
        'return it from the tidy function (or do not dispose it) to keep it',
    );
  }
  if (x instanceof Tracer && (!x.trace.alive || stack[x.trace.level] !== x.trace)) {
    throw new Error(
      `${prim}: a ${x.trace.kind} tracer of shape ${fmt(x.shape)} was used after its transformation ` +
        'returned (it escaped, e.g. through a closure or a global); pass values in as arguments instead',
    );
  }
}

/**
 * Applies a primitive: checks shapes, finds the highest trace among the arguments, raises the others
 * to it and lets it process the primitive. With no tracer among the arguments the evaluation trace
 * (level 0) gets it and the backend computes it.
 */
export function bind<P>(prim: Primitive<P>, args: Tensor[], params: P): Tensor {
  const outShape = prim.shape(args.map((a) => a.shape), params);
  const trace = findTopTrace(args, prim.name);
  // Level 0 takes the arguments as they are: all are concrete, so there is nothing to raise.
  if (!trace) return evalTrace.process(prim, args, params);
  const tracers = args.map((a) => (a instanceof Tracer && a.trace === trace ? a : trace.pure(a)));
  const out = trace.process(prim, tracers, params);
  if (out.shape.length !== outShape.length || out.shape.some((d, i) => d !== outShape[i])) {
    throw new Error(
      `internal: ${prim.name} under ${trace.kind} produced shape ${fmt(out.shape)}, expected ${fmt(outShape)}`,
    );
  }
  return out;
}

/** The live trace of the highest level among `xs`, or null when all are concrete. */
export function findTopTrace(xs: readonly Tensor[], op = 'transformation'): Trace | null {
  let top: Trace | null = null;
  for (const x of xs) {
    checkAlive(x, op);
    if (x instanceof Tracer && (!top || x.trace.level > top.level)) top = x.trace;
  }
  return top;
}
