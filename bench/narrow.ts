/**
 * `npm run bench -- narrow`: thin float64 products (one to seven columns, or up to four rows) on the
 * three CPU routes — the oracle's loops, the narrow WebAssembly kernels (`src/backend/wasm/narrow.ts`)
 * and the GEMM — alternated call by call on one thread; then the engine with the narrow kernels
 * switched off (the routing before them) and on, alternated, on the workloads they were made for:
 * a single example's MLP gradient, a four-column product, the logistic regression's gradient and HVP.
 *
 * @module
 */
import { cpuBackend } from '../src/backend/cpu.ts';
import { setWasmCutoff, WASM_MIN_COLUMNS, WASM_MIN_MACS } from '../src/backend/wasm/backend.ts';
import { wasmMatmul } from '../src/backend/wasm/gemm.ts';
import { wasmNarrowAvailable, wasmNarrowMatmul } from '../src/backend/wasm/narrow.ts';
import {
  type Tensor, add, getBackend, grad, hvp, matmul, mean, randomNormal, setBackend, softmaxCrossEntropy, tanh, tensor,
} from '../src/index.ts';
import { type LogregParams, logregObjective } from './engine.ts';
import { makeLogregProblem } from './peers/problems.ts';
import { timeAlternated } from './peers/timing.ts';

/** Median and best wall time (ms) of each function, timed call by call in alternation. */
async function alternate(fns: (() => unknown)[], rounds: number): Promise<{ median: number; best: number }[]> {
  const timed = await timeAlternated(fns.map((run, i) => ({ key: String(i), run })), { rounds });
  return timed.map((t) => ({ median: t.median, best: Math.min(...t.times) }));
}

/** [m, k, n, transA] of each timed product. */
const SHAPES: readonly (readonly [number, number, number, boolean])[] = [
  [2000, 784, 1, false], [784, 2000, 1, true], [2000, 784, 2, false], [784, 2000, 2, true],
  [2000, 784, 4, false], [784, 2000, 4, true], [1000, 784, 7, false],
  [1, 784, 128, false], [1, 2000, 784, false], [2, 1000, 784, false], [4, 784, 128, false],
];

const key = ([m, k, n, tA]: readonly [number, number, number, boolean]) => `${m}x${k}x${n}${tA ? 't' : ''}`;

/**
 * Times every route on {@link SHAPES} and the engine with the narrow kernels off and on.
 *
 * @example
 * ```ts
 * const r = await benchNarrow({ rounds: 5 });
 * console.log(narrowReport(r).join('\n'));
 * ```
 */
export async function benchNarrow(opts: { rounds?: number } = {}): Promise<Record<string, number>> {
  const rounds = opts.rounds ?? 15;
  const out: Record<string, number> = {};
  if (!wasmNarrowAvailable()) return out;
  for (const s of SHAPES) {
    const [m, k, n, tA] = s;
    const a = Float64Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
    const b = Float64Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
    const [o, w, g] = await alternate([
      () => cpuBackend.matmul(a, b, 1, m, k, n, tA, false),
      () => wasmNarrowMatmul(a, b, 1, m, k, n, tA, false),
      () => wasmMatmul(a, b, 1, m, k, n, tA, false, { threads: 1 }),
    ], rounds);
    for (const [sys, t] of [['oracle', o], ['narrow', w], ['gemm', g]] as const) {
      out[`narrow.${key(s)}.${sys}.ms`] = t!.median;
      out[`narrow.${key(s)}.${sys}.best-ms`] = t!.best;
    }
  }

  // The engine, narrow kernels off (the routing before them) and on, alternated.
  const before = getBackend();
  setBackend('cpu', { threads: 1 });
  try {
    type P = { W1: Tensor; b1: Tensor; W2: Tensor; b2: Tensor };
    const p: P = { W1: randomNormal([784, 128], 1, 0, 0.05), b1: randomNormal([128], 2), W2: randomNormal([128, 10], 3, 0, 0.1), b2: randomNormal([10], 4) };
    const x1 = randomNormal([1, 784], 6), y1 = tensor([[0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]);
    const loss = (q: P) => mean(softmaxCrossEntropy(add(matmul(tanh(add(matmul(x1, q.W1), q.b1)), q.W2), q.b2), y1));
    const X = randomNormal([2000, 784], 8), V = randomNormal([784, 4], 7);
    const lr = logregObjective(makeLogregProblem(0));
    const lrGrad = grad(lr.loss);
    const workloads: [string, () => unknown][] = [
      ['single-example-mlp-grad', () => (grad(loss)(p) as P).W1.toFloat64Array()],
      ['x-times-four-columns', () => matmul(X, V).toFloat64Array()],
      ['logistic-grad', () => (lrGrad(lr.at) as LogregParams).w.toFloat64Array()],
      ['logistic-hvp', () => hvp(lr.loss, lr.at, lr.dir).w.toFloat64Array()],
    ];
    const off = { minColumns: WASM_MIN_COLUMNS, minMacs: WASM_MIN_MACS, narrow: 'none' as const };
    for (const [name, f] of workloads) {
      const [t0, t1] = await alternate([() => (setWasmCutoff(off), f()), () => (setWasmCutoff(), f())], rounds);
      out[`narrow.engine.${name}.off.ms`] = t0!.median;
      out[`narrow.engine.${name}.on.ms`] = t1!.median;
    }
  } finally {
    setWasmCutoff();
    setBackend(before === cpuBackend ? 'reference' : 'cpu');
  }
  return out;
}

/**
 * The `narrow` section's table from {@link benchNarrow}'s results.
 *
 * @example
 * ```ts
 * narrowReport({}); // [] when nothing was measured
 * ```
 */
export function narrowReport(r: Record<string, number>): string[] {
  if (r[`narrow.${key(SHAPES[0]!)}.oracle.ms`] === undefined) return [];
  const f = (x: number | undefined) => (x === undefined ? '—' : x.toPrecision(3));
  const lines = [
    'Thin float64 products, one thread, ms: median of alternated rounds [best]',
    `  ${'m×k×n (t: A stored transposed)'.padEnd(32)}${['oracle', 'narrow', 'gemm'].map((s) => s.padStart(18)).join('')}   oracle/narrow  gemm/narrow`,
  ];
  for (const s of SHAPES) {
    const g = (sys: string) => `${f(r[`narrow.${key(s)}.${sys}.ms`])} [${f(r[`narrow.${key(s)}.${sys}.best-ms`])}]`.padStart(18);
    const ratio = (sys: string) => f(r[`narrow.${key(s)}.${sys}.ms`]! / r[`narrow.${key(s)}.narrow.ms`]!);
    lines.push(`  ${key(s).padEnd(32)}${g('oracle')}${g('narrow')}${g('gemm')}   ${ratio('oracle').padStart(13)}  ${ratio('gemm').padStart(11)}`);
  }
  lines.push('  the engine, narrow kernels off → on (median ms):');
  for (const name of ['single-example-mlp-grad', 'x-times-four-columns', 'logistic-grad', 'logistic-hvp']) {
    const o = r[`narrow.engine.${name}.off.ms`], n = r[`narrow.engine.${name}.on.ms`];
    if (o !== undefined && n !== undefined) lines.push(`    ${name.padEnd(28)} ${f(o)} → ${f(n)}  (${f(o / n)}×)`);
  }
  return lines;
}
