/**
 * The GEMM's packing as a generated WebAssembly module: op(A) and op(B) rearranged into the
 * kernel's panels (`w` rows of A or columns of B, p-major within a panel: `panel[p·w + c]`; see
 * `PackedLayout` in `gemm.ts`), from operands the host has first copied into the memory as stored.
 *
 * Packing with JavaScript element loops ran at 4–5 GB/s, five times slower than the memory copy it
 * replaces (1.6 ms for a 1000 × 784 operand against 0.3 ms); in the MLP gradient, X alone was
 * packed twice per call. Here each step moves 16 bytes:
 *
 * - **`split_w`**, a stored row holds one p for many panels (A stored [k, m] for Aᵀ, B stored
 *   [k, n]): each run of w consecutive elements is copied whole to its panel, in v128 moves (and
 *   one f64 move for an odd w), four stored rows per visit to a panel.
 * - **`gather_w`**, a stored row is one column of a panel (A stored [m, k], B stored [n, k] for
 *   Bᵀ): two p at a time, the rows of a panel are interleaved pairwise by `i8x16.shuffle` ([x₀, y₀]
 *   and [x₁, y₁] from rows x and y) and stored at p and p + 1; an odd w's last row moves as f64s,
 *   and an odd k's last p element by element.
 *
 * Both handle whole panels only; the host packs a last partial panel (and its zero padding) itself.
 * Packing only moves values, so the packed panels are bit-identical to the JavaScript loops'.
 *
 * @module
 */
import { F64X2_HIGH_LANES, F64X2_LOW_LANES, ModuleBuilder, OP, type Local } from './emit.ts';

/** Panel widths the module is generated for: the GEMM tiles' mr and nr (4 × 6 with FMA, 2 × 8 without). */
export const PACK_WIDTHS = [2, 4, 6, 8] as const;

/**
 * The exported name of the `split` (stored rows dealt out across panels) or `gather` (stored rows
 * interleaved into one panel) packer for panel width `w`.
 *
 * @example
 * ```ts
 * packExport('gather', 3); // 'gather_3'
 * ```
 */
export function packExport(kind: 'split' | 'gather', w: number): string {
  return `${kind}_${w}`;
}

/** Stored rows `split_w` deals out together: each panel then receives 4·w contiguous float64s per visit. */
const SPLIT_ROWS = 4;

/**
 * `split_w(src, ld, dst, panelBytes, panels, rows)`: for `rows` stored rows from byte address
 * `src` (row stride `ld` bytes), copies elements [j·w, j·w + w) of the row to panel j at
 * `dst + j·panelBytes` for j < `panels`; each next row goes w float64s further into every panel.
 * Rows go four at a time, so each visit to a panel writes 4·w contiguous float64s: one row at a
 * time wrote w float64s to each of hundreds of places a power of two apart at 512 or 1024 columns,
 * which ran slower than the JavaScript loop.
 */
function addSplit(mod: ModuleBuilder, w: number): void {
  mod.func(packExport('split', w), Array(6).fill('i32'), [], (fb, params) => {
    const [src, ld, dst, panelBytes, panels, rows] = params as [Local, Local, Local, Local, Local, Local];
    const s = fb.local('i32'), d = fb.local('i32'), n = fb.local('i32');
    const row = Array.from({ length: SPLIT_ROWS }, () => fb.local('i32'));
    // `group` stored rows per pass over the panels, while at least that many are left.
    const passes = (group: number) =>
      fb.block(() =>
        fb.loop(() => {
          fb.get(rows).i32Const(group).op(OP.i32_lt_u).brIf(1);
          fb.get(dst).set(d);
          fb.get(panels).set(n);
          for (let g = 0; g < group; g++) {
            fb.offsetBy(src, ld, g).set(row[g]!);
          }
          fb.i32Const(0).set(s);
          fb.loop(() => {
            // Row g's run of w float64s lands g·w float64s into the panel.
            for (let g = 0; g < group; g++) {
              for (let q = 0; q + 1 < w; q += 2) {
                fb.get(d).get(row[g]!).get(s).op(OP.i32_add).v128Load(8 * q).v128Store(8 * (g * w + q));
              }
              if (w % 2) fb.get(d).get(row[g]!).get(s).op(OP.i32_add).f64Load(8 * (w - 1)).f64Store(8 * (g * w + w - 1));
            }
            fb.get(s).i32Const(8 * w).op(OP.i32_add).set(s);
            fb.get(d).get(panelBytes).op(OP.i32_add).set(d);
            fb.get(n).i32Const(1).op(OP.i32_sub).tee(n).brIf(0);
          });
          fb.offsetBy(src, ld, group).set(src);
          fb.get(dst).i32Const(8 * w * group).op(OP.i32_add).set(dst);
          fb.get(rows).i32Const(group).op(OP.i32_sub).set(rows);
          fb.br(0);
        }),
      );
    fb.get(panels).if(() => {
      passes(SPLIT_ROWS);
      passes(1);
    });
  });
}

/**
 * `gather_w(src, rowBytes, dst, panels, pairs, odd)`: for `panels` panels, the w stored rows of
 * length k = 2·pairs + odd from byte address `src` (row stride `rowBytes` = 8k) become one panel
 * at `dst` (`panel[p·w + c] = row_c[p]`); panels follow one another every w·rowBytes in both.
 */
function addGather(mod: ModuleBuilder, w: number): void {
  mod.func(packExport('gather', w), Array(6).fill('i32'), [], (fb, params) => {
    const [src, rowBytes, dst, panels, pairs, odd] = params as [Local, Local, Local, Local, Local, Local];
    const row = Array.from({ length: w }, () => fb.local('i32'));
    const i = fb.local('i32'), o = fb.local('i32'), n = fb.local('i32'), step = fb.local('i32');
    const x = fb.local('v128'), y = fb.local('v128');
    fb.get(rowBytes).i32Const(w).op(OP.i32_mul).set(step);
    fb.get(panels).if(() =>
      fb.loop(() => {
        for (let c = 0; c < w; c++) {
          fb.offsetBy(src, rowBytes, c).set(row[c]!);
        }
        fb.i32Const(0).set(i);
        fb.get(dst).set(o);
        fb.get(pairs).set(n);
        fb.get(n).if(() =>
          fb.loop(() => {
            for (let c = 0; c + 1 < w; c += 2) {
              fb.get(row[c]!).get(i).op(OP.i32_add).v128Load().set(x);
              fb.get(row[c + 1]!).get(i).op(OP.i32_add).v128Load().set(y);
              fb.get(o).get(x).get(y).i8x16Shuffle(F64X2_LOW_LANES).v128Store(8 * c);
              fb.get(o).get(x).get(y).i8x16Shuffle(F64X2_HIGH_LANES).v128Store(8 * (w + c));
            }
            if (w % 2) {
              const c = w - 1;
              fb.get(o).get(row[c]!).get(i).op(OP.i32_add).f64Load().f64Store(8 * c);
              fb.get(o).get(row[c]!).get(i).op(OP.i32_add).f64Load(8).f64Store(8 * (w + c));
            }
            fb.get(i).i32Const(16).op(OP.i32_add).set(i);
            fb.get(o).i32Const(16 * w).op(OP.i32_add).set(o);
            fb.get(n).i32Const(1).op(OP.i32_sub).tee(n).brIf(0);
          }),
        );
        // An odd k's last p: one element from each row.
        fb.get(odd).if(() => {
          for (let c = 0; c < w; c++) fb.get(o).get(row[c]!).get(i).op(OP.i32_add).f64Load().f64Store(8 * c);
        });
        fb.get(src).get(step).op(OP.i32_add).set(src);
        fb.get(dst).get(step).op(OP.i32_add).set(dst);
        fb.get(panels).i32Const(1).op(OP.i32_sub).tee(panels).brIf(0);
      }),
    );
  });
}

/**
 * Generates the packing module: `split_w` and `gather_w` for every w in {@link PACK_WIDTHS},
 * named by {@link packExport}, over an imported `env.memory` (the GEMM engine's).
 *
 * @example
 * ```ts
 * const mem = new WebAssembly.Memory({ initial: 1 });
 * const { exports } = new WebAssembly.Instance(new WebAssembly.Module(buildPackModule({ initial: 1 })), { env: { memory: mem } });
 * typeof exports[packExport('split', 6)]; // 'function'
 * ```
 */
export function buildPackModule(memory: { initial: number; maximum?: number; shared?: boolean }): Uint8Array<ArrayBuffer> {
  const mod = new ModuleBuilder(memory);
  for (const w of PACK_WIDTHS) {
    addSplit(mod, w);
    addGather(mod, w);
  }
  return mod.toBytes();
}
