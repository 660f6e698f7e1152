/**
 * Fused kernels for the sample-weighting methods: the per-sample-gradient Gram matrix of dense
 * layers, scoring many per-sample gradients against one vector, and the logistic-regression
 * Hessian-vector product.
 *
 * @module
 */
import type { KernelContext, KernelInput, KernelValue, MaybePromise } from './context.ts';
import { andThen } from './context.ts';
import type { KernelThis } from './types.ts';
import { matmul, stridedDotSource } from './matmul.ts';

function gramBody(this: KernelThis, z: Float32Array, g: Float32Array, zOff: Float32Array, gOff: Float32Array): number {
  // z is [m, P] (all layers' features side by side), g is [m, Q]; layer l owns columns
  // zOff[l] .. zOff[l+1] of z and gOff[l] .. gOff[l+1] of g. Loops run to the widest layer
  // (a constant) and break at the layer's own width, which gpu.js needs for a bounded loop.
  const a = Math.floor((this.thread.x + 0.5) / this.constants.M);
  const b = this.thread.x - a * this.constants.M;
  const za = a * this.constants.P;
  const zb = b * this.constants.P;
  const ga = a * this.constants.Q;
  const gb = b * this.constants.Q;
  let acc = 0.0;
  for (let l = 0; l < this.constants.L; l++) {
    const z0 = zOff[l]!;
    const zn = zOff[l + 1]! - z0;
    const g0 = gOff[l]!;
    const gn = gOff[l + 1]! - g0;
    let dz = 0.0;
    for (let t = 0; t < this.constants.MAXP; t++) {
      if (t >= zn) break;
      dz = dz + z[za + z0 + t]! * z[zb + z0 + t]!;
    }
    let dg = 0.0;
    for (let t = 0; t < this.constants.MAXQ; t++) {
      if (t >= gn) break;
      dg = dg + g[ga + g0 + t]! * g[gb + g0 + t]!;
    }
    acc = acc + dz * dg;
  }
  return acc;
}

/** Reads each layer to the host and lays the layers side by side: [m, Σ widths]. */
function sideBySide(
  ctx: KernelContext,
  mats: readonly KernelInput[],
  m: number,
  widths: readonly number[],
): MaybePromise<{ flat: Float32Array; offsets: Float32Array }> {
  const total = widths.reduce((s, w) => s + w, 0);
  const flat = new Float32Array(m * total);
  const offsets = new Float32Array(widths.length + 1);
  for (let l = 0; l < widths.length; l++) offsets[l + 1] = offsets[l]! + widths[l]!;
  const place = (l: number): MaybePromise<{ flat: Float32Array; offsets: Float32Array }> => {
    if (l === mats.length) return { flat, offsets };
    const w = widths[l]!;
    const col = offsets[l]!;
    return andThen(ctx.read(mats[l]!, m * w), (host) => {
      for (let r = 0; r < m; r++) flat.set(host.subarray(r * w, r * w + w), r * total + col);
      return place(l + 1);
    });
  };
  return place(0);
}

/**
 * The per-sample-gradient Gram matrix of a stack of dense layers,
 * K[a, b] = Σ_l (Z_l[a] · Z_l[b]) (G_l[a] · G_l[b]) = Σ_l ((Z_l Z_lᵀ) ⊙ (G_l G_lᵀ))[a, b],
 * where Z_l [m, p_l] holds each sample's input to layer l and G_l [m, q_l] the loss gradient with
 * respect to that layer's output. For a dense layer the per-sample weight gradient is the outer
 * product G_l[a] Z_l[a]ᵀ, and ⟨u vᵀ, x yᵀ⟩ = (u·x)(v·y): K is the Gram matrix of the per-sample
 * gradients without ever forming them (m²·Σ(p+q) work instead of m²·Σ p·q). Layers are laid side
 * by side on the host (device inputs are read back first); the result is [m, m].
 *
 * @example
 * ```ts
 * // one layer, two samples: Z = [[1, 0], [1, 1]], G = [[2], [3]]
 * await gram(ctx, [new Float32Array([1, 0, 1, 1])], [new Float32Array([2, 3])], 2, [2], [1]);
 * // Float32Array [4, 6, 6, 18]
 * ```
 */
export function gram(
  ctx: KernelContext,
  zs: readonly KernelInput[],
  gs: readonly KernelInput[],
  m: number,
  ps: readonly number[],
  qs: readonly number[],
): MaybePromise<KernelValue> {
  const layers = zs.length;
  if (layers === 0 || gs.length !== layers || ps.length !== layers || qs.length !== layers) {
    throw new RangeError('gram: need matching, non-empty lists of Z, G and their widths');
  }
  return andThen(sideBySide(ctx, zs, m, ps), (z) =>
    andThen(sideBySide(ctx, gs, m, qs), (g) => {
      const p = z.offsets[layers]!;
      const q = g.offsets[layers]!;
      const maxP = Math.max(...ps);
      const maxQ = Math.max(...qs);
      const kern = ctx.kernel(`gram:${m}:${ps.join(',')}:${qs.join(',')}`, () => ({
        source: gramBody,
        size: m * m,
        constants: { M: m, P: Math.max(p, 1), Q: Math.max(q, 1), L: layers, MAXP: maxP, MAXQ: maxQ },
        maxLoop: Math.max(maxP, maxQ, layers),
      }));
      // Zero-width layers contribute 0; the GL backends still need non-empty arrays to bind.
      const nonEmpty = (x: Float32Array) => (x.length > 0 ? x : new Float32Array(1));
      return ctx.call(kern, [nonEmpty(z.flat), nonEmpty(g.flat), z.offsets, g.offsets]);
    }),
  );
}

/**
 * The logistic HVP's first pass, w = D ⊙ (X v): row i of X [n, d] against v, scaled by D[i]. The
 * scaling is the only thing it adds to a matrix–vector product, so it shares its loop
 * ({@link stridedDotSource}) and runs with AI = d, AK = BK = 1.
 */
const SCALED_ROW_DOT_SOURCE = stridedDotSource('let pa = this.thread.x * this.constants.AI;\n  let pb = 0.0;', {
  args: ['a', 'b', 'scale'],
  result: 'scale[this.thread.x] * s',
});

/**
 * Scores n per-sample gradients G [n, d] against one vector v [d]: s = G v. This is the inner
 * loop of influence scoring (v = H⁻¹ ∇ℓ(z_test)) and of L2RW's first-order weights. It is exactly
 * a matrix–vector product, so it runs the matmul kernels (on `webasm`, the one whose vector loads
 * are uniform).
 *
 * @example
 * ```ts
 * await score(ctx, new Float32Array([1, 2, 3, 4]), new Float32Array([1, -1]), 2, 2); // [-1, -1]
 * ```
 */
export function score(ctx: KernelContext, g: KernelInput, v: KernelInput, n: number, d: number): MaybePromise<KernelValue> {
  if (d < 1) throw new RangeError('score: d must be at least 1');
  return matmul(ctx, g, v, { m: n, k: d, n: 1 });
}

/**
 * The logistic-regression Hessian-vector product Xᵀ(D ⊙ (X v)) for X [n, d], D [n], v [d]
 * (D = σ(xᵢ·θ)(1 − σ(xᵢ·θ)), possibly divided by n; the caller adds any regulariser). Two passes:
 * w = D ⊙ (X v) with the scaling fused into the row dot products, then Xᵀ w by the matmul kernels.
 * On the GPU modes w stays on the device between them and is released as soon as the second pass
 * has consumed it.
 *
 * @example
 * ```ts
 * // X = I₂, D = [2, 3], v = [1, 1]  →  [2, 3]
 * await logisticHvp(ctx, new Float32Array([1, 0, 0, 1]), new Float32Array([2, 3]), new Float32Array([1, 1]), 2, 2);
 * ```
 */
export function logisticHvp(
  ctx: KernelContext,
  x: KernelInput,
  dw: KernelInput,
  v: KernelInput,
  n: number,
  d: number,
): MaybePromise<KernelValue> {
  if (n < 1 || d < 1) throw new RangeError('logisticHvp: n and d must be at least 1');
  const first = ctx.kernel(`hvp1:${n}x${d}`, () => ({
    source: SCALED_ROW_DOT_SOURCE,
    size: n,
    constants: { AI: d, AK: 1, BK: 1, K4: Math.floor(d / 4), KR: d % 4 },
    maxLoop: Math.ceil(d / 4),
    pipeline: true,
  }));
  return andThen(ctx.call(first, [x, v, dw]), (w) => {
    let out: MaybePromise<KernelValue>;
    try {
      out = matmul(ctx, x, w, { m: d, k: n, n: 1, transA: true }); // Xᵀ w
    } catch (e) {
      ctx.release(w);
      throw e;
    }
    // Free w once the second pass has it (after the Promise settles on webgpu).
    if (out instanceof Promise) return out.finally(() => ctx.release(w));
    ctx.release(w);
    return out;
  });
}
