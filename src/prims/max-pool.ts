/**
 * Max pooling's selection as two primitives, each the other's transpose, over the last two axes
 * of equal-shaped x and t (`[..., h, w]`) with the windows of a `WindowPlan`. For each window let
 * S(x) be the positions where x attains the window's maximum (ties split equally, as `reduceMax`
 * does and JAX; a window holding NaN selects all of it):
 *
 *   windowMaxGather(x, t)[window] = mean of t over S(x)                  → [..., ho, wo]
 *   windowMaxScatter(x, g)[p]     = Σ over windows W with p ∈ S_W of g_W / |S_W|   → [..., h, w]
 *
 * Max pooling is `windowMaxGather(x, x)`. S(x) is piecewise constant in x, so both are linear in
 * their second argument with a zero derivative in x (exact away from ties, as for comparisons):
 * the JVP of each is itself on the tangent, the VJP of the gather is the scatter and vice versa,
 * so a max-pooling network differentiates to any order. One pass over the input replaces the
 * composite's window gather (2.25× the input for 3 × 3 windows at stride 2), reduction, and the
 * seven passes of `reduceMax`'s rule over that window array (bench/README.md has the figures).
 *
 * Backends with `windowMax` (the CPU ones) run a direct loop; elsewhere (gpu.js) the same
 * selection is composed from `take`, `reduce` and elementwise backend ops.
 * @module
 */
import { ConcreteTensor, type Tensor } from '../core/tensor.ts';
import { type Primitive, bind } from '../core/trace.ts';
import type { Backend, Storage, WindowPlan } from '../backend/backend.ts';
import { type Shape, fmt, shapesEqual } from '../base/shape.ts';
import { withBatchAxis } from './elementwise.ts';

export type { WindowPlan };

function checkPlan(name: string, s: Shape, win: WindowPlan): [number, number] {
  if (s.length < 2) throw new Error(`${name}: x needs at least two axes (…, H, W), got ${fmt(s)}`);
  const [h, w] = s.slice(-2) as [number, number];
  const { kh, kw, sh, sw, top, left, ho, wo } = win;
  // Every window must hold at least one real entry (the caller's validation; checked again here).
  if ((ho - 1) * sh - top >= h || (wo - 1) * sw - left >= w || top >= kh || left >= kw) {
    throw new Error(`${name}: windows ${kh}×${kw} at strides ${sh}, ${sw}, padding ${top}, ${left}, output ${ho}×${wo} do not fit a ${h}×${w} plane`);
  }
  return [h, w];
}

/** Flat indices of each window's entries in a plane with one sentinel appended (index h·w for padding). */
function windowIndices(h: number, w: number, win: WindowPlan): Float64Array {
  const { kh, kw, sh, sw, top, left, ho, wo } = win;
  const idx = new Float64Array(ho * wo * kh * kw);
  let q = 0;
  for (let i = 0; i < ho; i++) {
    for (let j = 0; j < wo; j++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const r = i * sh - top + a, c = j * sw - left + b;
          idx[q++] = r >= 0 && r < h && c >= 0 && c < w ? r * w + c : h * w;
        }
      }
    }
  }
  return idx;
}

/**
 * The selection composed from backend ops, for backends without `windowMax`: gather each window
 * of x (−∞ in the padding) and of t, mask = (x = window max), weights = mask / Σ mask, then the
 * weighted sum (gather) or the weighted, scattered cotangent (scatter). Exported for the test that
 * holds the CPU backend's direct loop to it.
 *
 * @example
 * ```ts
 * const win = { kh: 2, kw: 2, sh: 2, sw: 2, top: 0, left: 0, ho: 1, wo: 1 };
 * const x = Float64Array.from([1, 3, 3, 2]);
 * windowMaxComposed(cpuBackend, 'gather', x, x, 1, 2, 2, win); // Float64Array [3]
 * ```
 */
export function windowMaxComposed(be: Backend, op: 'gather' | 'scatter', x: Storage, t: Storage, planes: number, h: number, w: number, win: WindowPlan): Storage {
  const hw = h * w, windows = win.ho * win.wo, kk = win.kh * win.kw;
  const idx = windowIndices(h, w, win);
  const withSentinel = (s: Storage, v: number) => be.concat([s, be.fill(planes, v)], [[planes, hw], [planes, 1]], 1);
  const xw = be.take(withSentinel(x, -Infinity), [planes, hw + 1], idx, 1); // [planes, windows·kk]
  const full = [planes, windows, kk];
  const max = be.reduce('max', xw, full, [2]);
  const mask = be.binary('equal', xw, be.broadcast(max, [planes, windows, 1], full), planes * windows * kk);
  const count = be.reduce('sum', mask, full, [2]);
  if (op === 'gather') {
    const tw = be.take(withSentinel(t, 0), [planes, hw + 1], idx, 1);
    const s = be.reduce('sum', be.binary('mul', tw, mask, planes * windows * kk), full, [2]);
    return be.binary('div', s, count, planes * windows);
  }
  const share = be.binary('div', t, count, planes * windows);
  const spread = be.binary('mul', be.broadcast(share, [planes, windows, 1], full), mask, planes * windows * kk);
  const back = be.scatterAdd(spread, [planes, windows * kk], idx, 1, hw + 1);
  return be.slice(back, [planes, hw + 1], [0, 0], [planes, hw]);
}

function run(be: Backend, op: 'gather' | 'scatter', x: ConcreteTensor, t: ConcreteTensor, win: WindowPlan): Storage {
  const [h, w] = x.shape.slice(-2) as [number, number];
  const planes = x.size / (h * w);
  return be.windowMax
    ? be.windowMax(op, x.storage, t.storage, planes, h, w, win)
    : windowMaxComposed(be, op, x.storage, t.storage, planes, h, w, win);
}

export const windowMaxGatherP: Primitive<WindowPlan> = {
  name: 'windowMaxGather',
  shape([sx, st], win) {
    checkPlan('windowMaxGather', sx!, win);
    if (!shapesEqual(sx!, st!)) throw new Error(`windowMaxGather: x and t must have equal shapes, got ${fmt(sx!)} and ${fmt(st!)}`);
    return [...sx!.slice(0, -2), win.ho, win.wo];
  },
  impl([x, t], win, be) {
    return new ConcreteTensor(run(be, 'gather', x!, t!, win), [...x!.shape.slice(0, -2), win.ho, win.wo], be);
  },
  jvp: ([x], [, tt], win) => (tt ? windowMaxGather(x!, tt, win) : null),
  vjp: (ct, [x], win, _out, active = [false, true]) => [null, active[1] ? windowMaxScatter(x!, ct, win) : null],
  batch: ([x, t], [dx, dt], win, n) => windowMaxGather(withBatchAxis(x!, dx!, n), withBatchAxis(t!, dt!, n), win),
};

export const windowMaxScatterP: Primitive<WindowPlan> = {
  name: 'windowMaxScatter',
  shape([sx, sg], win) {
    checkPlan('windowMaxScatter', sx!, win);
    const want = [...sx!.slice(0, -2), win.ho, win.wo];
    if (!shapesEqual(sg!, want)) throw new Error(`windowMaxScatter: g must have shape ${fmt(want)} for x ${fmt(sx!)}, got ${fmt(sg!)}`);
    return sx!;
  },
  impl([x, g], win, be) {
    return new ConcreteTensor(run(be, 'scatter', x!, g!, win), x!.shape, be);
  },
  jvp: ([x], [, tg], win) => (tg ? windowMaxScatter(x!, tg, win) : null),
  vjp: (ct, [x], win, _out, active = [false, true]) => [null, active[1] ? windowMaxGather(x!, ct, win) : null],
  batch: ([x, g], [dx, dg], win, n) => windowMaxScatter(withBatchAxis(x!, dx!, n), withBatchAxis(g!, dg!, n), win),
};

/** The mean of t over each window's maximising positions of x (primitive binder). */
export const windowMaxGather = (x: Tensor, t: Tensor, win: WindowPlan): Tensor => bind(windowMaxGatherP, [x, t], { ...win });
/** The transpose of {@link windowMaxGather} in its second argument (primitive binder). */
export const windowMaxScatter = (x: Tensor, g: Tensor, win: WindowPlan): Tensor => bind(windowMaxScatterP, [x, g], { ...win });
