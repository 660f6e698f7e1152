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
 *   k loop. Each step multiplies vectors of one operand by splats (one value in both lanes) of
 *   the other, in one of two orientations:
 *   - *splat A* (the mul + add kernel, 2 × 8): `nr / 2` vectors of B times `mr` splats of A;
 *     accumulator (r, v) holds C[r, 2v..2v+1], a piece of a row.
 *   - *splat B* (the fused multiply-add kernel, 4 × 6): `mr / 2` vectors of A (two rows each)
 *     times `nr` splats of B; accumulator (c, i) holds C[2i..2i+1, c], a piece of a column, and the
 *     write-back pairs columns into rows with shuffles.
 * - **Why these tiles.** V8 gives WebAssembly 15 xmm registers on x64, and its scheduler places
 *   every load of a loop body before the arithmetic that uses it, so all of a step's operands
 *   are live at once: the splat-A kernel needs `mr·nr/2 + nr/2 + mr ≤ 15` (2 × 8: 8 + 4 + 2).
 *   Past that V8 spills accumulators to the stack and the loop runs at half speed. With fused
 *   multiply-add the accumulator chains set the pace: an FMA has a 4-cycle latency and a core
 *   issues two per cycle, so eight independent chains just keep both pipes busy; nine (a 3 × 6
 *   tile) leave one FMA of slack per four cycles for every load, branch and stall, twelve leave
 *   four (`npm run bench -- kernel`: with everything in cache the 4 × 6 kernel runs at 98–99% of
 *   a loop of twelve chains without loads, the 3 × 6 at 94–95%; at 512² and 1024², 89–91%
 *   against 85–87%). Twelve accumulators need the loads spread through the step instead: the
 *   splat-B kernel loads its two A vectors, then for each column splats one B value, multiplies,
 *   and *then* loads the next, so 12 + 2 + 1 = 15 registers suffice. To make V8 keep that
 *   order, after each column the loop has a branch to the tile's write-back on a condition that
 *   never holds (the k counter equal to an impossible value, a different one each time so that
 *   V8 cannot fold them): the write-back reads every accumulator, so each column's multiply-adds
 *   must be done before the branch, and the next column's load, being after it, cannot move
 *   above it. The branches cost a compare each and are never taken. The loop body holds two k
 *   steps, with a last odd step after the loop.
 * - **Macro-kernel**: k in blocks of `kc` (the B micro-panel stays in L1 while A panels stream
 *   from L2), rows in blocks of `mc` panels; the block that starts at k step 0 stores, later ones accumulate.
 * - **Entry** `gemm(job, u0, u1, p0, p1)`: a job descriptor in memory describes a batch of
 *   products; `[u0, u1)` is a range of (slice, row panel) units, so threads split the work by
 *   rows, and `[p0, p1)` a range of k steps (`p0` a multiple of the k block), so a thread can
 *   start on the first k steps of B while the rest is still being packed.
 *
 * @module
 */
import { F64X2_HIGH_LANES, F64X2_LOW_LANES, ModuleBuilder, OP, SIMD, type FuncBuilder, type Local } from './emit.ts';

/** The shape of a generated kernel. */
export interface GemmKernelShape {
  /** Rows of the register tile (even when `splat` is `'b'`). */
  mr: number;
  /** Columns of the register tile (even). */
  nr: number;
  /** Use `f64x2.relaxed_madd` (relaxed SIMD) instead of `f64x2.mul` + `f64x2.add`. */
  fma: boolean;
  /** Which operand is splatted: `'a'` (vectors along C's rows) or `'b'` (vectors along its columns). */
  splat: 'a' | 'b';
}

/**
 * The kernel this module is generated for where relaxed SIMD is (`fma`) or is not available:
 * 4 × 6 splatting B with fused multiply-add, 2 × 8 splatting A with mul + add (see the module
 * comment for why).
 *
 * @example
 * ```ts
 * gemmKernelFor(true); // { mr: 4, nr: 6, fma: true, splat: 'b' }
 * ```
 */
export function gemmKernelFor(fma: boolean): GemmKernelShape {
  return fma ? { mr: 4, nr: 6, fma: true, splat: 'b' } : { mr: 2, nr: 8, fma: false, splat: 'a' };
}

/**
 * The xmm registers one step of a kernel keeps live at once (at most 15 under V8 on x64):
 * accumulators plus the operands loaded together.
 *
 * @example
 * ```ts
 * kernelRegisters(gemmKernelFor(true)); // 12 + 2 + 1 = 15
 * ```
 */
export function kernelRegisters({ mr, nr, splat }: GemmKernelShape): number {
  return (mr * nr) / 2 + (splat === 'a' ? nr / 2 + mr : mr / 2 + 1);
}

/**
 * The module's export: C (+)= A·B for units `[u0, u1)` of the job at byte address `job`, over k
 * steps `[p0, p1)` (`p0` a multiple of the job's k block, `p1` one too or k). Steps from 0 store
 * C, later ones add to it, so calls over consecutive k ranges compute the whole product.
 */
export type GemmEntry = (job: number, u0: number, u1: number, p0: number, p1: number) => void;

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

/**
 * One product job (see {@link buildGemmModule}): where slice 0 of packed A, packed B and C start
 * and the elements between slices (float64 indices), C's leading dimension, k, the blocking and
 * the panel counts.
 */
export interface GemmJob {
  aBase: number;
  aStride: number;
  bBase: number;
  bStride: number;
  cBase: number;
  cStride: number;
  ldc: number;
  k: number;
  kc: number;
  mcPanels: number;
  mPanels: number;
  nPanels: number;
}

/**
 * Writes a job descriptor at i32 index `at` of `view` (a view of the kernel's memory), in the
 * byte layout of {@link JOB}: addresses and strides in bytes, the rest as given.
 *
 * @example
 * ```ts
 * writeGemmJob(new Int32Array(memory.buffer), 1024 / 4, job); // the descriptor at byte 1024
 * ```
 */
export function writeGemmJob(view: Int32Array, at: number, j: GemmJob): void {
  view[at + JOB.aPack / 4] = j.aBase * 8;
  view[at + JOB.aStride / 4] = j.aStride * 8;
  view[at + JOB.bPack / 4] = j.bBase * 8;
  view[at + JOB.bStride / 4] = j.bStride * 8;
  view[at + JOB.c / 4] = j.cBase * 8;
  view[at + JOB.cStride / 4] = j.cStride * 8;
  view[at + JOB.ldc / 4] = j.ldc;
  view[at + JOB.k / 4] = j.k;
  view[at + JOB.kc / 4] = j.kc;
  view[at + JOB.mcPanels / 4] = j.mcPanels;
  view[at + JOB.mPanels / 4] = j.mPanels;
  view[at + JOB.nPanels / 4] = j.nPanels;
}

/** Pushes min(x, y) of two unsigned i32 locals-or-expressions. */
function minU(fb: FuncBuilder, x: () => void, y: () => void): void {
  x();
  y();
  x();
  y();
  fb.op(OP.i32_lt_u).op(OP.select);
}

/**
 * Writes C's tile back at `pc` (row stride `ldc` bytes), adding what is there when `accumulate`:
 * `row(r, v)` pushes the f64x2 holding C[r, 2v..2v+1].
 */
function writeTile(fb: FuncBuilder, mr: number, nr: number, pc: Local, ldc: Local, accumulate: Local, row: (r: number, v: number) => void): void {
  const at = fb.local('i32'), t = fb.local('v128');
  fb.get(pc).set(at);
  for (let r = 0; r < mr; r++) {
    for (let v = 0; v < nr / 2; v++) {
      row(r, v);
      fb.set(t);
      fb.get(accumulate).if(() => void fb.get(t).get(at).v128Load(16 * v).simd(SIMD.f64x2_add).set(t));
      fb.get(at).get(t).v128Store(16 * v);
    }
    fb.get(at).get(ldc).op(OP.i32_add).set(at);
  }
}

/** The splat-A micro-kernel: per k step, `nr / 2` vectors of B and `mr` splats of A. */
function splatAMicro(fb: FuncBuilder, { mr, nr, fma }: GemmKernelShape, pa: Local, pb: Local, pc: Local, kc: Local, ldc: Local, accumulate: Local): void {
  const nv = nr / 2;
  const acc = Array.from({ length: mr }, () => Array.from({ length: nv }, () => fb.local('v128')));
  const b = Array.from({ length: nv }, () => fb.local('v128'));
  const a = fb.local('v128');
  fb.loop(() => {
    for (let v = 0; v < nv; v++) fb.get(pb).v128Load(16 * v).set(b[v]!);
    for (let r = 0; r < mr; r++) {
      fb.get(pa).v128Load64Splat(8 * r).set(a);
      for (let v = 0; v < nv; v++) fb.madd(fma, a, b[v]!, acc[r]![v]!);
    }
    fb.get(pa).i32Const(8 * mr).op(OP.i32_add).set(pa);
    fb.get(pb).i32Const(8 * nr).op(OP.i32_add).set(pb);
    fb.get(kc).i32Const(1).op(OP.i32_sub).tee(kc).brIf(0);
  });
  writeTile(fb, mr, nr, pc, ldc, accumulate, (r, v) => void fb.get(acc[r]![v]!));
}

/**
 * The splat-B micro-kernel: per k step, `mr / 2` vectors of A, then for each column one splat of
 * B and its multiply-adds, each column closed by a never-taken branch to the write-back (the
 * module comment says why). Two steps per trip; an odd last step after the loop.
 */
function splatBMicro(fb: FuncBuilder, { mr, nr, fma }: GemmKernelShape, pa: Local, pb: Local, pc: Local, kc: Local, ldc: Local, accumulate: Local): void {
  const na = mr / 2;
  const acc = Array.from({ length: nr }, () => Array.from({ length: na }, () => fb.local('v128')));
  const a = Array.from({ length: na }, () => fb.local('v128'));
  const bs = fb.local('v128');
  const trips = fb.local('i32');
  // counter ≤ 2³⁰ never equals −1, −2, …: distinct impossible values, so V8 keeps every branch.
  let impossible = 0;
  const barrier = (counter: Local, depth: number) => fb.get(counter).i32Const(--impossible).op(OP.i32_eq).brIf(depth);
  // Step u of a trip: A and B panels advance mr and nr float64s per step.
  const step = (u: number, counter: Local, depth: number, last: boolean) => {
    for (let i = 0; i < na; i++) fb.get(pa).v128Load(8 * mr * u + 16 * i).set(a[i]!);
    for (let c = 0; c < nr; c++) {
      fb.get(pb).v128Load64Splat(8 * nr * u + 8 * c).set(bs);
      for (let i = 0; i < na; i++) fb.madd(fma, a[i]!, bs, acc[c]![i]!);
      if (!(last && c === nr - 1)) barrier(counter, depth);
    }
  };
  fb.get(kc).i32Const(1).op(OP.i32_shr_u).set(trips);
  fb.block(() => {
    fb.get(trips).op(OP.i32_eqz).brIf(0);
    fb.loop(() => {
      step(0, trips, 1, false);
      step(1, trips, 1, true);
      fb.get(pa).i32Const(16 * mr).op(OP.i32_add).set(pa);
      fb.get(pb).i32Const(16 * nr).op(OP.i32_add).set(pb);
      fb.get(trips).i32Const(1).op(OP.i32_sub).tee(trips).brIf(0);
    });
  });
  fb.get(kc).i32Const(1).op(OP.i32_and).if(() => fb.block(() => step(0, kc, 0, true)));
  // Accumulator (c, i) holds C[2i..2i+1, c]: row 2i + h of columns 2v, 2v + 1 is lane h of
  // accumulators (2v, i) and (2v + 1, i).
  writeTile(fb, mr, nr, pc, ldc, accumulate, (r, v) => {
    const i = r >> 1;
    fb.get(acc[2 * v]![i]!).get(acc[2 * v + 1]![i]!).i8x16Shuffle(r & 1 ? F64X2_HIGH_LANES : F64X2_LOW_LANES);
  });
}

/**
 * Generates the GEMM module for one kernel shape. It imports `env.memory` (shared when
 * `shared`, for threads) and exports `gemm(job, u0, u1, p0, p1)` ({@link GemmEntry}).
 *
 * A job descriptor at byte address `job` holds i32 fields (byte offsets in {@link JOB}):
 * `aPack, aStride, bPack, bStride, c, cStride` (addresses of slice 0 and bytes between slices),
 * `ldc` (C's leading dimension in elements, a multiple of `nr`), `k`, `kc` (k block), `mcPanels`
 * (row block, in panels), `mPanels`, `nPanels` (panels per slice). Unit u is row panel
 * `u mod mPanels` of slice `⌊u / mPanels⌋`.
 *
 * @example
 * ```ts
 * const bytes = buildGemmModule(gemmKernelFor(true), { initial: 17, maximum: 1024, shared: true });
 * WebAssembly.validate(bytes); // true where relaxed SIMD is enabled
 * ```
 */
export function buildGemmModule(
  shape: GemmKernelShape,
  memory: { initial: number; maximum: number; shared: boolean },
): Uint8Array<ArrayBuffer> {
  const { mr, nr, splat } = shape;
  if (mr < 1 || nr < 2 || nr % 2 !== 0 || (splat === 'b' && mr % 2 !== 0)) {
    throw new Error(`gemm kernel: bad tile ${mr}×${nr} (splat ${splat})`);
  }
  const mod = new ModuleBuilder(memory);

  // micro(pa, pb, pc, kc, ldcBytes, accumulate): C tile (+)= Ap panel · Bp panel over kc ≥ 1 steps.
  const micro = mod.func(null, ['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [], (fb, params) => {
    const [pa, pb, pc, kc, ldc, accumulate] = params as [Local, Local, Local, Local, Local, Local];
    if (splat === 'a') splatAMicro(fb, shape, pa, pb, pc, kc, ldc, accumulate);
    else splatBMicro(fb, shape, pa, pb, pc, kc, ldc, accumulate);
  });

  // macro(aPack, bPack, c, ldc, k, kc, mcPanels, ip0, ip1, nPanels, p0, p1): row panels [ip0, ip1)
  // of one slice over k steps [p0, p1).
  const macro = mod.func(null, Array(12).fill('i32'), [], (fb, params) => {
    const [aPack, bPack, c, ldc, k, kc, mcp, ip0, ip1, np, p0, p1] = params as Local[] as [
      Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local,
    ];
    const pc = fb.local('i32'), kb = fb.local('i32'), acc = fb.local('i32');
    const ic = fb.local('i32'), icEnd = fb.local('i32'), jp = fb.local('i32'), ip = fb.local('i32');
    const bp = fb.local('i32'), cp = fb.local('i32'), ldcBytes = fb.local('i32');
    fb.get(ldc).i32Const(3).op(OP.i32_shl).set(ldcBytes);
    const get = (l: Local) => () => void fb.get(l);
    const one = () => void fb.i32Const(1);
    fb.forLoop(pc, get(p0), get(p1), get(kc), () => {
      minU(fb, get(kc), () => fb.get(p1).get(pc).op(OP.i32_sub));
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

  // gemm(job, u0, u1, p0, p1): units [u0, u1) of the job described at `job`, over k steps [p0, p1).
  mod.func('gemm', ['i32', 'i32', 'i32', 'i32', 'i32'], [], (fb, params) => {
    const [job, u0, u1, p0, p1] = params as [Local, Local, Local, Local, Local];
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
        // macro(aPack + q·aStride, bPack + q·bStride, c + q·cStride, ldc, k, kc, mcPanels, ip0, ip1, nPanels, p0, p1)
        for (const [base, stride] of [[JOB.aPack, JOB.aStride], [JOB.bPack, JOB.bStride], [JOB.c, JOB.cStride]] as const) {
          fb.get(job).i32Load(base).get(q).get(job).i32Load(stride).op(OP.i32_mul).op(OP.i32_add);
        }
        for (const f of [JOB.ldc, JOB.k, JOB.kc, JOB.mcPanels]) fb.get(job).i32Load(f);
        fb.get(ip0).get(ip1).get(job).i32Load(JOB.nPanels).get(p0).get(p1).call(macro);
        fb.get(u).get(ip1).op(OP.i32_add).get(ip0).op(OP.i32_sub).set(u);
        fb.br(0);
      }),
    );
  });
  return mod.toBytes();
}

/** A kernel in a WebAssembly memory of its own over one product's packed operands: see {@link standaloneGemm}. */
export interface StandaloneGemm {
  /** The memory as float64s; the packed A, packed B and C (leading dimension `ldc`) at the bases. */
  H: Float64Array;
  aBase: number;
  bBase: number;
  cBase: number;
  /** One past C's last float64. */
  end: number;
  ldc: number;
  /** Row panels of A and column panels of B. */
  mp: number;
  np: number;
  /** Computes C from the packed operands (the whole job, on the calling thread). */
  run(): void;
  /** Computes row panels [u0, u1) of C over k steps [p0, p1) ({@link GemmEntry}). */
  part(u0: number, u1: number, p0: number, p1: number): void;
  /**
   * The compiled module and its memory (shared when asked for), so that other threads can
   * instantiate the same kernel over the same operands: `gemm(1024, u0, u1, p0, p1)`.
   */
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
}

/**
 * Instantiates the kernel for `shape` in a memory of its own, laid out for one m × k by k × n
 * product in the engine's packed layout (`PackedLayout` in gemm.ts) with k blocks of `kc` and row
 * blocks of `mcPanels` panels: the tests check and the benchmark times the kernel alone with it.
 * The caller writes the packed operands into `H` and calls `run`. With `shared`, the memory is a
 * shared one, and other threads may compute parts of C over it (`module`, `memory`).
 *
 * @example
 * ```ts
 * const g = standaloneGemm(gemmKernelFor(false), 2, 8, 1, { kc: 256, mcPanels: 64 });
 * g.H.fill(1, g.aBase, g.cBase); // A and B all ones (padding included)
 * g.run();
 * g.H[g.cBase]; // 1
 * ```
 */
export function standaloneGemm(
  shape: GemmKernelShape, m: number, n: number, k: number, blocks: { kc: number; mcPanels: number }, shared = false,
): StandaloneGemm {
  const { mr, nr } = shape;
  const mp = Math.ceil(m / mr), np = Math.ceil(n / nr), ldc = np * nr;
  // Bytes [1024, 1024 + JOB.size) hold the job; the data starts at byte 4096.
  const aBase = 512, bBase = aBase + mp * mr * k, cBase = bBase + np * nr * k, end = cBase + mp * mr * ldc;
  const pages = Math.ceil((end * 8) / 65536) + 1;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared } as WebAssembly.MemoryDescriptor);
  const module = new WebAssembly.Module(buildGemmModule(shape, { initial: pages, maximum: pages, shared }));
  const { gemm } = new WebAssembly.Instance(module, { env: { memory } }).exports as { gemm: GemmEntry };
  writeGemmJob(new Int32Array(memory.buffer), 1024 / 4, {
    aBase, aStride: 0, bBase, bStride: 0, cBase, cStride: 0, ldc, k, kc: blocks.kc, mcPanels: blocks.mcPanels, mPanels: mp, nPanels: np,
  });
  return {
    H: new Float64Array(memory.buffer), aBase, bBase, cBase, end, ldc, mp, np, module, memory,
    run: () => gemm(1024, 0, mp, 0, k), part: (u0, u1, p0, p1) => gemm(1024, u0, u1, p0, p1),
  };
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
