/**
 * Host-side index planning shared by the elementwise and layout kernels.
 *
 * A kernel thread only knows its flat output index. To find the input element it reads, it splits
 * that index into coordinates and takes a dot product with the input's strides. Doing this for the
 * raw shapes would cost one division per axis; instead the host first *collapses* the problem:
 * output axes of size 1 are dropped and neighbouring axes that every input walks contiguously are
 * merged. `[64, 32] + [64, 32]` becomes one axis, `[8, 1, 5] + [1, 4, 5]` stays three. The kernels
 * then handle up to {@link MAX_RANK} collapsed axes with the loop over axes unrolled in the
 * generated source ({@link stridedIndexSource}; a loop over a constant-sized array would need array
 * constants, which the GL backends handle poorly).
 *
 * @module
 */
import { broadcastShapes as broadcastShape, stridesOf } from '../src/base/shape.ts';

/** The most collapsed axes an index kernel supports. */
export const MAX_RANK = 6;

/** A collapsed iteration space: output dims (outer first) and one stride list per input. */
export interface IndexPlan {
  /** Output dims after collapsing, outer first, padded at the front with 1 to {@link MAX_RANK}. */
  dims: number[];
  /** For each input, its element stride along each collapsed axis (0 where it is broadcast). */
  strides: number[][];
  /** For each input, the flat index of its first element read (non-zero only for slices). */
  offsets: number[];
}


/**
 * Collapses an iteration over `outShape` in which input `j` is read at
 * `offsets[j] + Σ coord[i]·strides[j][i]`.
 *
 * @example
 * ```ts
 * collapse([4, 5], [[5, 1], [0, 1]], [0, 0]);
 * // dims [1,1,1,1,4,5]: the second input is broadcast along the first axis
 * ```
 */
export function collapse(
  outShape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
): IndexPlan {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let i = 0; i < outShape.length; i++) {
    const d = outShape[i]!;
    if (d === 1) continue; // a size-1 axis contributes coordinate 0 only
    const last = dims.length - 1;
    // Merge with the previous axis when every input steps through both as one contiguous run.
    if (last >= 0 && strides.every((s, j) => st[j]![last] === s[i]! * d)) {
      dims[last] = dims[last]! * d;
      strides.forEach((s, j) => (st[j]![last] = s[i]!));
      continue;
    }
    dims.push(d);
    strides.forEach((s, j) => st[j]!.push(s[i]!));
  }
  if (dims.length > MAX_RANK) {
    throw new RangeError(
      `index kernels support ${MAX_RANK} axes after collapsing; [${outShape.join(', ')}] needs ${dims.length}`,
    );
  }
  while (dims.length < MAX_RANK) {
    dims.unshift(1);
    st.forEach((s) => s.unshift(0));
  }
  return { dims, strides: st, offsets: [...offsets] };
}

/**
 * Numpy broadcasting: the output shape of several shapes, and each input's strides within it.
 *
 * @example
 * ```ts
 * broadcastShapes([[3, 1], [4]]); // { shape: [3, 4], strides: [[1, 0], [0, 1]] }
 * ```
 */
export function broadcastShapes(shapes: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const shape = broadcastShape('broadcast', ...shapes);
  const rank = shape.length;
  const strides = shapes.map((s) => {
    const own = stridesOf(s);
    return shape.map((_, o) => {
      const i = o - (rank - s.length);
      if (i < 0 || s[i] === 1) return 0;
      return own[i]!;
    });
  });
  return { shape, strides };
}

/**
 * The constants an index kernel reads: `D0..D5` (collapsed output dims), and per input `p` the
 * strides `<p>0..<p>5` and offset `<p>O`.
 *
 * @example
 * ```ts
 * planConstants(plan, ['A', 'B']); // { D0: 1, …, A5: 1, AO: 0, B5: 0, BO: 0, … }
 * ```
 */
export function planConstants(plan: IndexPlan, prefixes: readonly string[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (let i = 0; i < MAX_RANK; i++) c[`D${i}`] = plan.dims[i]!;
  prefixes.forEach((p, j) => {
    for (let i = 0; i < MAX_RANK; i++) c[`${p}${i}`] = plan.strides[j]![i]!;
    c[`${p}O`] = plan.offsets[j]!;
  });
  return c;
}

/**
 * Kernel statements that split the flat output index into the {@link MAX_RANK} collapsed
 * coordinates, innermost first, and accumulate each input's flat index from the constants of
 * {@link planConstants}: input `p` ends in the local `i<p>` (lower case: `ia`, `ib`).
 * floor((r + 0.5) / D) rather than floor(r / D): a GPU's float division may land a hair under an
 * exact integer quotient, and the half keeps it above.
 *
 * @example
 * ```ts
 * `function (x) {${stridedIndexSource(['A'])}\n  return x[ia];\n}`; // a strided gather
 * ```
 */
export function stridedIndexSource(prefixes: readonly string[]): string {
  const index = (p: string) => `i${p.toLowerCase()}`;
  const lines = ['let rI = this.thread.x + 0.0;', 'let qI = 0.0;', 'let cI = 0.0;'];
  for (const p of prefixes) lines.push(`let ${index(p)} = this.constants.${p}O + 0.0;`);
  for (let axis = MAX_RANK - 1; axis >= 1; axis--) {
    lines.push(`qI = Math.floor((rI + 0.5) / this.constants.D${axis});`, `cI = rI - qI * this.constants.D${axis};`);
    for (const p of prefixes) lines.push(`${index(p)} = ${index(p)} + cI * this.constants.${p}${axis};`);
    lines.push('rI = qI;');
  }
  for (const p of prefixes) lines.push(`${index(p)} = ${index(p)} + rI * this.constants.${p}0;`);
  return lines.map((l) => `\n  ${l}`).join('');
}

/** A short, stable text form of a plan for cache keys. */
export function planKey(plan: IndexPlan): string {
  return `${plan.dims.join('x')}/${plan.strides.map((s) => s.join(',')).join('/')}/${plan.offsets.join(',')}`;
}
