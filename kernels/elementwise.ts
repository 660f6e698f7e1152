/**
 * Elementwise kernels: unary functions, binary functions with numpy broadcasting, and `select`.
 *
 * Each operation is written once, as a tiny function of its operands; the kernel for an operation
 * is generated from it (its statements spliced after the operand loads, see `unarySource`), so the
 * operation sits inline in the kernel body where gpu.js' webasm backend vectorises it. The formulas are written for float32: `log1p` and `tanh` avoid the
 * cancellation and overflow of their textbook forms, `erf` is a series near 0 and a continued
 * fraction for erfc elsewhere, and `pow` gives numpy's answer for a negative base with an integer
 * exponent (GLSL's `pow` is undefined for negative bases).
 *
 * @module
 */
import type { KernelContext, KernelInput, KernelValue, MaybePromise } from './context.ts';
import { sizeOf } from './context.ts';
import { broadcastShapes, collapse, planConstants, planKey, stridedIndexSource } from './plan.ts';
import type { KernelThis } from './types.ts';

// The op vocabulary is the bottom layer's: one list per kind, and the tables below are `Record`s over
// it, so an op without a kernel fails to compile.
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../src/base/op-list.ts';

export { BINARY_OPS, UNARY_OPS };
export type { BinaryOp, UnaryOp };

// The bodies below are translated by gpu.js, not run by Node (except in `cpu` mode): no closures,
// no object literals, only Math functions from gpu.js' supported list.
const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: function applyOp(x: number) {
    return -x;
  },
  exp: function applyOp(x: number) {
    return Math.exp(x);
  },
  log: function applyOp(x: number) {
    return Math.log(x);
  },
  log1p: function applyOp(x: number) {
    // log(1 + x) in float32 loses all relative accuracy as |x| → 0.
    // Near 0 a GPU's log is only accurate to an absolute 2^-21 (GLSL ES 3, WGSL), which would be
    // no relative accuracy at all, so small |x| uses the series, truncated where its first omitted
    // term (x^8/8 ≤ 2^-35 for |x| < 1/16) is below float32 resolution.
    if (Math.abs(x) < 0.0625) {
      return x * (1.0 - x * (0.5 - x * (0.3333333333333333 - x * (0.25 - x * (0.2 - x * (0.16666666666666666 - x * 0.14285714285714285))))));
    }
    // Elsewhere Goldberg's trick: u = 1 + x is rounded, and log(u)·x/(u − 1) divides out exactly
    // that rounding.
    const u = 1.0 + x;
    return (Math.log(u) * x) / (u - 1.0);
  },
  sin: function applyOp(x: number) {
    // GPU sin/cos are only specified on [−π, π] (absolute error 2^-11 in WGSL and Vulkan); reduce
    // the argument there first. 2π is split in two floats so that k·2π keeps ~40 bits.
    const k = Math.floor(x * 0.15915494309189535 + 0.5);
    return Math.sin(x - k * 6.2831854820251465 + k * 1.7484556000744883e-7);
  },
  cos: function applyOp(x: number) {
    const k = Math.floor(x * 0.15915494309189535 + 0.5);
    return Math.cos(x - k * 6.2831854820251465 + k * 1.7484556000744883e-7);
  },
  tanh: function applyOp(x: number) {
    // exp(2x) overflows float32 for x > 44 and some GPU tanh builtins return NaN there. With
    // t = exp(−2|x|) ∈ (0, 1] nothing overflows; for tiny |x| the cubic Taylor term is exact to
    // float32 and avoids the cancellation in 1 − t.
    const ax = Math.abs(x);
    if (ax < 0.0005) {
      return x - (x * x * x) / 3.0;
    }
    const t = Math.exp(-2.0 * ax);
    const r = (1.0 - t) / (1.0 + t);
    if (x < 0.0) {
      return -r;
    }
    return r;
  },
  sqrt: function applyOp(x: number) {
    return Math.sqrt(x);
  },
  abs: function applyOp(x: number) {
    return Math.abs(x);
  },
  sign: function applyOp(x: number) {
    if (x > 0.0) {
      return 1.0;
    }
    if (x < 0.0) {
      return -1.0;
    }
    return 0.0;
  },
  erf: function applyOp(x: number) {
    // |x| < 0.85: the Maclaurin series erf x = (2/√π) Σ (−1)ⁿ x^(2n+1) / (n!·(2n+1)) (Abramowitz &
    // Stegun, Handbook of Mathematical Functions, 7.1.5) through x¹⁹, in Horner form in x². The
    // first omitted term is below 6.4e-10·erf x, and the series keeps full relative accuracy as
    // x → 0, where 1 − erfc x would cancel.
    const ax = Math.abs(x);
    if (ax < 0.85) {
      const u = x * x;
      return x * (1.1283791670955126 - u * (0.37612638903183754 - u * (0.11283791670955126 - u * (0.026866170645131252 - u * (0.005223977625442188 - u * (0.0008548327023450852 - u * (0.00012055332981789664 - u * (0.000014925650358406251 - u * (0.0000016462114365889246 - u * 0.00000016365844691234924)))))))));
    }
    // Elsewhere erf x = 1 − erfc x with the continued fraction (A&S 7.1.14)
    // erfc x = (e^(−x²)/√π) / (x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), cut after 80 partial
    // numerators k/2 and evaluated from the bottom up: all terms are positive, so each step damps
    // the rounding error of the ones below. Truncation: ≤ 3.3e-9 relative at x = 0.85, less beyond.
    // The e^(−x²) factor, whose GPU error grows with x², multiplies erfc x, which is small exactly
    // where x² is large. erf is odd.
    let f = ax;
    for (let i = 0; i < 80; i++) {
      f = ax + (40.0 - 0.5 * i) / f;
    }
    const y = 1.0 - (Math.exp(-ax * ax) * 0.5641895835477563) / f;
    if (x < 0.0) {
      return -y;
    }
    return y;
  },  relu: function applyOp(x: number) {
    if (x <= 0.0) {
      return 0.0;
    }
    return x;
  },
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: function applyOp(a: number, b: number) {
    return a + b;
  },
  sub: function applyOp(a: number, b: number) {
    return a - b;
  },
  mul: function applyOp(a: number, b: number) {
    return a * b;
  },
  div: function applyOp(a: number, b: number) {
    return a / b;
  },
  pow: function applyOp(a: number, b: number) {
    // numpy semantics where float32 can follow them: x**0 = 1, and a negative base with an
    // integral exponent takes the sign of (−1)^b. A negative base with a fractional exponent is
    // NaN in numpy and unspecified on the GPU.
    if (b === 0.0) {
      return 1.0;
    }
    if (a >= 0.0) {
      return Math.pow(a, b);
    }
    const m = Math.pow(-a, b);
    const half = Math.floor(b * 0.5);
    if (b - 2.0 * half === 1.0) {
      return -m;
    }
    return m;
  },
  maximum: function applyOp(a: number, b: number) {
    return Math.max(a, b);
  },
  greater: function applyOp(a: number, b: number) {
    if (a > b) {
      return 1.0;
    }
    return 0.0;
  },
  greaterEqual: function applyOp(a: number, b: number) {
    if (a >= b) {
      return 1.0;
    }
    return 0.0;
  },
  less: function applyOp(a: number, b: number) {
    if (a < b) {
      return 1.0;
    }
    return 0.0;
  },
  lessEqual: function applyOp(a: number, b: number) {
    if (a <= b) {
      return 1.0;
    }
    return 0.0;
  },
  equal: function applyOp(a: number, b: number) {
    if (a === b) {
      return 1.0;
    }
    return 0.0;
  },
  notEqual: function applyOp(a: number, b: number) {
    if (a !== b) {
      return 1.0;
    }
    return 0.0;
  },  // The fused derivative rules (src/base/op-list.ts): a is tanh's output y, b the cotangent.
  tanhGrad: function applyOp(a: number, b: number) {
    return b * (1.0 - a * a);
  },
  reluGrad: function applyOp(a: number, b: number) {
    if (a <= 0.0) {
      return 0.0;
    }
    return b;
  },
};

/** The statements of an op function (what is between its outer braces), for splicing into a kernel. */
function bodyOf(fn: (...xs: number[]) => number): string {
  const src = fn.toString();
  return src.slice(src.indexOf('{') + 1, src.lastIndexOf('}'));
}

// The kernels are generated per operation: the op's statements are spliced, verbatim, after the
// statements that load its operands, so each kernel is one straight body. gpu.js' webasm backend
// vectorises a kernel body four cells at a time (f32x4) but runs every call to a helper function
// once per lane, as scalar code; an op kept in a helper (`functions`) would run scalar. The op
// functions above name their operands `x` (unary) or `a`, `b` (binary); the load prologues below
// use names no op function uses (`xIn`, `aIn`, `bIn`, `rI`, `qI`, `cI`, `ia`, `ib`).
function unarySource(op: UnaryOp): string {
  return `function (xIn) {
  const x = xIn[this.thread.x];
  ${bodyOf(UNARY[op])}
}`;
}

function binarySameSource(op: BinaryOp): string {
  return `function (aIn, bIn) {
  const a = aIn[this.thread.x];
  const b = bIn[this.thread.x];
  ${bodyOf(BINARY[op])}
}`;
}

function binaryBroadcastSource(op: BinaryOp): string {
  return `function (aIn, bIn) {${stridedIndexSource(['A', 'B'])}
  const a = aIn[ia];
  const b = bIn[ib];
  ${bodyOf(BINARY[op])}
}`;
}

function selectBody(this: KernelThis, cond: Float32Array, a: Float32Array, b: Float32Array): number {
  if (cond[this.thread.x] !== 0.0) {
    return a[this.thread.x]!;
  }
  return b[this.thread.x]!;
}

/**
 * Applies a unary function elementwise.
 *
 * @example
 * ```ts
 * await unary(ctx, 'tanh', new Float32Array([-100, 0, 0.5])); // Float32Array [-1, 0, 0.4621…]
 * ```
 */
export function unary(ctx: KernelContext, op: UnaryOp, x: KernelInput, size: number = lengthOf(x)): MaybePromise<KernelValue> {
  if (!Object.hasOwn(UNARY, op)) throw new Error(`unknown unary op ${op}`);
  const k = ctx.kernel(`unary:${op}:${size}`, () => ({ source: unarySource(op), size }));
  return ctx.call(k, [x]);
}

/**
 * Applies a binary function elementwise with numpy broadcasting of `aShape` against `bShape`.
 * The result has the broadcast shape.
 *
 * @example
 * ```ts
 * await binary(ctx, 'add', new Float32Array([1, 2]), [2, 1], new Float32Array([10, 20, 30]), [3]);
 * // Float32Array [11, 21, 31, 12, 22, 32]   (shape [2, 3])
 * ```
 */
export function binary(
  ctx: KernelContext,
  op: BinaryOp,
  a: KernelInput,
  aShape: readonly number[],
  b: KernelInput,
  bShape: readonly number[],
): MaybePromise<KernelValue> {
  if (!Object.hasOwn(BINARY, op)) throw new Error(`unknown binary op ${op}`);
  // Same shapes (every call from the backend) need no broadcasting plan.
  if (aShape.length === bShape.length && aShape.every((d, i) => d === bShape[i])) {
    const size = sizeOf(aShape);
    const k = ctx.kernel(`binary:${op}:${size}`, () => ({ source: binarySameSource(op), size }));
    return ctx.call(k, [a, b]);
  }
  const { shape, strides } = broadcastShapes([aShape, bShape]);
  const size = sizeOf(shape);
  const plan = collapse(shape, strides, [0, 0]);
  const contiguous =
    plan.dims.slice(0, -1).every((d) => d === 1) && plan.strides.every((s) => s[s.length - 1] === 1);
  if (contiguous || size === 1) {
    const k = ctx.kernel(`binary:${op}:${size}`, () => ({ source: binarySameSource(op), size }));
    return ctx.call(k, [a, b]);
  }
  const k = ctx.kernel(`binary:${op}:${planKey(plan)}`, () => ({
    source: binaryBroadcastSource(op),
    size,
    constants: planConstants(plan, ['A', 'B']),
  }));
  return ctx.call(k, [a, b]);
}

/**
 * `cond ≠ 0 ? a : b`, elementwise; all three have `size` elements.
 *
 * @example
 * ```ts
 * await select(ctx, new Float32Array([1, 0]), new Float32Array([5, 6]), new Float32Array([7, 8]));
 * // Float32Array [5, 8]
 * ```
 */
export function select(
  ctx: KernelContext,
  cond: KernelInput,
  a: KernelInput,
  b: KernelInput,
  size: number = lengthOf(cond),
): MaybePromise<KernelValue> {
  const k = ctx.kernel(`select:${size}`, () => ({ source: selectBody, size }));
  return ctx.call(k, [cond, a, b]);
}

/** The length of a host input; device handles need their size passed explicitly. */
export function lengthOf(x: KernelInput): number {
  if (x instanceof Float32Array || Array.isArray(x)) return (x as ArrayLike<number>).length;
  throw new Error('the size of a device handle must be passed explicitly');
}

