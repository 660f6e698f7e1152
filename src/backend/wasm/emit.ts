/**
 * A small typed emitter of WebAssembly binary modules: LEB128, the sections a kernel module
 * needs (types, one imported memory, functions, exports, code) and the instructions the float64
 * kernels use, including 128-bit SIMD and relaxed SIMD.
 *
 * Kernels are generated in-process rather than compiled from WebAssembly text, so the library
 * needs no toolchain at run time or install time and a kernel's shape (tile size, fused
 * multiply-add or not) is an ordinary function argument. Only the instructions the kernels use
 * are here; each helper appends its opcode and immediates to the function body.
 *
 * @module
 */

/** A WebAssembly value type. */
export type ValType = 'i32' | 'i64' | 'f64' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f64: 0x7c, v128: 0x7b };

/**
 * A growable byte buffer with the encodings the binary format uses.
 *
 * @example
 * ```ts
 * const b = new ByteWriter();
 * b.u32(624485); // LEB128: e5 8e 26
 * b.toBytes();   // Uint8Array [0xe5, 0x8e, 0x26]
 * ```
 */
export class ByteWriter {
  private buf: number[] = [];

  /** The number of bytes written so far. */
  get length(): number {
    return this.buf.length;
  }
  /** One raw byte. */
  byte(x: number): this {
    this.buf.push(x & 0xff);
    return this;
  }
  /** Raw bytes. */
  bytes(xs: ArrayLike<number>): this {
    for (let i = 0; i < xs.length; i++) this.buf.push(xs[i]! & 0xff);
    return this;
  }
  /** An unsigned LEB128 integer (0 ≤ x < 2³²). */
  u32(x: number): this {
    if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new Error(`wasm emit: u32 out of range: ${x}`);
    do {
      let b = x % 128;
      x = Math.floor(x / 128);
      if (x !== 0) b |= 0x80;
      this.buf.push(b);
    } while (x !== 0);
    return this;
  }
  /** A signed LEB128 integer (−2³¹ ≤ x < 2³²; values ≥ 2³¹ are written as their i32 bit pattern). */
  i32(x: number): this {
    if (!Number.isInteger(x) || x < -0x80000000 || x > 0xffffffff) throw new Error(`wasm emit: i32 out of range: ${x}`);
    x |= 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
      this.buf.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  /** An ASCII name, length-prefixed (ASCII is its own UTF-8; no TextEncoder needed). */
  name(s: string): this {
    if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`wasm emit: names are ASCII here, got '${s}'`);
    this.u32(s.length);
    for (let i = 0; i < s.length; i++) this.buf.push(s.charCodeAt(i));
    return this;
  }
  /** A vector: its length as u32, then its bytes. */
  sized(inner: ByteWriter): this {
    return this.u32(inner.length).bytes(inner.buf);
  }
  /** The bytes written. */
  toBytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.buf);
  }
}

/** A local variable (or parameter) of a function being built, with its type. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** A function in a module being built: its index (for `call`) and its body. */
export interface FuncRef {
  readonly index: number;
}

/**
 * The body of one function, written instruction by instruction. Structured control flow
 * (`block`, `loop`, `if`) takes a callback for the inner instructions and closes with `end`.
 *
 * @example
 * ```ts
 * const mod = new ModuleBuilder();
 * const f = mod.func('add', ['i32', 'i32'], ['i32'], (fb, [x, y]) => {
 *   fb.get(x!).get(y!).op(OP.i32_add);
 * });
 * new WebAssembly.Instance(new WebAssembly.Module(mod.toBytes())).exports.add; // (x, y) => x + y
 * ```
 */
export class FuncBuilder {
  readonly code = new ByteWriter();
  private readonly localTypes: ValType[] = [];
  readonly params: readonly Local[];

  constructor(params: readonly ValType[]) {
    this.params = params.map((type, index) => ({ index, type }));
  }

  /** A new local of `type`, zero-initialised on entry. */
  local(type: ValType): Local {
    const l = { index: this.params.length + this.localTypes.length, type };
    this.localTypes.push(type);
    return l;
  }
  /** A plain opcode with no immediates. */
  op(code: number): this {
    this.code.byte(code);
    return this;
  }
  /** A SIMD-prefixed (0xfd) opcode with no immediates. */
  simd(code: number): this {
    this.code.byte(0xfd).u32(code);
    return this;
  }
  get(l: Local): this {
    this.code.byte(0x20).u32(l.index);
    return this;
  }
  set(l: Local): this {
    this.code.byte(0x21).u32(l.index);
    return this;
  }
  tee(l: Local): this {
    this.code.byte(0x22).u32(l.index);
    return this;
  }
  i32Const(x: number): this {
    this.code.byte(0x41).i32(x);
    return this;
  }
  /** Pushes `x + i·stride` for i32 locals `x`, `stride` and a constant i (just x when i is 0): row i's address. */
  offsetBy(x: Local, stride: Local, i: number): this {
    this.get(x);
    if (i > 0) this.get(stride).i32Const(i).op(OP.i32_mul).op(OP.i32_add);
    return this;
  }
  /** `i32.load` at the address on the stack plus `offset` bytes. */
  i32Load(offset = 0): this {
    this.code.byte(0x28).u32(2).u32(offset);
    return this;
  }
  /** `v128.load` (16 bytes) at the address on the stack plus `offset`. */
  v128Load(offset = 0): this {
    this.code.byte(0xfd).u32(0x00).u32(4).u32(offset);
    return this;
  }
  /** `f64.load` at the address on the stack plus `offset` bytes. */
  f64Load(offset = 0): this {
    this.code.byte(0x2b).u32(3).u32(offset);
    return this;
  }
  /**
   * `i8x16.shuffle` of the two vectors on the stack: byte i of the result is byte `lanes[i]` of
   * their concatenation (0–15 the first, 16–31 the second).
   */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !(l >= 0 && l < 32))) throw new Error(`wasm emit: a shuffle needs 16 lanes in [0, 32), got [${lanes.join(', ')}]`);
    this.code.byte(0xfd).u32(0x0d).bytes(lanes);
    return this;
  }
  /** `v128.load64_splat`: one float64 into both lanes. */
  v128Load64Splat(offset = 0): this {
    this.code.byte(0xfd).u32(0x0a).u32(3).u32(offset);
    return this;
  }
  /**
   * acc = a·b + acc on f64x2 locals: one `f64x2.relaxed_madd` (fused or not, as the hardware
   * prefers) when `fma`, else `f64x2.mul` then `f64x2.add`. The GEMM and narrow kernels' one
   * arithmetic step.
   */
  madd(fma: boolean, a: Local, b: Local, acc: Local): this {
    if (fma) return this.get(a).get(b).get(acc).simd(SIMD.f64x2_relaxed_madd).set(acc);
    return this.get(acc).get(a).get(b).simd(SIMD.f64x2_mul).simd(SIMD.f64x2_add).set(acc);
  }
  /** `v128.load64_zero`: one float64 into lane 0, lane 1 zero. */
  v128Load64Zero(offset = 0): this {
    this.code.byte(0xfd).u32(0x5d).u32(3).u32(offset);
    return this;
  }
  /** `f64x2.extract_lane`: lane `lane` (0 or 1) of the vector on the stack as an f64. */
  f64x2ExtractLane(lane: 0 | 1): this {
    this.code.byte(0xfd).u32(0x21).byte(lane);
    return this;
  }
  /** `f64.store` of the f64 on the stack at the address below it plus `offset`. */
  f64Store(offset = 0): this {
    this.code.byte(0x39).u32(3).u32(offset);
    return this;
  }
  /** `v128.store` of the vector on the stack at the address below it plus `offset`. */
  v128Store(offset = 0): this {
    this.code.byte(0xfd).u32(0x0b).u32(4).u32(offset);
    return this;
  }
  /** `v128.const` with two float64 lanes. */
  f64x2Const(lane0: number, lane1 = lane0): this {
    const bytes = new Uint8Array(new Float64Array([lane0, lane1]).buffer);
    this.code.byte(0xfd).u32(0x0c).bytes(bytes);
    return this;
  }
  /** `v128.const` with two 64-bit integer lanes (bit patterns). */
  i64x2Const(lane0: bigint, lane1 = lane0): this {
    const bytes = new Uint8Array(new BigInt64Array([lane0, lane1]).buffer);
    this.code.byte(0xfd).u32(0x0c).bytes(bytes);
    return this;
  }
  /** `v128.const` 0. */
  v128Zero(): this {
    this.code.byte(0xfd).u32(0x0c).bytes(new Uint8Array(16));
    return this;
  }
  call(f: FuncRef): this {
    this.code.byte(0x10).u32(f.index);
    return this;
  }
  br(depth: number): this {
    this.code.byte(0x0c).u32(depth);
    return this;
  }
  brIf(depth: number): this {
    this.code.byte(0x0d).u32(depth);
    return this;
  }
  /** `block … end` (no result); `br 0` inside jumps past the end. */
  block(body: () => void): this {
    this.code.byte(0x02).byte(0x40);
    body();
    return this.op(0x0b);
  }
  /** `loop … end` (no result); `br 0` inside jumps back to the start. */
  loop(body: () => void): this {
    this.code.byte(0x03).byte(0x40);
    body();
    return this.op(0x0b);
  }
  /** `if … end` on the i32 on the stack. */
  if(body: () => void): this {
    this.code.byte(0x04).byte(0x40);
    body();
    return this.op(0x0b);
  }
  /**
   * `for (i = start; i < end; i += step) body` over unsigned i32s, as `block { loop { br_if
   * exit; body; i += step; br loop } }`. `start`, `end` and `step` push one i32 each; the body
   * runs inside two labels, so a `br` in it counts them.
   */
  forLoop(i: Local, start: () => void, end: () => void, step: () => void, body: () => void): this {
    start();
    this.set(i);
    return this.block(() =>
      this.loop(() => {
        this.get(i);
        end();
        this.op(OP.i32_ge_u).brIf(1);
        body();
        this.get(i);
        step();
        this.op(OP.i32_add).set(i).br(0);
      }),
    );
  }
  /** The encoded body: locals (run-length by type) then the instructions and `end`. */
  encode(): ByteWriter {
    const runs: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = new ByteWriter().u32(runs.length);
    for (const [n, t] of runs) body.u32(n).byte(VALTYPE[t]);
    body.bytes(this.code.toBytes()).byte(0x0b);
    return body;
  }
}

/**
 * `i8x16.shuffle` lanes pairing two f64x2 vectors x and y lane by lane: `F64X2_LOW_LANES` gives
 * [x₀, y₀] (bytes 0–7 of each), `F64X2_HIGH_LANES` gives [x₁, y₁] (bytes 8–15 of each).
 *
 * @example
 * ```ts
 * fb.get(x).get(y).i8x16Shuffle(F64X2_LOW_LANES); // [x₀, y₀]
 * ```
 */
export const F64X2_LOW_LANES: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** See {@link F64X2_LOW_LANES}. */
export const F64X2_HIGH_LANES: readonly number[] = F64X2_LOW_LANES.map((b) => b + 8);

/** Opcodes without immediates that the kernels use (plain ones; SIMD ones are in {@link SIMD}). */
export const OP = {
  drop: 0x1a,
  select: 0x1b,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_u: 0x49,
  i32_gt_u: 0x4b,
  i32_le_u: 0x4d,
  i32_ge_u: 0x4f,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_div_u: 0x6e,
  i32_and: 0x71,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  f64_add: 0xa0,
} as const;

/** SIMD opcodes (after the 0xfd prefix) without immediates. */
export const SIMD = {
  v128_and: 0x4e,
  v128_andnot: 0x4f,
  v128_or: 0x50,
  f64x2_nearest: 0x94,
  i64x2_extend_low_i32x4_s: 0xc7,
  i64x2_shl: 0xcb,
  i64x2_add: 0xce,
  f64x2_abs: 0xec,
  f64x2_neg: 0xed,
  f64x2_add: 0xf0,
  f64x2_sub: 0xf1,
  f64x2_mul: 0xf2,
  f64x2_div: 0xf3,
  f64x2_min: 0xf4,
  i32x4_trunc_sat_f64x2_s_zero: 0xfc,
  /** Relaxed SIMD: a·b + c, fused or not as the hardware prefers. */
  f64x2_relaxed_madd: 0x107,
} as const;

/** A memory the module imports as `env.memory`. */
export interface MemoryImport {
  /** Initial size in 64 KiB pages. */
  initial: number;
  /** Maximum size in pages (required when shared). */
  maximum?: number;
  shared?: boolean;
}

/**
 * A module under construction: one imported memory, functions, exports.
 *
 * @example
 * ```ts
 * const mod = new ModuleBuilder({ initial: 1 });
 * mod.func('first', ['i32'], ['i32'], (fb, [p]) => { fb.get(p!).i32Load(); });
 * const bytes = mod.toBytes(); // a complete .wasm binary
 * ```
 */
export class ModuleBuilder {
  private readonly types: string[] = [];
  private readonly funcs: { type: number; body: FuncBuilder }[] = [];
  private readonly exports: { name: string; index: number }[] = [];

  constructor(private readonly memory?: MemoryImport) {}

  private typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}->${results.join(',')}`;
    let i = this.types.indexOf(key);
    if (i < 0) i = this.types.push(key) - 1;
    return i;
  }

  /**
   * Adds a function whose body `build` writes, exported under `name` unless it is `null`.
   * Functions are numbered in the order added, so a function can call those added before it.
   */
  func(
    name: string | null,
    params: readonly ValType[],
    results: readonly ValType[],
    build: (fb: FuncBuilder, params: readonly Local[]) => void,
  ): FuncRef {
    const fb = new FuncBuilder(params);
    build(fb, fb.params);
    const index = this.funcs.push({ type: this.typeIndex(params, results), body: fb }) - 1;
    if (name !== null) this.exports.push({ name, index });
    return { index };
  }

  /** The complete binary module. */
  toBytes(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    const section = (id: number, content: ByteWriter) => out.byte(id).sized(content);

    const types = new ByteWriter().u32(this.types.length);
    for (const key of this.types) {
      const [p, r] = key.split('->').map((s) => (s ? (s.split(',') as ValType[]) : []));
      types.byte(0x60).u32(p!.length);
      for (const t of p!) types.byte(VALTYPE[t]);
      types.u32(r!.length);
      for (const t of r!) types.byte(VALTYPE[t]);
    }
    section(1, types);

    if (this.memory) {
      const { initial, maximum, shared } = this.memory;
      const imports = new ByteWriter().u32(1).name('env').name('memory').byte(0x02);
      if (shared) {
        if (maximum === undefined) throw new Error('wasm emit: a shared memory needs a maximum');
        imports.byte(0x03).u32(initial).u32(maximum);
      } else if (maximum !== undefined) imports.byte(0x01).u32(initial).u32(maximum);
      else imports.byte(0x00).u32(initial);
      section(2, imports);
    }

    const fns = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) fns.u32(f.type);
    section(3, fns);

    const exps = new ByteWriter().u32(this.exports.length);
    for (const e of this.exports) exps.name(e.name).byte(0x00).u32(e.index);
    section(7, exps);

    const code = new ByteWriter().u32(this.funcs.length);
    for (const f of this.funcs) code.sized(f.body.encode());
    section(10, code);
    return out.toBytes();
  }
}
