/**
 * `npm run bench -- staging`: how operands reach the WebAssembly kernels, before and after, each
 * pair alternated call by call on one thread.
 *
 * - Narrow products: M copied whole into the kernel's memory, then streamed (`setNarrowSlice(Infinity)`),
 *   against M copied and streamed one 1 MiB slice at a time (the default).
 * - GEMM: operands packed into panels by JavaScript loops (`setWasmPacking(false)`) against rows
 *   staged a slice at a time and packed by the WebAssembly packers (the default).
 *
 * - tanh of 128,000 values (the MLP's hidden layer): `Math.tanh` per element (`setWasmTanh(false)`)
 *   against the WebAssembly SIMD kernel.
 *
 * Then the engine workloads these paths serve, with all three off and on: the logistic
 * regression's HVP and issue 12's MLP (784 → 128 → 10, 1000 rows) gradient and HVP.
 *
 * @module
 */
import { cpuBackend } from '../src/backend/cpu.ts';
import { STAGING_SLICE, wasmGemmAvailable, wasmMatmul } from '../src/backend/wasm/gemm.ts';
import { setWasmPacking } from '../src/backend/wasm/packing.ts';
import { setNarrowSlice, wasmNarrowAvailable, wasmNarrowMatmul } from '../src/backend/wasm/narrow.ts';
import { setWasmTanh } from '../src/backend/wasm/tanh.ts';
import { fastCpuBackend } from '../src/backend/wasm/backend.ts';
import { getBackend, grad, hvp, setBackend } from '../src/index.ts';
import { type LogregParams, logregObjective, softmaxMlpObjective } from './engine.ts';
import { makeLogregProblem, makeSoftmaxMlpProblem } from './peers/problems.ts';
import { timeAlternated } from './peers/timing.ts';

/** [name, m, k, n, transA, transB] of the timed products. */
const NARROW: readonly (readonly [string, number, number, number, boolean])[] = [
  ['2000x784x1', 2000, 784, 1, false], ['784x2000x2t', 784, 2000, 2, true], ['2000x784x2', 2000, 784, 2, false], ['784x2000x4t', 784, 2000, 4, true],
];
const GEMM: readonly (readonly [string, number, number, number, boolean, boolean])[] = [
  ['512² AB', 512, 512, 512, false, false], ['512² AtB', 512, 512, 512, true, false], ['512² ABt', 512, 512, 512, false, true],
  ['1000x784x128 (X·W1)', 1000, 784, 128, false, false], ['784x1000x128 t (Xᵀ·G)', 784, 1000, 128, true, false],
];
const ENGINE = ['logistic-hvp', 'mlp-grad', 'mlp-hvp'] as const;

/** Median wall time (ms) of the `before` and `after` variants, alternated. */
async function pair(before: () => unknown, after: () => unknown, rounds: number): Promise<[number, number]> {
  const [b, a] = await timeAlternated([{ key: 'before', run: before }, { key: 'after', run: after }], { rounds, warmup: 3 });
  return [b!.median, a!.median];
}

/**
 * Times every pair above.
 *
 * @example
 * ```ts
 * console.log(stagingReport(await benchStaging({ rounds: 5 })).join('\n'));
 * ```
 */
export async function benchStaging(opts: { rounds?: number } = {}): Promise<Record<string, number>> {
  const rounds = opts.rounds ?? 15;
  const out: Record<string, number> = {};
  if (!wasmGemmAvailable() || !wasmNarrowAvailable()) return out;
  const values = (n: number, s: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(s + i * 0.37));
  const record = (row: string, [b, a]: [number, number]) => {
    out[`staging.${row}.before.ms`] = b;
    out[`staging.${row}.after.ms`] = a;
  };
  try {
    for (const [name, m, k, n, tA] of NARROW) {
      const a = values(m * k, 1), b = values(k * n, 2);
      const run = () => wasmNarrowMatmul(a, b, 1, m, k, n, tA, false);
      record(`narrow.${name}`, await pair(() => (setNarrowSlice(Infinity), run()), () => (setNarrowSlice(STAGING_SLICE), run()), rounds));
    }
    for (const [name, m, k, n, tA, tB] of GEMM) {
      const a = values(m * k, 3), b = values(k * n, 4);
      const run = () => wasmMatmul(a, b, 1, m, k, n, tA, tB, { threads: 1 });
      record(`gemm.${name}`, await pair(() => (setWasmPacking(false), run()), () => (setWasmPacking(true), run()), rounds));
    }
    {
      const x = values(128_000, 5);
      const run = () => fastCpuBackend.unary('tanh', x, x.length);
      record('tanh.128000', await pair(() => (setWasmTanh(false), run()), () => (setWasmTanh(true), run()), rounds));
    }
    const before = getBackend();
    setBackend('cpu', { threads: 1 });
    try {
      const lr = logregObjective(makeLogregProblem(0));
      const sm = softmaxMlpObjective(makeSoftmaxMlpProblem(0));
      const smGrad = grad(sm.loss);
      const work: Record<(typeof ENGINE)[number], () => unknown> = {
        'logistic-hvp': () => (hvp(lr.loss, lr.at, lr.dir) as LogregParams).w.toFloat64Array(),
        'mlp-grad': () => (smGrad(sm.at) as { W1: { toFloat64Array(): Float64Array } }).W1.toFloat64Array(),
        'mlp-hvp': () => hvp(sm.loss, sm.at, sm.dir).W1.toFloat64Array(),
      };
      const off = () => (setNarrowSlice(Infinity), setWasmPacking(false), setWasmTanh(false));
      const on = () => (setNarrowSlice(STAGING_SLICE), setWasmPacking(true), setWasmTanh(true));
      for (const name of ENGINE) {
        record(`engine.${name}`, await pair(() => (off(), work[name]()), () => (on(), work[name]()), Math.max(5, Math.round(rounds * (name === 'logistic-hvp' ? 2 : 0.6)))));
      }
    } finally {
      setBackend(before === cpuBackend ? 'reference' : 'cpu');
    }
  } finally {
    setNarrowSlice(STAGING_SLICE);
    setWasmPacking(true);
    setWasmTanh(true);
  }
  return out;
}

/**
 * The `staging` section's table from {@link benchStaging}'s results.
 *
 * @example
 * ```ts
 * stagingReport({}); // [] when nothing was measured
 * ```
 */
export function stagingReport(r: Record<string, number>): string[] {
  const rows = [
    ...NARROW.map(([name]) => [`narrow.${name}`, `narrow ${name}: M whole → 1 MiB slices`]),
    ...GEMM.map(([name]) => [`gemm.${name}`, `GEMM ${name}: JavaScript packing → WebAssembly packers`]),
    ['tanh.128000', 'tanh of 128,000 values: Math.tanh → WebAssembly kernel'],
    ...ENGINE.map((name) => [`engine.${name}`, `engine ${name}: all three off → on`]),
  ];
  if (r[`staging.${rows[0]![0]}.before.ms`] === undefined) return [];
  const f = (x: number) => x.toPrecision(3);
  const lines = ['Staging operands for the WebAssembly kernels, one thread, median ms of alternated rounds (before → after)'];
  for (const [key, label] of rows) {
    const b = r[`staging.${key}.before.ms`], a = r[`staging.${key}.after.ms`];
    if (b !== undefined && a !== undefined) lines.push(`  ${label!.padEnd(72)} ${f(b).padStart(7)} → ${f(a).padStart(7)}  (${f(b / a)}×)`);
  }
  return lines;
}
