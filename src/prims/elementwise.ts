/**
 * Shared scaffolding for elementwise primitives. Elementwise primitives need equal input shapes
 * (broadcasting happens above, in `ops/`), and their batching rule is always the same: give every
 * unbatched argument the batch axis, then apply the primitive to the batched arrays.
 *
 * A unary elementwise function has a diagonal Jacobian, so its JVP and VJP are one and the same
 * map, `v ↦ f'(x) ⊙ v`. Each unary primitive therefore states a single `diag` rule.
 *
 * @module
 */
import type { BinaryOp, UnaryOp } from '../base/op-list.ts';
import { type Shape, fmt, shapesEqual } from '../base/shape.ts';
import { ConcreteTensor, Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import { broadcastTo } from './broadcast-to.ts';
import { full } from '../core/create.ts';

/** Gives an unbatched argument a leading batch axis of size `batchSize` (no copy when batched). */
export function withBatchAxis(x: Tensor, dim: 0 | null, batchSize: number): Tensor {
  return dim === 0 ? x : broadcastTo(x, [batchSize, ...x.shape]);
}

/** A constant with the shape of `like`, for use inside rules (a constant to every trace). */
export function fullLike(like: Tensor, value: number): Tensor {
  return full(like.shape, value);
}

/** Throws unless every shape equals the first, naming the primitive. */
export function sameShapes(name: string, shapes: Shape[]): Shape {
  const first = shapes[0]!;
  for (const s of shapes) {
    if (!shapesEqual(s, first)) {
      throw new Error(`${name}: operands must have equal shapes here, got ${shapes.map(fmt).join(' and ')}`);
    }
  }
  return first;
}

/**
 * Builds a unary elementwise primitive. `diag(v, x, out)` returns f'(x) ⊙ v, written with
 * primitives; omit it for a function with zero derivative (such as `sign`).
 */
export function unaryPrimitive(
  name: string,
  op: UnaryOp,
  diag?: (v: Tensor, x: Tensor, out: Tensor) => Tensor,
): Primitive<Record<string, never>> {
  const prim: Primitive<Record<string, never>> = {
    name,
    shape: (s) => s[0]!,
    impl([x], _p, be) {
      return new ConcreteTensor(be.unary(op, x!.storage, x!.size), x!.shape, be);
    },
    batch: ([x]) => bind(prim, [x!], {}),
  };
  if (diag) {
    prim.jvp = ([x], [t], _p, out) => diag(t!, x!, out);
    prim.vjp = (ct, [x], _p, out) => [diag(ct, x!, out)];
  }
  return prim;
}

/** The rules of a binary elementwise primitive: JVP (from input tangents) and VJP. */
export interface BinaryRules {
  jvp(a: Tensor, b: Tensor, ta: Tensor | null, tb: Tensor | null, out: Tensor): Tensor | null;
  vjp(ct: Tensor, a: Tensor, b: Tensor, out: Tensor, active: readonly boolean[]): (Tensor | null)[];
}

/** Builds a binary elementwise primitive on equal shapes; omit `rules` for a comparison. */
export function binaryPrimitive(name: string, op: BinaryOp, rules?: BinaryRules): Primitive<Record<string, never>> {
  const prim: Primitive<Record<string, never>> = {
    name,
    shape: (s) => sameShapes(name, s),
    impl([a, b], _p, be) {
      return new ConcreteTensor(be.binary(op, a!.storage, b!.storage, a!.size), a!.shape, be);
    },
    batch: ([a, b], [da, db], _p, n) => bind(prim, [withBatchAxis(a!, da!, n), withBatchAxis(b!, db!, n)], {}),
  };
  if (rules) {
    prim.jvp = ([a, b], [ta, tb], _p, out) => rules.jvp(a!, b!, ta!, tb!, out);
    prim.vjp = (ct, [a, b], _p, out, active = [true, true]) => rules.vjp(ct, a!, b!, out, active);
  }
  return prim;
}
