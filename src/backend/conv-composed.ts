/**
 * `Backend.conv` composed from backend ops: the definition of the convolution primitives
 * (`src/prims/conv.ts`) for backends without a direct path (the reference oracle, gpu.js), and the
 * fallback of the fast CPU path.
 * @module
 */
import { type Backend, type ConvOp, type ConvPlan, type Storage, convPaddedPlane } from './backend.ts';

type Shape = readonly number[];

/**
 * The per-problem shapes of the images x, kernels k and output gradients g.
 *
 * @example
 * ```ts
 * convOperandShapes({ c: 1, o: 16, h: 28, w: 28, kh: 5, kw: 5, sh: 1, sw: 1, top: 2, left: 2, ho: 28, wo: 28 }, 100).g; // [100, 16, 28, 28]
 * ```
 */
export function convOperandShapes(plan: ConvPlan, n: number): { x: Shape; k: Shape; g: Shape } {
  const { c, o, h, w, kh, kw, ho, wo } = plan;
  return { x: [n, c, h, w], k: [o, c, kh, kw], g: [n, o, ho, wo] };
}

/** [first operand, second operand, output] roles of each op: `forward` takes (x, k) to g, and so on. */
export const CONV_ROLES: Record<ConvOp, ['x' | 'g', 'k' | 'g', 'x' | 'k' | 'g']> = {
  forward: ['x', 'k', 'g'],
  inputGrad: ['g', 'k', 'x'],
  kernelGrad: ['x', 'g', 'k'],
};

/** Flat indices into the padded [hp, wp] plane of every window's entries, row-major (i, j, a, b). */
function windowIndices(plan: ConvPlan, wp: number): Float64Array {
  const { kh, kw, sh, sw, ho, wo } = plan;
  const idx = new Float64Array(ho * wo * kh * kw);
  let q = 0;
  for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) idx[q++] = (i * sh + a) * wp + j * sw + b;
  return idx;
}

/**
 * `Backend.conv` composed from backend ops, for backends without it (and the definition the
 * direct CPU path is tested against): pad, gather the windows with `take` into the transposed
 * im2col matrix R [c·kh·kw, n·ho·wo], then y = K·R (forward), R̄ = Kᵀ·G scattered back with
 * `scatterAdd` and cropped (inputGrad), or K̄ = G·Rᵀ (kernelGrad), G being g as [o, n·ho·wo];
 * a forward bias is broadcast and added.
 *
 * @example
 * ```ts
 * const plan = { c: 1, o: 1, h: 2, w: 2, kh: 2, kw: 2, sh: 1, sw: 1, top: 0, left: 0, ho: 1, wo: 1 };
 * convComposed(cpuBackend, 'forward', Float64Array.of(1, 2, 3, 4), Float64Array.of(1, 1, 1, 1), 1, 1, plan); // Float64Array [10]
 * ```
 */
export function convComposed(be: Backend, op: ConvOp, a: Storage, b: Storage, groups: number, n: number, plan: ConvPlan, bias?: Storage): Storage {
  const { c, o, h, w, kh, kw, top, left, ho, wo } = plan;
  const sizes = convOperandShapes(plan, n);
  const [ra, rb, rout] = CONV_ROLES[op];
  if (groups > 1) {
    // One problem at a time, joined along the group axis.
    const one = (s: Storage, shape: Shape, q: number) => be.slice(s, [groups, ...shape], [q, ...shape.map(() => 0)], [1, ...shape]);
    const outs = Array.from({ length: groups }, (_, q) => convComposed(be, op, one(a, sizes[ra], q), one(b, sizes[rb], q), 1, n, plan, bias && one(bias, [o], q)));
    return be.concat(outs, outs.map(() => [1, ...sizes[rout]]), 0);
  }
  const [hp, wp, bottom, right] = convPaddedPlane(plan);
  const kk = kh * kw, ck = c * kk, px = ho * wo;
  const idx = windowIndices(plan, wp);
  // R as [c, kh·kw, n, ho·wo] = [c·kh·kw, n·ho·wo].
  const cols = (x: Storage) => {
    const xp = be.pad(x, [n, c, h, w], [0, 0, top, left], [0, 0, bottom, right]);
    return be.transpose(be.take(xp, [n, c, hp * wp], idx, 2), [n, c, px, kk], [1, 3, 0, 2]);
  };
  const gAsMatrix = (g: Storage) => be.transpose(g, [n, o, px], [1, 0, 2]); // [o, n·ho·wo]
  switch (op) {
    case 'forward': {
      const y = be.transpose(be.matmul(b, cols(a), 1, o, ck, n * px, false, false), [o, n, px], [1, 0, 2]);
      return bias ? be.binary('add', y, be.broadcast(bias, [1, o, 1], [n, o, px]), n * o * px) : y;
    }
    case 'kernelGrad':
      return be.matmul(gAsMatrix(b), cols(a), 1, o, n * px, ck, false, true);
    case 'inputGrad': {
      const rbar = be.matmul(b, gAsMatrix(a), 1, ck, o, n * px, true, false); // [c, kk, n, px]
      const back = be.scatterAdd(be.transpose(rbar, [c, kk, n, px], [2, 0, 3, 1]), [n, c, px * kk], idx, 2, hp * wp);
      return be.slice(back, [n, c, hp, wp], [0, 0, top, left], [n, c, h, w]);
    }
  }
}
