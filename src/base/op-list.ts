/**
 * The elementwise and reduction op vocabulary, written once.
 *
 * Every list here is the single source of its fact: the op-name types derive from it, the CPU
 * backend's evaluation and the gpu.js kernel table are `Record`s keyed by it (so a missing entry
 * fails `tsc`), and the CPU and kernel tests iterate over it (so a new op is tested without
 * touching the test loops). Adding an elementwise op starts with one entry here.
 *
 * @module
 */

/**
 * Elementwise functions of one argument.
 *
 * @example
 * ```ts
 * UNARY_OPS.includes('tanh'); // true
 * ```
 */
export const UNARY_OPS = ['neg', 'exp', 'log', 'log1p', 'sin', 'cos', 'tanh', 'sqrt', 'abs', 'sign', 'erf', 'relu'] as const;

/** The name of an elementwise function of one argument. */
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * Elementwise functions of two same-shaped arguments. Comparisons return 1 or 0. The last two are
 * fused derivative rules, one pass where the composite takes three or four (they earn their place
 * by speed, bench/README.md): `tanhGrad(y, g) = g · (1 − y²)` (tanh's rule from its output) and
 * `reluGrad(x, g) = x ≤ 0 ? 0 : g` (ReLU's; NaN in x passes g, as relu passes NaN).
 *
 * @example
 * ```ts
 * BINARY_OPS.filter((op) => op.startsWith('less')); // ['less', 'lessEqual']
 * ```
 */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum',
  'greater', 'greaterEqual', 'less', 'lessEqual', 'equal', 'notEqual',
  'tanhGrad', 'reluGrad',
] as const;

/** The name of an elementwise function of two arguments. */
export type BinaryOp = (typeof BINARY_OPS)[number];

/**
 * Reductions over a set of axes.
 *
 * @example
 * ```ts
 * REDUCE_OPS; // ['sum', 'max']
 * ```
 */
export const REDUCE_OPS = ['sum', 'max'] as const;

/** The name of a reduction. */
export type ReduceOp = (typeof REDUCE_OPS)[number];
