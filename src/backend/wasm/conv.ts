/**
 * `Backend.conv` on the WebAssembly GEMM: the three products of a convolution with the windows
 * packed straight into the kernel's panels (no im2col array, no layout transposes), channels first.
 * Per image, with R the transposed im2col matrix [c·kh·kw, ho·wo] (R[(c, a, b), (i, j)] = the
 * zero-padded x[c, i·sh + a, j·sw + b]) and K the kernels as [o, c·kh·kw]:
 *
 * - forward:    y[n] = K · R[n]            (A = K shared by every image, B = R[n] gathered into panels);
 * - inputGrad:  x̄[n] = col2im(Kᵀ · g[n])   (B = g[n] as stored, C scattered back into a padded plane, cropped);
 * - kernelGrad: K̄ = Σₙ g[n] · R[n]ᵀ        (one product whose inner axis runs over (image, pixel)).
 *
 * Images are padded once into a reused scratch plane so that the gather needs no bounds tests;
 * work is cut into chunks of images so the packed operands stay near {@link CHUNK_ENTRIES}.
 * Sums are the reference's sums in another order (the kernel's k order, then chunk by chunk):
 * equal to `convComposed` within a few ulps times the number of terms.
 *
 * @module
 */
import { allocateF64 } from '../f64-pool.ts';
import { type ConvOp, type ConvPlan, convPaddedPlane } from '../backend.ts';
import { wasmPackedProduct, type GemmThreading, type PackedLayout } from './gemm.ts';
import { packA, packB } from './packing.ts';

/** Most packed-operand entries one chunk of images may take (8 MB of float64): stays in L3. */
const CHUNK_ENTRIES = 1 << 20;

/** Reused scratch: padded images (forward, kernelGrad) or a padded gradient plane (inputGrad). */
let scratch = new Float64Array(0);
function scratchOf(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

/** Copies images [n0, n0 + nb) of x (at `xOff`, [n, c, h, w]) into zero-padded [nb, c, hp, wp] planes. */
function padImages(x: Float64Array, xOff: number, n0: number, nb: number, plan: ConvPlan, hp: number, wp: number): Float64Array {
  const { c, h, w, top, left } = plan;
  const planes = nb * c, hpwp = hp * wp;
  const xp = scratchOf(planes * hpwp);
  xp.fill(0, 0, planes * hpwp);
  const src0 = xOff + n0 * c * h * w;
  for (let q = 0; q < planes; q++) {
    for (let r = 0; r < h; r++) {
      const s = src0 + (q * h + r) * w, d = q * hpwp + (r + top) * wp + left;
      for (let t = 0; t < w; t++) xp[d + t] = x[s + t]!;
    }
  }
  return xp;
}

/**
 * Packs R of the padded image at `xb` in `xp` as the B operand at `dst`: panels of nr output
 * pixels, R[(c, a, b), (i, j)] = xp[xb + c·hp·wp + (i·sh + a)·wp + j·sw + b]. Per panel, the nr
 * pixels' offsets are fixed and each window entry (c, a, b) only shifts them, so the writes are
 * sequential and the inner step is nr loads at constant offsets from one base.
 */
function packWindows(xp: Float64Array, xb: number, plan: ConvPlan, hpwp: number, wp: number, l: PackedLayout, dst: number, off: Int32Array): void {
  const { H, nr } = l;
  const { c, kh, kw, sh, sw, ho, wo } = plan;
  const px = ho * wo;
  let d = dst;
  for (let j0 = 0; j0 < px; j0 += nr) {
    const cols = Math.min(nr, px - j0);
    for (let q = 0; q < cols; q++) {
      const i = Math.floor((j0 + q) / wo);
      off[q] = i * sh * wp + (j0 + q - i * wo) * sw;
    }
    // Past the last pixel, any in-plane offset will do: those columns only reach C's padding.
    for (let q = cols; q < nr; q++) off[q] = 0;
    if (nr === 6) {
      // The relaxed-SIMD kernel's width, unrolled: six offsets held in registers.
      const o0 = off[0]!, o1 = off[1]!, o2 = off[2]!, o3 = off[3]!, o4 = off[4]!, o5 = off[5]!;
      for (let ch = 0; ch < c; ch++) {
        for (let a = 0; a < kh; a++) {
          for (let b = 0, base = xb + ch * hpwp + a * wp; b < kw; b++, base++, d += 6) {
            H[d] = xp[base + o0]!; H[d + 1] = xp[base + o1]!; H[d + 2] = xp[base + o2]!;
            H[d + 3] = xp[base + o3]!; H[d + 4] = xp[base + o4]!; H[d + 5] = xp[base + o5]!;
          }
        }
      }
      continue;
    }
    for (let ch = 0; ch < c; ch++) {
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++, d += nr) {
          const base = xb + ch * hpwp + a * wp + b;
          for (let q = 0; q < nr; q++) H[d + q] = xp[base + off[q]!]!;
        }
      }
    }
  }
}

/** y (at yOff) = conv(x at xOff, k at kOff) (+ bias at bOff) for n images: one problem of a group. */
function forward(
  x: Float64Array, xOff: number, k: Float64Array, kOff: number, y: Float64Array, yOff: number,
  n: number, plan: ConvPlan, th: GemmThreading, bias?: Float64Array, bOff = 0,
): boolean {
  const { c, o, kh, kw, ho, wo } = plan;
  const [hp, wp] = convPaddedPlane(plan);
  const kk = kh * kw, ck = c * kk, px = ho * wo, hpwp = hp * wp;
  const perImage = ck * (Math.ceil(px / 6) * 6 + 2);
  const step = Math.max(1, Math.floor(CHUNK_ENTRIES / perImage));
  const off = new Int32Array(16);
  for (let n0 = 0; n0 < n; n0 += step) {
    const nb = Math.min(step, n - n0);
    const xp = padImages(x, xOff, n0, nb, plan, hp, wp);
    const l = wasmPackedProduct(nb, o, ck, px, true, (l) => {
      packA(k, kOff, o, ck, false, l.mr, l.H, l.aBase, l.staging);
      for (let q = 0; q < nb; q++) packWindows(xp, q * c * hpwp, plan, hpwp, wp, l, l.bBase + q * l.bSlice, off);
    }, th);
    if (!l) return false;
    const { H, cBase, cSlice, ldc } = l;
    for (let q = 0; q < nb; q++) {
      for (let r = 0; r < o; r++) {
        const s = cBase + q * cSlice + r * ldc, d = yOff + ((n0 + q) * o + r) * px;
        if (!bias) y.set(H.subarray(s, s + px), d);
        else {
          const bv = bias[bOff + r]!;
          for (let j = 0; j < px; j++) y[d + j] = H[s + j]! + bv;
        }
      }
    }
  }
  return true;
}

function inputGrad(g: Float64Array, k: Float64Array, dx: Float64Array, gq: number, n: number, plan: ConvPlan, th: GemmThreading): boolean {
  const { c, o, h, w, kh, kw, sh, sw, ho, wo, top, left } = plan;
  const [hp, wp] = convPaddedPlane(plan);
  const kk = kh * kw, ck = c * kk, px = ho * wo, hpwp = hp * wp;
  const perImage = (Math.ceil(ck / 3) * 3 + 2) * (Math.ceil(px / 6) * 6 + 2);
  const step = Math.max(1, Math.floor(CHUNK_ENTRIES / perImage));
  const gOff = gq * n * o * px, kOff = gq * o * ck, xOff = gq * n * c * h * w;
  const plane = scratchOf(c * hpwp);
  for (let n0 = 0; n0 < n; n0 += step) {
    const nb = Math.min(step, n - n0);
    const l = wasmPackedProduct(nb, ck, o, px, true, (l) => {
      packA(k, kOff, ck, o, true, l.mr, l.H, l.aBase, l.staging); // Kᵀ: K is stored [o, c·kh·kw]
      for (let q = 0; q < nb; q++) packB(g, gOff + (n0 + q) * o * px, o, px, false, l.nr, l.H, l.bBase + q * l.bSlice, l.staging);
    }, th);
    if (!l) return false;
    const { H, cBase, cSlice, ldc } = l;
    for (let q = 0; q < nb; q++) {
      // col2im: every window entry adds its value back where it was read from.
      plane.fill(0, 0, c * hpwp);
      let row = cBase + q * cSlice;
      for (let ch = 0; ch < c; ch++) {
        for (let a = 0; a < kh; a++) {
          for (let b = 0; b < kw; b++, row += ldc) {
            const d0 = ch * hpwp + a * wp + b;
            for (let i = 0; i < ho; i++) {
              const d = d0 + i * sh * wp, src = row + i * wo;
              for (let j = 0; j < wo; j++) plane[d + j * sw] += H[src + j]!;
            }
          }
        }
      }
      const d0 = xOff + (n0 + q) * c * h * w;
      for (let ch = 0; ch < c; ch++) {
        for (let r = 0; r < h; r++) {
          const s = ch * hpwp + (r + top) * wp + left, d = d0 + (ch * h + r) * w;
          for (let t = 0; t < w; t++) dx[d + t] = plane[s + t]!;
        }
      }
    }
  }
  return true;
}

function kernelGrad(x: Float64Array, g: Float64Array, dk: Float64Array, gq: number, n: number, plan: ConvPlan, th: GemmThreading): boolean {
  const { c, o, h, w, kh, kw, sh, sw, ho, wo } = plan;
  const [hp, wp] = convPaddedPlane(plan);
  const kk = kh * kw, ck = c * kk, px = ho * wo, hpwp = hp * wp;
  const perImage = px * (Math.ceil(ck / 6) * 6 + Math.ceil(o / 3) * 3 + 4);
  const step = Math.max(1, Math.floor(CHUNK_ENTRIES / perImage));
  const xOff = gq * n * c * h * w, gOff = gq * n * o * px, kOff = gq * o * ck;
  const off = new Int32Array(16);
  for (let n0 = 0; n0 < n; n0 += step) {
    const nb = Math.min(step, n - n0);
    const kd = nb * px; // the product's inner axis: (image, output pixel)
    const xp = padImages(x, xOff, n0, nb, plan, hp, wp);
    const l = wasmPackedProduct(1, o, kd, ck, false, (l) => {
      const { H, mr, nr } = l;
      // A[r, (q, j)] = g[n0 + q, r, j]: panels of mr kernels.
      for (let i0 = 0; i0 < o; i0 += mr) {
        const rows = Math.min(mr, o - i0);
        let d = l.aBase + i0 * kd;
        for (let q = 0; q < nb; q++) {
          const gb = gOff + ((n0 + q) * o + i0) * px;
          for (let j = 0; j < px; j++, d += mr) {
            for (let r = 0; r < rows; r++) H[d + r] = g[gb + r * px + j]!;
            for (let r = rows; r < mr; r++) H[d + r] = 0;
          }
        }
      }
      // B[(q, i, j), (c, a, b)] = R[q][(c, a, b), (i, j)]: panels of nr window entries. Within a
      // panel each entry is a fixed offset from the pixel's position, so the writes are sequential.
      for (let p0 = 0; p0 < ck; p0 += nr) {
        for (let t = 0; t < nr; t++) {
          const p = Math.min(p0 + t, ck - 1); // past ck: any in-plane value (C's padding columns)
          const ch = Math.floor(p / kk), a = Math.floor((p - ch * kk) / kw), b = p - ch * kk - a * kw;
          off[t] = ch * hpwp + a * wp + b;
        }
        let d = l.bBase + p0 * kd;
        const o0 = off[0]!, o1 = off[1]!, o2 = off[2]!, o3 = off[3]!, o4 = off[4]!, o5 = off[5]!;
        for (let q = 0; q < nb; q++) {
          for (let i = 0; i < ho; i++) {
            const row = q * c * hpwp + i * sh * wp;
            if (nr === 6) {
              // The relaxed-SIMD kernel's width, unrolled: six offsets held in registers.
              for (let j = 0, pix = row; j < wo; j++, pix += sw, d += 6) {
                H[d] = xp[pix + o0]!; H[d + 1] = xp[pix + o1]!; H[d + 2] = xp[pix + o2]!;
                H[d + 3] = xp[pix + o3]!; H[d + 4] = xp[pix + o4]!; H[d + 5] = xp[pix + o5]!;
              }
              continue;
            }
            for (let j = 0; j < wo; j++, d += nr) {
              const pix = row + j * sw;
              for (let t = 0; t < nr; t++) H[d + t] = xp[pix + off[t]!]!;
            }
          }
        }
      }
    }, th);
    if (!l) return false;
    const { H, cBase, ldc } = l;
    for (let r = 0; r < o; r++) {
      const s = cBase + r * ldc, d = kOff + r * ck;
      if (n0 === 0) for (let p = 0; p < ck; p++) dk[d + p] = H[s + p]!;
      else for (let p = 0; p < ck; p++) dk[d + p] += H[s + p]!;
    }
  }
  return true;
}

/**
 * `Backend.conv` (see its contract in `../backend.ts`; a forward bias is added as C is copied
 * out, at no extra pass) on the WebAssembly kernel, or `undefined`
 * where the kernel is unavailable or a product does not fit its memory (the caller then composes).
 *
 * @example
 * ```ts
 * const plan = { c: 1, o: 1, h: 2, w: 2, kh: 2, kw: 2, sh: 1, sw: 1, top: 0, left: 0, ho: 1, wo: 1 };
 * wasmConv('forward', Float64Array.of(1, 2, 3, 4), Float64Array.of(1, 1, 1, 1), 1, 1, plan); // Float64Array [10]
 * ```
 */
export function wasmConv(
  op: ConvOp, a: Float64Array, b: Float64Array, groups: number, n: number, plan: ConvPlan, threading: GemmThreading = {}, bias?: Float64Array,
): Float64Array | undefined {
  const { c, o, h, w, kh, kw, ho, wo } = plan;
  const size = op === 'forward' ? n * o * ho * wo : op === 'inputGrad' ? n * c * h * w : o * c * kh * kw;
  const out = allocateF64(groups * size);
  if (n === 0) return out;
  for (let gq = 0; gq < groups; gq++) {
    const ok = op === 'forward' ? forward(a, gq * n * c * h * w, b, gq * o * c * kh * kw, out, gq * size, n, plan, threading, bias, gq * o)
      : op === 'inputGrad' ? inputGrad(a, b, out, gq, n, plan, threading)
      : kernelGrad(a, b, out, gq, n, plan, threading);
    if (!ok) return undefined;
  }
  return out;
}
