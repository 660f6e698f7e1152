/**
 * `npm run bench -- kernel`: the generated GEMM kernels alone, on packed operands already in
 * WebAssembly memory (no packing, no copying C out, one thread), against what this core's fused
 * multiply-add allows.
 *
 * - **Ceiling**: loops of 4, 8, 9 and 12 independent `f64x2.relaxed_madd` chains with no loads. An
 *   FMA has a 4-cycle latency, so a loop of c chains runs at c / 4 FMAs per cycle until the core's
 *   FMA throughput stops it: on the development machine 4 chains ran at half the speed of 8, and
 *   8, 9 and 12 alike (two FMAs per cycle), which is the ceiling a kernel can reach. The 12-chain
 *   loop is also run on every core at once: the ceiling of a product shared by all threads.
 * - **Kernels**: the shipped fused kernel (4 × 6 splatting B, 12 accumulators), the fused 3 × 6
 *   splatting A it replaced (9 accumulators), and the mul + add kernel (2 × 8 splatting A) used
 *   where relaxed SIMD is off; n = 96 (everything in cache), 512 and 1024, alternated call by call.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { ModuleBuilder, OP, SIMD } from '../src/backend/wasm/emit.ts';
import { gemmKernelFor, relaxedSimdProbe, standaloneGemm, type GemmKernelShape } from '../src/backend/wasm/gemm-module.ts';
import { KC, MC_ROWS } from '../src/backend/wasm/gemm.ts';
import { timeAlternated } from './peers/timing.ts';

/** The kernels timed, by name. */
const KERNELS: readonly (readonly [string, GemmKernelShape])[] = [
  ['fma-4x6-splatB', gemmKernelFor(true)],
  ['fma-3x6-splatA', { mr: 3, nr: 6, fma: true, splat: 'a' }],
  ['muladd-2x8-splatA', gemmKernelFor(false)],
];
const CHAINS = [4, 8, 9, 12] as const;

/**
 * Floating-point operations in one call `f(trips)` of {@link chainModule}`(chains)`: each trip
 * does one f64x2 FMA per chain, a multiply and an add in each of two lanes.
 *
 * @example
 * ```ts
 * chainFlops(12, 5e6); // 2.4e8
 * ```
 */
export function chainFlops(chains: number, trips: number): number {
  return 4 * chains * trips;
}

/**
 * A module exporting `f(n)`: n trips of `chains` independent f64x2 FMAs, returning their sum
 * ({@link chainFlops} of them).
 *
 * @example
 * ```ts
 * const f = new WebAssembly.Instance(chainModule(12)).exports.f as (n: number) => number;
 * f(5e6); // 2.4e8 flops
 * ```
 */
export function chainModule(chains: number): WebAssembly.Module {
  const mod = new ModuleBuilder();
  mod.func('f', ['i32'], ['f64'], (fb, [n]) => {
    const acc = Array.from({ length: chains }, () => fb.local('v128'));
    const a = fb.local('v128'), b = fb.local('v128');
    fb.f64x2Const(1.0000001).set(a).f64x2Const(0.999999).set(b);
    for (const c of acc) fb.f64x2Const(0.5).set(c);
    fb.loop(() => {
      for (const c of acc) fb.madd(true, a, b, c);
      fb.get(n!).i32Const(1).op(OP.i32_sub).tee(n!).brIf(0);
    });
    // The sum of every chain: a chain whose result is not used is dead code, which V8 removes
    // (returning one chain alone timed one chain and reported it as c).
    fb.get(acc[0]!);
    for (const c of acc.slice(1)) fb.get(c).simd(SIMD.f64x2_add);
    fb.f64x2ExtractLane(0);
  });
  return new WebAssembly.Module(mod.toBytes());
}

/** Threads that call one export together, round after round (see {@link startTogether}). */
export interface Together {
  /** Runs one round: every thread calls the export once; returns the round's wall time in ms. */
  round(): number;
  /** Stops and terminates the workers. */
  close(): Promise<void>;
}

/**
 * Starts `args.length − 1` workers which, with this thread, call export `name` of `module` at
 * the same time, thread t with `args[t]`, once per {@link Together.round}, started together
 * through a shared counter. `memory`, when given, is imported as `env.memory` (shared, so every
 * thread computes over the same operands). Every thread has called the export once (untimed)
 * when the promise resolves.
 *
 * @example
 * ```ts
 * const t = await startTogether(chainModule(12), undefined, 'f', [[5e6], [5e6]]);
 * const ms = t.round(); // both cores, one loop each
 * await t.close();
 * ```
 */
export async function startTogether(
  module: WebAssembly.Module, memory: WebAssembly.Memory | undefined, name: string, args: number[][],
): Promise<Together> {
  const { Worker } = await import('node:worker_threads');
  const imports: WebAssembly.Imports = memory ? { env: { memory } } : {};
  const fn = new WebAssembly.Instance(module, imports).exports[name] as (...a: number[]) => unknown;
  // [0] round number (workers start a round when it changes; −1: stop), [1] rounds finished, [2] ready.
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  const workers = args.slice(1).map((mine) => new Worker(`
    const { workerData: { module, memory, name, mine, ctl } } = require('node:worker_threads');
    const fn = new WebAssembly.Instance(module, memory ? { env: { memory } } : {}).exports[name];
    fn(...mine);
    Atomics.add(ctl, 2, 1); Atomics.notify(ctl, 2);
    for (let seen = 0;;) {
      Atomics.wait(ctl, 0, seen);
      seen = Atomics.load(ctl, 0);
      if (seen < 0) break;
      fn(...mine);
      Atomics.add(ctl, 1, 1); Atomics.notify(ctl, 1);
    }`, { eval: true, workerData: { module, memory, name, mine, ctl } }));
  const close = async () => {
    Atomics.store(ctl, 0, -1);
    Atomics.notify(ctl, 0);
    await Promise.all(workers.map((w) => w.terminate()));
  };
  try {
    for (let r = Atomics.load(ctl, 2); r < workers.length; r = Atomics.load(ctl, 2)) Atomics.wait(ctl, 2, r, 100);
    fn(...args[0]!);
  } catch (e) {
    await close();
    throw e;
  }
  let round = 0;
  return {
    round() {
      round++;
      const t = performance.now();
      Atomics.store(ctl, 0, round);
      Atomics.notify(ctl, 0);
      fn(...args[0]!);
      for (let d = Atomics.load(ctl, 1); d < round * workers.length; d = Atomics.load(ctl, 1)) Atomics.wait(ctl, 1, d);
      return performance.now() - t;
    },
    close,
  };
}

/** Best wall time (ms) of `rounds` rounds of {@link startTogether}'s threads. */
async function bestTogether(
  module: WebAssembly.Module, memory: WebAssembly.Memory | undefined, name: string, args: number[][], rounds = 5,
): Promise<number> {
  const together = await startTogether(module, memory, name, args);
  try {
    let best = Infinity;
    for (let r = 0; r < rounds; r++) best = Math.min(best, together.round());
    return best;
  } finally {
    await together.close();
  }
}

/**
 * GFLOP/s of a loop of `chains` independent f64x2 FMA chains (4 flops per FMA), best of 5, on
 * `threads` threads at the same time: with more than one, what the cores allow together (on a
 * shared machine not `threads` times one core).
 */
async function fmaChains(chains: number, threads = 1): Promise<number> {
  const iterations = 5e6;
  const ms = await bestTogether(chainModule(chains), undefined, 'f', Array.from({ length: threads }, () => [iterations]));
  return (threads * chainFlops(chains, iterations)) / ms / 1e6;
}

/**
 * GFLOP/s of the shipped kernel alone on `threads` threads at once over one n × n × n product in
 * a shared memory, each computing an equal share of C's row panels (no packing, no copying, no
 * claims): how the kernel itself scales, against which the engine's threads are judged.
 */
async function kernelTogether(n: number, threads: number): Promise<number> {
  const shape = KERNELS[0]![1];
  const g = standaloneGemm(shape, n, n, n, { kc: KC, mcPanels: Math.ceil(MC_ROWS / shape.mr) }, true);
  for (let i = g.aBase; i < g.cBase; i++) g.H[i] = Math.sin(i);
  const share = (t: number) => [1024, Math.floor((t * g.mp) / threads), Math.floor(((t + 1) * g.mp) / threads), 0, n];
  const ms = await bestTogether(g.module, g.memory, 'gemm', Array.from({ length: threads }, (_, t) => share(t)));
  return (2 * n ** 3) / ms / 1e6;
}

/** One kernel over n × n × n packed operands in its own memory: a call computes C once. */
function kernelRun(shape: GemmKernelShape, n: number): () => void {
  // The engine's blocking, so that the kernel is timed as the engine runs it.
  const g = standaloneGemm(shape, n, n, n, { kc: KC, mcPanels: Math.ceil(MC_ROWS / shape.mr) });
  for (let i = g.aBase; i < g.cBase; i++) g.H[i] = Math.sin(i);
  return g.run;
}

/**
 * The ceiling and every kernel at every size. Keys: `kernel.chains-<c>.gflops`,
 * `kernel.<name>.<n>.gflops` (median of alternated rounds) and `.best-gflops`.
 *
 * @example
 * ```ts
 * const r = await benchKernels({ sizes: [512] });
 * r['kernel.fma-4x6-splatB.512.gflops'] / r['kernel.fma-3x6-splatA.512.gflops']; // 12 against 9 accumulators
 * ```
 */
export async function benchKernels(opts: { sizes?: number[] } = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  if (!WebAssembly.validate(relaxedSimdProbe())) return out;
  for (const c of CHAINS) out[`kernel.chains-${c}.gflops`] = await fmaChains(c);
  const cores = availableParallelism();
  if (cores > 1) {
    out['kernel.cores'] = cores;
    out['kernel.chains-12-together.gflops'] = await fmaChains(12, cores);
    out['kernel.together.1024.best-gflops'] = await kernelTogether(1024, cores);
  }
  for (const n of opts.sizes ?? [96, 512, 1024]) {
    // Small sizes repeat the product so each timed call is a few milliseconds.
    const repeat = Math.max(1, Math.round(2e7 / n ** 3));
    const systems = KERNELS.map(([name, shape]) => {
      const once = kernelRun(shape, n);
      return { key: name, run: () => { for (let r = 0; r < repeat; r++) once(); } };
    });
    const timed = await timeAlternated(systems, { rounds: n >= 1024 ? 7 : 15, warmup: 2 });
    const flops = 2 * n ** 3 * repeat;
    for (const t of timed) {
      out[`kernel.${t.key}.${n}.gflops`] = flops / t.median / 1e6;
      out[`kernel.${t.key}.${n}.best-gflops`] = flops / Math.min(...t.times) / 1e6;
    }
  }
  return out;
}

/**
 * The printed table of {@link benchKernels}' results (empty when there are none).
 *
 * @example
 * ```ts
 * console.log(kernelReport(await benchKernels()).join('\n'));
 * ```
 */
export function kernelReport(r: Record<string, number>): string[] {
  if (r['kernel.chains-12.gflops'] === undefined) return [];
  const f = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(1));
  const ceiling = r['kernel.chains-12.gflops']!;
  const lines = [
    'GEMM kernels alone (packed operands, one thread), GFLOP/s median [best] of alternated rounds',
    `  FMA ceiling, independent chains without loads: ${CHAINS.map((c) => `${c} chains ${f(r[`kernel.chains-${c}.gflops`])}`).join(', ')}`,
  ];
  const together = r['kernel.chains-12-together.gflops'];
  if (together !== undefined) {
    lines.push(`  on all ${r['kernel.cores']} cores at once: 12 chains ${f(together)} (${(together / ceiling).toFixed(2)}× one core)`);
    const shared = r['kernel.together.1024.best-gflops'];
    if (shared !== undefined) {
      lines.push(`  the 4×6 kernel alone on all ${r['kernel.cores']} cores, n = 1024, equal shares of C: ${f(shared)} best, ${((100 * shared) / together).toFixed(0)}% of the chains on all cores`);
    }
  }
  const sizes = [...new Set(Object.keys(r).map((k) => /^kernel\.[^.]+\.(\d+)\.gflops$/.exec(k)?.[1]).filter((x) => x !== undefined))].map(Number).sort((a, b) => a - b);
  for (const n of sizes) {
    const cells = KERNELS.map(([name]) => `${name} ${f(r[`kernel.${name}.${n}.gflops`])} [${f(r[`kernel.${name}.${n}.best-gflops`])}]`);
    const shipped = r[`kernel.${KERNELS[0]![0]}.${n}.gflops`]!, before = r[`kernel.${KERNELS[1]![0]}.${n}.gflops`]!;
    lines.push(`  n = ${String(n).padStart(4)}: ${cells.join('   ')}`);
    lines.push(`          4×6 / 3×6 ${(shipped / before).toFixed(2)}×, 4×6 at ${((100 * shipped) / ceiling).toFixed(0)}% of 12 chains`);
  }
  return lines;
}
