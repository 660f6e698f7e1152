/**
 * Shapes, strides and broadcasting: the bookkeeping every layer above the backend shares.
 *
 * A shape is a list of non-negative integers; `[]` is a scalar. Storage is always dense and
 * row-major, so strides are derived from the shape and never stored.
 *
 * @module
 */

/** A tensor shape. `[]` is a scalar. */
export type Shape = readonly number[];

/** Formats a shape the way error messages quote it: `[2, 3]`. */
export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** The number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Whether two shapes are identical. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Throws unless `shape` is a list of non-negative integers. */
export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape ${fmt(shape)}: dimensions must be non-negative integers`);
    }
  }
}

/**
 * The numpy broadcast of several shapes, or an error that names the operation and every shape.
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) out[j] = d;
      else {
        throw new Error(
          `${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together ` +
            `(axis ${j - rank} has sizes ${out[j]} and ${d})`,
        );
      }
    }
  }
  return out;
}

/**
 * Resolves possibly negative axes against a rank, sorted and distinct, with errors that name the
 * operation. `undefined` means every axis.
 */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axes !== 'number' && !Array.isArray(axes)) {
    // JavaScript callers can pass anything; `[...axes]` would say "axes is not iterable".
    throw new Error(`${op}: an axis must be an integer or a list of integers, got ${JSON.stringify(axes) ?? String(axes)}`);
  }
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new Error(`${op}: axis ${a} is out of range for a tensor of rank ${rank}`);
    }
    const n = a < 0 ? a + rank : a;
    if (out.has(n)) throw new Error(`${op}: axis ${a} is repeated in ${JSON.stringify(list)}`);
    out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

/** Resolves one possibly negative axis. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  return normalizeAxes(op, axis, rank)[0]!;
}
