/**
 * 2-D convolution as three primitives, channels first, each bilinear and each one's transposes
 * the other two (the closed family JAX's `conv_general_dilated` rules also form):
 *
 *   conv(x, k)[n, o, i, j]         = Σ_{c,a,b} x[n, c, i·sh − top + a, j·sw − left + b] · k[o, c, a, b]
 *   convInputGrad(g, k)[n, c, r, s] = Σ_{o,i,j,a,b : i·sh−top+a = r, j·sw−left+b = s} g[n, o, i, j] · k[o, c, a, b]
 *   convKernelGrad(x, g)[o, c, a, b] = Σ_{n,i,j} g[n, o, i, j] · x[n, c, i·sh − top + a, j·sw − left + b]
 *
 * (positions outside the plane read as zero: that is the padding). With ⟨·,·⟩ the sum of products,
 * ⟨conv(x, k), g⟩ = ⟨x, convInputGrad(g, k)⟩ = ⟨k, convKernelGrad(x, g)⟩, one triple sum read three
 * ways, so every VJP below is another member of the family and every JVP is the product rule: the
 * family differentiates to any order (proofs/conv.md §6).
 *
 * It is a primitive for speed, not for its rules: the composite it replaces (pad → channels-last
 * transpose → `take` (im2col) → `gemm` → transpose back) materialised the im2col matrix (kh·kw
 * copies of the input), packed it again for the GEMM kernel, and transposed on the way in and
 * out. A backend with `conv` (the default CPU one) packs the windows straight into the kernel's
 * panels; elsewhere (the reference oracle, gpu.js) {@link convComposed} runs that composite on
 * backend ops, so the definition stays the one the earlier composite was tested for.
 *
 * Batching: a vmapped image batch with shared kernels folds into n (one larger product); anything
 * else (per-example kernels, or both operands of `convKernelGrad` batched, as in per-example
 * gradients) stacks independent problems in front (`grouped`), each with its own operands.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import type { ConvOp, ConvPlan } from '../backend/backend.ts';
import { CONV_ROLES, convComposed, convOperandShapes } from '../backend/conv-composed.ts';
import { type Shape, fmt, shapesEqual } from '../base/shape.ts';
import { add } from './add.ts';
import { reshape } from './reshape.ts';
import { broadcastTo } from './broadcast-to.ts';
import { reduceSum } from './reduce-sum.ts';
import { withBatchAxis } from './elementwise.ts';

export type { ConvOp, ConvPlan };

/** Parameters of the three convolution primitives. */
export interface ConvParams {
  /** The geometry. */
  plan: ConvPlan;
  /** Whether every operand carries a leading axis of independent problems (from `vmap`). */
  grouped: boolean;
}

const NAMES: Record<ConvOp, string> = { forward: 'conv', inputGrad: 'convInputGrad', kernelGrad: 'convKernelGrad' };

function checkPlan(name: string, plan: ConvPlan): void {
  const { c, o, h, w, kh, kw, sh, sw, top, left, ho, wo } = plan;
  const positive = [c, o, h, w, kh, kw, sh, sw, ho, wo].every((v) => Number.isInteger(v) && v >= 1);
  if (!positive || !Number.isInteger(top) || !Number.isInteger(left) || top < 0 || left < 0) {
    throw new Error(`${name}: bad plan ${JSON.stringify(plan)} (sizes and strides must be positive integers, padding ≥ 0)`);
  }
}

/** Validates the input shapes (and conv's optional bias); returns [groups, n, output shape]. */
function shapeOf(op: ConvOp, [sa, sb, sc]: Shape[], { plan, grouped }: ConvParams): [number, number, Shape] {
  const name = NAMES[op];
  checkPlan(name, plan);
  const lead = grouped ? 1 : 0;
  const groups = grouped ? sa![0]! : 1;
  const n = sa![lead]!; // x and g both lead with the image axis
  const want = convOperandShapes(plan, n);
  const [ra, rb, rout] = CONV_ROLES[op];
  const full = (s: Shape) => (grouped ? [groups, ...s] : [...s]);
  if (sa!.length !== 4 + lead || !shapesEqual(sa!, full(want[ra])) || !shapesEqual(sb!, full(want[rb]))) {
    throw new Error(`${name}: operands ${fmt(sa!)} and ${fmt(sb!)} do not fit the plan ${JSON.stringify(plan)}${grouped ? ' (grouped)' : ''}: want ${fmt(full(want[ra]))} and ${fmt(full(want[rb]))}`);
  }
  if (sc && (op !== 'forward' || !shapesEqual(sc, full([plan.o])))) {
    throw new Error(`${name}: a bias must have shape ${fmt(full([plan.o]))} (one per output channel) and only conv takes one, got ${fmt(sc)}`);
  }
  return [groups, n, full(want[rout])];
}

function bindConv(op: ConvOp, a: Tensor, b: Tensor, params: ConvParams, bias?: Tensor | null): Tensor {
  return bind(PRIMS[op], bias ? [a, b, bias] : [a, b], { plan: { ...params.plan }, grouped: params.grouped });
}

/** A bias [o] (grouped: [G, o]) spread over conv's output shape. */
function spreadBias(bias: Tensor, shape: Shape, grouped: boolean): Tensor {
  const o = bias.shape[bias.ndim - 1]!;
  return broadcastTo(reshape(bias, grouped ? [bias.shape[0]!, 1, o, 1, 1] : [1, o, 1, 1]), shape);
}

/** The vmap rule shared by the three (module notes); conv's bias travels with the kernels. */
function batchRule(op: ConvOp, [a, b, c]: Tensor[], [da, db, dc]: (0 | null)[], params: ConvParams, size: number): Tensor {
  if (!params.grouped && op !== 'kernelGrad' && db === null && (dc ?? null) === null) {
    // Shared kernels (and bias): the vmapped axis joins the image axis n.
    const s = a!.shape;
    const out = bindConv(op, reshape(a!, [s[0]! * s[1]!, ...s.slice(2)]), b!, params, c);
    return reshape(out, [size, s[1]!, ...out.shape.slice(1)]);
  }
  const ab = withBatchAxis(a!, da!, size), bb = withBatchAxis(b!, db!, size);
  const cb = c ? withBatchAxis(c, dc!, size) : null;
  if (!params.grouped) return bindConv(op, ab, bb, { ...params, grouped: true }, cb);
  const g = ab.shape[1]!;
  const merge = (t: Tensor) => reshape(t, [size * g, ...t.shape.slice(2)]);
  const out = bindConv(op, merge(ab), merge(bb), params, cb && merge(cb));
  return reshape(out, [size, g, ...out.shape.slice(1)]);
}

function makePrim(op: ConvOp): Primitive<ConvParams> {
  return {
    name: NAMES[op],
    shape: (shapes, p) => shapeOf(op, shapes, p)[2],
    impl([a, b, c], p, be) {
      const [groups, n, shape] = shapeOf(op, [a!.shape, b!.shape, ...(c ? [c.shape] : [])], p);
      const bias = c?.storage;
      const out = be.conv ? be.conv(op, a!.storage, b!.storage, groups, n, p.plan, bias) : convComposed(be, op, a!.storage, b!.storage, groups, n, p.plan, bias);
      return new ConcreteTensor(out, shape, be);
    },
    // Bilinear in (x, k), plus the bias: the product rule, the bias tangent riding with ẋ's term.
    jvp([a, b], [ta, tb, tc], p, out) {
      const l = ta ? bindConv(op, ta, b!, p, tc) : null;
      const r = tb ? bindConv(op, a!, tb, p) : null;
      const sum = l && r ? add(l, r) : (l ?? r);
      if (!tc || ta) return sum;
      const spread = spreadBias(tc, out.shape, p.grouped);
      return sum ? add(sum, spread) : spread;
    },
    vjp(ct, [a, b, c], p, _out, active = [true, true, true]) {
      // ⟨conv(x, k), g⟩ = ⟨x, convInputGrad(g, k)⟩ = ⟨k, convKernelGrad(x, g)⟩ (module notes).
      switch (op) {
        case 'forward': {
          const db = c && active[2] ? reduceSum(ct, p.grouped ? [1, 3, 4] : [0, 2, 3]) : null; // the bias: a sum over images and pixels
          const dx = active[0] ? bindConv('inputGrad', ct, b!, p) : null, dk = active[1] ? bindConv('kernelGrad', a!, ct, p) : null;
          return c ? [dx, dk, db] : [dx, dk];
        }
        case 'inputGrad':
          return [active[0] ? bindConv('forward', ct, b!, p) : null, active[1] ? bindConv('kernelGrad', ct, a!, p) : null];
        case 'kernelGrad':
          return [active[0] ? bindConv('inputGrad', b!, ct, p) : null, active[1] ? bindConv('forward', a!, ct, p) : null];
      }
    },
    batch: (args, dims, p, size) => batchRule(op, args, dims, p, size),
  };
}

/** conv(x, k): the cross-correlation (module notes). */
export const convP: Primitive<ConvParams> = makePrim('forward');
/** convInputGrad(g, k): conv's transpose in x. */
export const convInputGradP: Primitive<ConvParams> = makePrim('inputGrad');
/** convKernelGrad(x, g): conv's transpose in k. */
export const convKernelGradP: Primitive<ConvParams> = makePrim('kernelGrad');
const PRIMS: Record<ConvOp, Primitive<ConvParams>> = { forward: convP, inputGrad: convInputGradP, kernelGrad: convKernelGradP };

/**
 * Cross-correlation of x `[n, c, h, w]` with k `[o, c, kh, kw]` → `[n, o, ho, wo]`, plus an optional
 * bias `[o]` per output channel added in the same pass (primitive binder).
 */
export const conv = (x: Tensor, k: Tensor, plan: ConvPlan, bias?: Tensor): Tensor => bindConv('forward', x, k, { plan, grouped: false }, bias);
/** The transpose of {@link conv} in x: g `[n, o, ho, wo]`, k → `[n, c, h, w]` (primitive binder). */
export const convInputGrad = (g: Tensor, k: Tensor, plan: ConvPlan): Tensor => bindConv('inputGrad', g, k, { plan, grouped: false });
/** The transpose of {@link conv} in k: x, g → `[o, c, kh, kw]` (primitive binder). */
export const convKernelGrad = (x: Tensor, g: Tensor, plan: ConvPlan): Tensor => bindConv('kernelGrad', x, g, { plan, grouped: false });
