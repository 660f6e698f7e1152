/**
 * The float64 GEMM kernel as a generated WebAssembly module.
 *
 * C = A·B on packed operands, register-blocked with 128-bit SIMD (two float64 lanes):
 *
 * - **Packing** (done by the host, see `gemm.ts`): A in panels of `mr` rows, stored p-major
 *   (`Ap[panel][p][r]`), B in panels of `nr` columns (`Bp[panel][p][c]`), both zero-padded to
 *   whole panels, so the kernel reads both with unit stride and constant offsets, and every
 *   transpose flag is only a different packing. C is written densely with a padded leading
 *   dimension; the host copies out the valid part.
 * - **Micro-kernel** `mr × nr`: `mr · nr / 2` f64x2 accumulators stay in registers across the
 *   k loop; each step loads `nr / 2` vectors of B and splats `mr` values of A. V8 gives
 *   WebAssembly 15 xmm registers on x64 and its scheduler hoists all of a step's loads to the
 *   top of the loop body, so accumulators, B vectors and A splats must all fit at once:
 *   `mr·nr/2 + nr/2 + mr ≤ 15`. 3 × 6 (9 + 3 + 3) with `f64x2.relaxed_madd` and 2 × 8
 *   (8 + 4 + 2) with mul + add fit; 6 × 4 (12 + 2 + 6) spills and runs at half speed.
 * - **Macro-kernel**: k in blocks of `kc` (the B micro-panel stays in L1 while A panels stream
 *   from L2), rows in blocks of `mc` panels; the first k block stores, later ones accumulate.
 * - **Entry** `gemm(job, u0, u1)`: a job descriptor in memory describes a batch of products;
 *   `[u0, u1)` is a range of (slice, row panel) units, so threads split the work by rows.
 *
 * @module
 */
import { ModuleBuilder, OP, SIMD, type FuncBuilder, type Local } from './emit.ts';

/** The shape of a generated kernel. */
export interface GemmKernelShape {
  /** Rows of the register tile. */
  mr: number;
  /** Columns of the register tile (even: two per f64x2 vector). */
  nr: number;
  /** Use `f64x2.relaxed_madd` (relaxed SIMD) instead of `f64x2.mul` + `f64x2.add`. */
  fma: boolean;
}

/** Byte offsets of the i32 fields of a job descriptor (see {@link buildGemmModule}). */
export const JOB = {
  aPack: 0,
  aStride: 4,
  bPack: 8,
  bStride: 12,
  c: 16,
  cStride: 20,
  ldc: 24,
  k: 28,
  kc: 32,
  mcPanels: 36,
  mPanels: 40,
  nPanels: 44,
  /** The descriptor's size in bytes. */
  size: 48,
} as const;

/** Pushes min(x, y) of two unsigned i32 locals-or-expressions. */
function minU(fb: FuncBuilder, x: () => void, y: () => void): void {
  x();
  y();
  x();
  y();
  fb.op(OP.i32_lt_u).op(OP.select);
}

/**
 * Generates the GEMM module for one kernel shape. It imports `env.memory` (shared when
 * `shared`, for threads) and exports `gemm(job, u0, u1)`.
 *
 * A job descriptor at byte address `job` holds i32 fields (byte offsets in {@link JOB}):
 * `aPack, aStride, bPack, bStride, c, cStride` (addresses of slice 0 and bytes between slices),
 * `ldc` (C's leading dimension in elements, a multiple of `nr`), `k`, `kc` (k block), `mcPanels`
 * (row block, in panels), `mPanels`, `nPanels` (panels per slice). Unit u is row panel
 * `u mod mPanels` of slice `⌊u / mPanels⌋`.
 *
 * @example
 * ```ts
 * const bytes = buildGemmModule({ mr: 3, nr: 6, fma: true }, { initial: 17, maximum: 1024, shared: true });
 * WebAssembly.validate(bytes); // true where relaxed SIMD is enabled
 * ```
 */
export function buildGemmModule(
  shape: GemmKernelShape,
  memory: { initial: number; maximum: number; shared: boolean },
): Uint8Array<ArrayBuffer> {
  const { mr, nr, fma } = shape;
  if (nr % 2 !== 0 || mr < 1 || nr < 2) throw new Error(`gemm kernel: bad tile ${mr}×${nr}`);
  const nv = nr / 2;
  const mod = new ModuleBuilder(memory);

  // micro(pa, pb, pc, kc, ldcBytes, accumulate): C tile (+)= Ap panel · Bp panel over kc ≥ 1 steps.
  const micro = mod.func(null, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fb, params) => {
    const [pa, pb, pc, kc, ldc, accumulate] = params as [Local, Local, Local, Local, Local, Local];
    const acc: Local[][] = [];
    for (let r = 0; r < mr; r++) acc.push(Array.from({ length: nv }, () => fb.local('v128')));
    const b = Array.from({ length: nv }, () => fb.local('v128'));
    const a = fb.local('v128');
    fb.loop(() => {
      for (let v = 0; v < nv; v++) fb.get(pb).v128Load(16 * v).set(b[v]!);
      for (let r = 0; r < mr; r++) {
        fb.get(pa).v128Load64Splat(8 * r).set(a);
        for (let v = 0; v < nv; v++) {
          fb.madd(fma, a, b[v]!, acc[r]![v]!);
        }
      }
      fb.get(pa).i32Const(8 * mr).op(OP.i32_add).set(pa);
      fb.get(pb).i32Const(8 * nr).op(OP.i32_add).set(pb);
      fb.get(kc).i32Const(1).op(OP.i32_sub).tee(kc).brIf(0);
    });
    // Write the tile back, adding what earlier k blocks left there.
    const row = fb.local('i32');
    fb.get(accumulate).if(() => {
      fb.get(pc).set(row);
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < nv; v++) fb.get(acc[r]![v]!).get(row).v128Load(16 * v).simd(SIMD.f64x2_add).set(acc[r]![v]!);
        fb.get(row).get(ldc).op(OP.i32_add).set(row);
      }
    });
    fb.get(pc).set(row);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) fb.get(row).get(acc[r]![v]!).v128Store(16 * v);
      fb.get(row).get(ldc).op(OP.i32_add).set(row);
    }
  });

  // macro(aPack, bPack, c, ldc, k, kc, mcPanels, ip0, ip1, nPanels): row panels [ip0, ip1) of one slice.
  const macro = mod.func(null, Array(10).fill('i32'), [], (fb, params) => {
    const [aPack, bPack, c, ldc, k, kc, mcp, ip0, ip1, np] = params as Local[] as [
      Local, Local, Local, Local, Local, Local, Local, Local, Local, Local,
    ];
    const pc = fb.local('i32'), kb = fb.local('i32'), acc = fb.local('i32');
    const ic = fb.local('i32'), icEnd = fb.local('i32'), jp = fb.local('i32'), ip = fb.local('i32');
    const bp = fb.local('i32'), cp = fb.local('i32'), ldcBytes = fb.local('i32');
    fb.get(ldc).i32Const(3).op(OP.i32_shl).set(ldcBytes);
    const get = (l: Local) => () => void fb.get(l);
    const one = () => void fb.i32Const(1);
    fb.forLoop(pc, () => fb.i32Const(0), get(k), get(kc), () => {
      minU(fb, get(kc), () => fb.get(k).get(pc).op(OP.i32_sub));
      fb.set(kb);
      fb.get(pc).i32Const(0).op(OP.i32_ne).set(acc);
      fb.forLoop(ic, get(ip0), get(ip1), get(mcp), () => {
        minU(fb, () => fb.get(ic).get(mcp).op(OP.i32_add), get(ip1));
        fb.set(icEnd);
        fb.forLoop(jp, () => fb.i32Const(0), get(np), one, () => {
          // bp = bPack + 8·(jp·nr·k + pc·nr); cp = c + 8·(jp·nr + ic·mr·ldc)
          fb.get(bPack).get(jp).get(k).op(OP.i32_mul).get(pc).op(OP.i32_add).i32Const(8 * nr).op(OP.i32_mul).op(OP.i32_add).set(bp);
          fb.get(c).get(jp).i32Const(8 * nr).op(OP.i32_mul).op(OP.i32_add)
            .get(ic).i32Const(mr).op(OP.i32_mul).get(ldcBytes).op(OP.i32_mul).op(OP.i32_add).set(cp);
          fb.forLoop(ip, get(ic), get(icEnd), one, () => {
            // pa = aPack + 8·mr·(ip·k + pc)
            fb.get(aPack).get(ip).get(k).op(OP.i32_mul).get(pc).op(OP.i32_add).i32Const(8 * mr).op(OP.i32_mul).op(OP.i32_add);
            fb.get(bp).get(cp).get(kb).get(ldcBytes).get(acc).call(micro);
            fb.get(cp).get(ldcBytes).i32Const(mr).op(OP.i32_mul).op(OP.i32_add).set(cp);
          });
        });
      });
    });
  });

  // gemm(job, u0, u1): units [u0, u1) of the job described at `job`.
  mod.func('gemm', ['i32', 'i32', 'i32'], [], (fb, params) => {
    const [job, u0, u1] = params as [Local, Local, Local];
    const u = fb.local('i32'), q = fb.local('i32'), ip0 = fb.local('i32'), ip1 = fb.local('i32'), mp = fb.local('i32');
    fb.get(job).i32Load(JOB.mPanels).set(mp);
    fb.get(u0).set(u);
    fb.block(() =>
      fb.loop(() => {
        fb.get(u).get(u1).op(OP.i32_ge_u).brIf(1);
        fb.get(u).get(mp).op(OP.i32_div_u).set(q);
        fb.get(u).get(q).get(mp).op(OP.i32_mul).op(OP.i32_sub).set(ip0);
        minU(fb, () => fb.get(mp), () => fb.get(ip0).get(u1).op(OP.i32_add).get(u).op(OP.i32_sub));
        fb.set(ip1);
        // macro(aPack + q·aStride, bPack + q·bStride, c + q·cStride, ldc, k, kc, mcPanels, ip0, ip1, nPanels)
        for (const [base, stride] of [[JOB.aPack, JOB.aStride], [JOB.bPack, JOB.bStride], [JOB.c, JOB.cStride]] as const) {
          fb.get(job).i32Load(base).get(q).get(job).i32Load(stride).op(OP.i32_mul).op(OP.i32_add);
        }
        for (const f of [JOB.ldc, JOB.k, JOB.kc, JOB.mcPanels]) fb.get(job).i32Load(f);
        fb.get(ip0).get(ip1).get(job).i32Load(JOB.nPanels).call(macro);
        fb.get(u).get(ip1).op(OP.i32_add).get(ip0).op(OP.i32_sub).set(u);
        fb.br(0);
      }),
    );
  });
  return mod.toBytes();
}

/**
 * A tiny module using `f64x2.relaxed_madd`: `WebAssembly.validate` on it says whether the runtime
 * accepts relaxed SIMD.
 *
 * @example
 * ```ts
 * WebAssembly.validate(relaxedSimdProbe()); // true in Node ≥ 22, or in Node 20 with the flag
 * ```
 */
export function relaxedSimdProbe(): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder();
  mod.func('f', ['v128', 'v128', 'v128'], ['v128'], (fb, [a, b, c]) => {
    fb.get(a!).get(b!).get(c!).simd(SIMD.f64x2_relaxed_madd);
  });
  return mod.toBytes();
}
