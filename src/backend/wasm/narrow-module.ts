/**
 * The narrow-product kernels as a generated WebAssembly module: Y = M·V where M is a large
 * R × K matrix read once and V a thin K × J one with J ≤ {@link NARROW_MAX_COLUMNS} columns
 * (a matrix–vector product, or the two columns [w, v] of a forward-over-reverse HVP).
 *
 * Such a product does K·R·J multiply-adds on K·R loads of M, so it is bound by how fast M streams
 * through the core, not by arithmetic; the GEMM kernel's packing would double that traffic. So M
 * is used as stored, in either order, and only the thin V is rearranged:
 *
 * - **`dots`, M stored row-major** ([R, K], row stride `lda` bytes): each output Y[r, j] is a dot
 *   product of a row of M with column j of V. V is stored column-major and zero-padded to an even
 *   length, so both are read two float64s at a time with unit stride; each of a group of rows
 *   keeps one f64x2 accumulator per column (lane 0 sums the even p, lane 1 the odd p) and adds its
 *   two lanes at the end. An odd K's last element is loaded into lane 0 alone
 *   (`v128.load64_zero`), so nothing outside M enters a sum.
 * - **`axpys`, M stored column-major** ([K, R], storage row p holds M[:, p], stride `lda`): storage
 *   row p adds V[p, j]·M[:, p] into column j of Y, several storage rows per pass so that Y (which
 *   stays in L1) is loaded and stored once per pass. Y is column-major with an even leading
 *   dimension: an odd R's last pair reads one float64 past the row (the next row, or slack the host
 *   leaves after M) into Y's padding slot, which is never read back.
 *
 * Each function handles groups of `rows` rows (`dots`) or `rows` storage rows per pass
 * (`axpys`); the host calls the widest group the register file allows and then the one-row version
 * for what is left. Registers: V8 gives WebAssembly 15 xmm registers on x64 and schedules a loop
 * body's loads first (see `gemm-module.ts`), so accumulators, the loaded M vectors and the V
 * vectors (splats) must fit together.
 *
 * @module
 */
import { ModuleBuilder, OP, type Local } from './emit.ts';

/** The most columns of V (rows of the output's short side) the narrow kernels take. */
export const NARROW_MAX_COLUMNS = 7;

/** xmm registers a loop body may keep live at once under V8 on x64. */
const REGISTERS = 15;

/**
 * Rows per `dots` group for J columns: the widest of 4, 2, 1 with R·J accumulators, J V vectors
 * and R M vectors in the register file.
 *
 * @example
 * ```ts
 * dotsRows(1); // 4
 * dotsRows(5); // 1
 * ```
 */
export function dotsRows(j: number): number {
  for (const r of [4, 2]) if (r * j + j + r <= REGISTERS) return r;
  return 1;
}

/**
 * Storage rows per `axpys` pass for J columns: the widest of 4, 2, 1 with P·J splats of V, J
 * output vectors and P M vectors in the register file.
 *
 * @example
 * ```ts
 * axpysRows(2); // 4
 * axpysRows(3); // 2
 * ```
 */
export function axpysRows(j: number): number {
  for (const p of [4, 2]) if (p * j + j + p <= REGISTERS) return p;
  return 1;
}

/** The exported name of the `dots` (row-major M) or `axpys` (column-major M) function for J columns and a group width. */
export function narrowExport(kind: 'dots' | 'axpys', columns: number, rows: number): string {
  return `${kind}_${columns}_${rows}`;
}

/**
 * `dots_J_R(a, lda, b, ldb, y, groups, kPairs, odd)`: for `groups` groups of R rows of M from byte
 * address `a` (row stride `lda` bytes), Y[r, j] = Σ_p M[r, p]·V[p, j] with V column-major at `b`
 * (column stride `ldb` bytes, zero-padded to 2·(kPairs + odd) entries), written row-major (J
 * float64s per row) from `y`.
 */
function addDots(mod: ModuleBuilder, fma: boolean, J: number, R: number): void {
  mod.func(narrowExport('dots', J, R), Array(8).fill('i32'), [], (fb, params) => {
    const [a, lda, b, ldb, y, groups, kPairs, odd] = params as [Local, Local, Local, Local, Local, Local, Local, Local];
    const col = Array.from({ length: J }, () => fb.local('i32'));
    const row = Array.from({ length: R }, () => fb.local('i32'));
    const p = fb.local('i32'), n = fb.local('i32');
    const acc = Array.from({ length: R }, () => Array.from({ length: J }, () => fb.local('v128')));
    const bv = Array.from({ length: J }, () => fb.local('v128'));
    const av = fb.local('v128');
    for (let j = 0; j < J; j++) {
      fb.offsetBy(b, ldb, j);
      fb.set(col[j]!);
    }
    // One step of two k (or, for the tail, one k loaded into lane 0 of M's vector).
    const step = (tail: boolean) => {
      for (let j = 0; j < J; j++) fb.get(col[j]!).get(p).op(OP.i32_add).v128Load().set(bv[j]!);
      for (let r = 0; r < R; r++) {
        fb.get(row[r]!).get(p).op(OP.i32_add);
        if (tail) fb.v128Load64Zero();
        else fb.v128Load();
        fb.set(av);
        for (let j = 0; j < J; j++) fb.madd(fma, av, bv[j]!, acc[r]![j]!);
      }
    };
    fb.get(groups).if(() =>
      fb.loop(() => {
        for (let r = 0; r < R; r++) {
          fb.offsetBy(a, lda, r);
          fb.set(row[r]!);
          for (let j = 0; j < J; j++) fb.v128Zero().set(acc[r]![j]!);
        }
        fb.i32Const(0).set(p);
        fb.get(kPairs).set(n);
        fb.get(n).if(() =>
          fb.loop(() => {
            step(false);
            fb.get(p).i32Const(16).op(OP.i32_add).set(p);
            fb.get(n).i32Const(1).op(OP.i32_sub).tee(n).brIf(0);
          }),
        );
        fb.get(odd).if(() => step(true));
        // Y[r, j] = even-p sum + odd-p sum.
        for (let r = 0; r < R; r++) {
          for (let j = 0; j < J; j++) {
            fb.get(y).get(acc[r]![j]!).f64x2ExtractLane(0).get(acc[r]![j]!).f64x2ExtractLane(1).op(OP.f64_add).f64Store(8 * (r * J + j));
          }
        }
        fb.get(y).i32Const(8 * R * J).op(OP.i32_add).set(y);
        fb.offsetBy(a, lda, R);
        fb.set(a);
        fb.get(groups).i32Const(1).op(OP.i32_sub).tee(groups).brIf(0);
      }),
    );
  });
}

/**
 * `axpys_J_P(a, lda, b, y, ldy, passes, rPairs)`: for `passes` passes of P storage rows of M from
 * byte address `a` (row stride `lda` bytes; storage row p holds M[:, p]), Y[:, j] += V[p, j]·M[:, p]
 * with V row-major at `b` (J float64s per row, advancing P rows per pass) and Y column-major at `y`
 * (column stride `ldy` bytes, `rPairs` pairs of rows each).
 */
function addAxpys(mod: ModuleBuilder, fma: boolean, J: number, P: number): void {
  mod.func(narrowExport('axpys', J, P), Array(7).fill('i32'), [], (fb, params) => {
    const [a, lda, b, y, ldy, passes, rPairs] = params as [Local, Local, Local, Local, Local, Local, Local];
    const col = Array.from({ length: J }, () => fb.local('i32'));
    const row = Array.from({ length: P }, () => fb.local('i32'));
    const i = fb.local('i32'), n = fb.local('i32');
    const s = Array.from({ length: P }, () => Array.from({ length: J }, () => fb.local('v128')));
    const yv = Array.from({ length: J }, () => fb.local('v128'));
    const av = fb.local('v128');
    for (let j = 0; j < J; j++) {
      fb.offsetBy(y, ldy, j);
      fb.set(col[j]!);
    }
    fb.get(passes).if(() =>
      fb.loop(() => {
        for (let q = 0; q < P; q++) {
          fb.offsetBy(a, lda, q);
          fb.set(row[q]!);
          for (let j = 0; j < J; j++) fb.get(b).v128Load64Splat(8 * (q * J + j)).set(s[q]![j]!);
        }
        fb.i32Const(0).set(i);
        fb.get(rPairs).set(n);
        fb.get(n).if(() =>
          fb.loop(() => {
            for (let j = 0; j < J; j++) fb.get(col[j]!).get(i).op(OP.i32_add).v128Load().set(yv[j]!);
            for (let q = 0; q < P; q++) {
              fb.get(row[q]!).get(i).op(OP.i32_add).v128Load().set(av);
              for (let j = 0; j < J; j++) fb.madd(fma, av, s[q]![j]!, yv[j]!);
            }
            for (let j = 0; j < J; j++) fb.get(col[j]!).get(i).op(OP.i32_add).get(yv[j]!).v128Store();
            fb.get(i).i32Const(16).op(OP.i32_add).set(i);
            fb.get(n).i32Const(1).op(OP.i32_sub).tee(n).brIf(0);
          }),
        );
        fb.offsetBy(a, lda, P);
        fb.set(a);
        fb.get(b).i32Const(8 * P * J).op(OP.i32_add).set(b);
        fb.get(passes).i32Const(1).op(OP.i32_sub).tee(passes).brIf(0);
      }),
    );
  });
}

/**
 * Generates the narrow-product module: for every J from 1 to {@link NARROW_MAX_COLUMNS}, `dots`
 * and `axpys` at their widest group ({@link dotsRows}, {@link axpysRows}) and at one row, named
 * by {@link narrowExport}. It imports `env.memory` like the GEMM module, so both share one memory.
 *
 * @example
 * ```ts
 * const bytes = buildNarrowModule(false, { initial: 1 });
 * const mem = new WebAssembly.Memory({ initial: 1 });
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: mem } });
 * typeof exports[narrowExport('dots', 1, 4)]; // 'function'
 * ```
 */
export function buildNarrowModule(
  fma: boolean,
  memory: { initial: number; maximum?: number; shared?: boolean },
): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder(memory);
  for (let J = 1; J <= NARROW_MAX_COLUMNS; J++) {
    for (const R of new Set([dotsRows(J), 1])) addDots(mod, fma, J, R);
    for (const P of new Set([axpysRows(J), 1])) addAxpys(mod, fma, J, P);
  }
  return mod.toBytes();
}
