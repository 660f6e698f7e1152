/**
 * `npm run bench -- matmul`: float64 matrix products on the CPU, every system alternated call by
 * call in one run so that load from other processes on this shared machine hits all of them
 * alike. Systems: the plain TypeScript oracle (`setBackend('reference')`), the WebAssembly SIMD
 * kernel on one thread and on every core (the default `cpu` backend), and jax-js 0.1.25 (wasm
 * backend, float64, single-threaded in Node). Forms: C = A·B, Aᵀ·B and A·Bᵀ (the backward pass's
 * products) for the WebAssembly kernel and the oracle; A·B for jax-js.
 *
 * Each product is checked against the oracle before it is timed (one row, within 1e-9 relative).
 *
 * @module
 */
import { cpuBackend } from '../src/backend/cpu.ts';
import { clearF64Pool, releaseF64 } from '../src/backend/f64-pool.ts';
import { defaultThreads, warmGemmThreads, wasmGemmInfo, wasmMatmul } from '../src/backend/wasm/gemm.ts';
import { chainFlops, chainModule, startTogether } from './kernel.ts';
import { median, timeAlternated } from './peers/timing.ts';

/** The products timed: plain, A transposed, B transposed. */
export const FORMS = [
  { name: 'AB', tA: false, tB: false },
  { name: 'AtB', tA: true, tB: false },
  { name: 'ABt', tA: false, tB: true },
] as const;

/** Options for {@link benchCpuMatmul}. */
export interface MatmulBenchOptions {
  /** Square sizes n (2n³ flops per product). Default 256, 512, 1024. */
  sizes?: number[];
  /** Timed rounds per size; each round calls every system once per form. Default 9 (5 at n ≥ 1024). */
  rounds?: (n: number) => number;
  /** Include jax-js (default true). */
  jaxjs?: boolean;
}

type Jax = typeof import('@jax-js/jax');

/**
 * GFLOP/s (median over alternated rounds, best, and by best process CPU time) for every system
 * and form. Result keys: `cpu-matmul.<system>.<form>.<n>.gflops`, `.best-gflops` and
 * `.cputime-gflops`, systems `oracle`, `wasm-1t`, `wasm-<T>t` (T = all cores) and `jaxjs`.
 *
 * @example
 * ```ts
 * const r = await benchCpuMatmul({ sizes: [512] });
 * r['cpu-matmul.wasm-1t.AB.512.gflops'] / r['cpu-matmul.oracle.AB.512.gflops']; // the speed-up
 * ```
 */
export async function benchCpuMatmul(opts: MatmulBenchOptions = {}): Promise<Record<string, number>> {
  const sizes = opts.sizes ?? [256, 512, 1024];
  const rounds = opts.rounds ?? ((n: number) => (n >= 1024 ? 5 : 9));
  const all = defaultThreads();
  const ready = warmGemmThreads(all, 10_000);
  const out: Record<string, number> = { 'cpu-matmul.threads': all, 'cpu-matmul.threads-ready': ready };
  const info = wasmGemmInfo();
  if (info) out['cpu-matmul.kernel.fma'] = info.kernel.fma ? 1 : 0;

  let jax: Jax | undefined;
  if (opts.jaxjs ?? true) {
    const { loadJaxJs } = await import('./peers/jaxjs.ts');
    jax = await loadJaxJs();
  }

  for (const n of sizes) {
    const A = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
    const B = Float64Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
    type Sys = { key: string; form: string; run: () => unknown };
    const systems: Sys[] = [];
    for (const f of FORMS) {
      const want = cpuBackend.matmul(A, B, 1, n, n, n, f.tA, f.tB) as Float64Array;
      const add = (key: string, run: () => Float64Array | undefined) => {
        checkRow(`${key} ${f.name} ${n}`, run()!, want, n);
        systems.push({ key, form: f.name, run });
      };
      add('oracle', () => cpuBackend.matmul(A, B, 1, n, n, n, f.tA, f.tB) as Float64Array);
      add('wasm-1t', () => wasmMatmul(A, B, 1, n, n, n, f.tA, f.tB, { threads: 1 }));
      if (all > 1) add(`wasm-${all}t`, () => wasmMatmul(A, B, 1, n, n, n, f.tA, f.tB, { threads: all }));
    }
    let dispose = () => {};
    if (jax) {
      const { numpy: np } = jax;
      const a = np.array(A).reshape([n, n]);
      const b = np.array(B).reshape([n, n]);
      const c = np.matmul(a.ref, b.ref).dataSync();
      if (!(c instanceof Float64Array)) throw new Error(`jax-js float64 matmul returned ${c.constructor.name}`);
      checkRow(`jax-js AB ${n}`, c, cpuBackend.matmul(A, B, 1, n, n, n, false, false) as Float64Array, n);
      // jax-js is lazy: blockUntilReady forces the product (without an 8 MB read-back, which the
      // other systems' times include), as in bench/peers/jaxjs.ts.
      systems.push({
        key: 'jaxjs',
        form: 'AB',
        run: async () => {
          const c = np.matmul(a.ref, b.ref);
          await c.blockUntilReady();
          c.dispose();
        },
      });
      dispose = () => {
        a.dispose();
        b.dispose();
      };
    }
    // One warm-up round pays for compilation, memory growth and worker start.
    clearF64Pool();
    const timed = await timeAlternated(systems, { rounds: rounds(n), warmup: 1 });
    dispose();
    // A loop whose results are released (`tidy`) gets each result array back from the pool
    // (src/backend/f64-pool.ts) instead of faulting a fresh one in. Timed in rounds of its own
    // (alternated with the systems above, those would take the arrays it releases), one thread
    // and all threads alternated, twice the rounds: the two-thread figure swings most. All
    // threads also with both operands packed before the workers wake (`pipelineMinMacs:
    // Infinity`), against the default, where the calling thread packs while they compute.
    const reused = (all > 1 ? [1, all] : [1]).map((threads) => ({
      key: `reused-${threads}t`,
      run: () => releaseF64(wasmMatmul(A, B, 1, n, n, n, false, false, { threads })!),
    }));
    if (all > 1) {
      reused.push({
        key: `reused-${all}t-packed-first`,
        run: () => releaseF64(wasmMatmul(A, B, 1, n, n, n, false, false, { threads: all, pipelineMinMacs: Infinity })!),
      });
    }
    for (const t of await timeAlternated(reused, { rounds: 2 * rounds(n), warmup: 2 })) {
      const key = `cpu-matmul.${t.key}.AB.${n}`;
      out[`${key}.gflops`] = (2 * n ** 3) / (t.median * 1e6);
      out[`${key}.best-gflops`] = (2 * n ** 3) / (Math.min(...t.times) * 1e6);
    }
    clearF64Pool();
    timed.forEach((t, i) => {
      const key = `cpu-matmul.${t.key}.${systems[i]!.form}.${n}`;
      out[`${key}.gflops`] = (2 * n ** 3) / (t.median * 1e6);
      out[`${key}.best-gflops`] = (2 * n ** 3) / (Math.min(...t.times) * 1e6);
      // Process CPU time (all threads): for a one-thread system, its speed when it has a core,
      // whatever the load from other processes; not meaningful for the threaded runs.
      out[`${key}.cputime-gflops`] = (2 * n ** 3) / (t.bestCpu * 1e6);
    });
  }
  return out;
}

/**
 * Issue 12's two matmul targets measured against the FMA ceiling of the same seconds. The
 * machine's speed swings by 15–35% from minute to minute, so a product timed in one minute and a
 * ceiling timed in another give a fraction that means little (a run once put 1024² on two
 * threads at 101% of a ceiling measured a minute later). Here every round times, in turn, the
 * 12-chain FMA loop on this thread, A·B at 512² on one thread, the loop on every core at once
 * and A·B at 1024² on every thread (results released, as in a loop under `tidy`), each loop
 * before and after its product (the faster of the two is the round's ceiling), and the fraction
 * is taken round by round. Keys `cpu-matmul.target.<n>-<T>t.` + `gflops` (median), `best-gflops`,
 * `ceiling-gflops` (median), `fraction` (median of the rounds' fractions), `fraction-low` and
 * `fraction-high`. Empty where relaxed SIMD is off (the loop needs its fused multiply-add).
 *
 * @example
 * ```ts
 * const r = await benchMatmulTargets();
 * r['cpu-matmul.target.512-1t.fraction']; // e.g. 0.9: 90% of the one-core ceiling
 * ```
 */
export async function benchMatmulTargets(rounds = 21): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const info = wasmGemmInfo();
  if (!info?.kernel.fma) return out;
  const all = defaultThreads();
  warmGemmThreads(all, 10_000);
  const trips = 1.5e7; // ~30 ms a loop: a late wake-up or a timer tick is a small part of it
  const chains = 12, loop = chainModule(chains);
  const one = await startTogether(loop, undefined, 'f', [[trips]]);
  const loops = [one, await startTogether(loop, undefined, 'f', Array.from({ length: all }, () => [trips])).catch(async (e: unknown) => {
    await one.close();
    throw e;
  })];
  const targets = [
    { key: `512-1t`, n: 512, threads: 1, loop: loops[0]!, cores: 1 },
    { key: `1024-${all}t`, n: 1024, threads: all, loop: loops[1]!, cores: all },
  ].map((t) => ({
    ...t,
    A: Float64Array.from({ length: t.n * t.n }, (_, i) => Math.sin(i * 0.37)),
    B: Float64Array.from({ length: t.n * t.n }, (_, i) => Math.cos(i * 0.11)),
    speeds: [] as number[],
    ceilings: [] as number[],
  }));
  try {
    clearF64Pool();
    const product = (t: (typeof targets)[number]) => releaseF64(wasmMatmul(t.A, t.B, 1, t.n, t.n, t.n, false, false, { threads: t.threads })!);
    for (const t of targets) product(t); // compilation, memory growth, worker start
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const before = t.loop.round();
        const start = performance.now();
        product(t);
        const ms = performance.now() - start;
        const after = t.loop.round();
        t.speeds.push((2 * t.n ** 3) / ms / 1e6);
        t.ceilings.push((t.cores * chainFlops(chains, trips)) / Math.min(before, after) / 1e6);
      }
    }
  } finally {
    await Promise.all(loops.map((l) => l.close()));
    clearF64Pool();
  }
  for (const t of targets) {
    const fractions = t.speeds.map((s, i) => s / t.ceilings[i]!);
    const key = `cpu-matmul.target.${t.key}`;
    out[`${key}.gflops`] = median(t.speeds);
    out[`${key}.best-gflops`] = Math.max(...t.speeds);
    out[`${key}.ceiling-gflops`] = median(t.ceilings);
    out[`${key}.fraction`] = median(fractions);
    out[`${key}.fraction-low`] = Math.min(...fractions);
    out[`${key}.fraction-high`] = Math.max(...fractions);
  }
  return out;
}

/**
 * Checks row n/2 of an n × n product `got` against `want`, relative 1e-9 (rounding differences
 * are ~1e-15), and throws naming the first wrong entry.
 *
 * @example
 * ```ts
 * checkRow('wasm AB 512', wasmMatmul(A, B, 1, n, n, n, false, false)!, oracleC, n);
 * ```
 */
export function checkRow(what: string, got: Float64Array, want: Float64Array, n: number): void {
  const i = n >> 1;
  for (let j = 0; j < n; j++) {
    const g = got[i * n + j]!, w = want[i * n + j]!;
    if (!(Math.abs(g - w) <= 1e-9 * (1 + Math.abs(w)))) throw new Error(`bench matmul: ${what}: C[${i},${j}] = ${g}, oracle ${w}`);
  }
}

/**
 * The report's lines: GFLOP/s per size, system and form (median of alternated rounds, best in
 * brackets), then the ratios the targets are stated in.
 *
 * @example
 * ```ts
 * console.log(matmulReport(await benchCpuMatmul()).join('\n'));
 * ```
 */
export function matmulReport(r: Record<string, number>): string[] {
  // The per-size rows (`cpu-matmul.<system>.<form>.<n>.gflops`); the targets' keys are read below.
  const keys = Object.keys(r).filter((k) => k.endsWith('.gflops') && !k.startsWith('cpu-matmul.target.'));
  if (!keys.length) return [];
  const all = r['cpu-matmul.threads'] ?? 1;
  const systems = ['oracle', 'wasm-1t', ...(all > 1 ? [`wasm-${all}t`] : []), 'jaxjs'];
  const sizes = [...new Set(keys.map((k) => Number(k.split('.').at(-2))))].sort((a, b) => a - b);
  const f = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(1));
  const g = (s: string, form: string, n: number) => r[`cpu-matmul.${s}.${form}.${n}.gflops`];
  const lines = [
    `Float64 matmul on the CPU, GFLOP/s, median of alternated rounds [best] (kernel: ${r['cpu-matmul.kernel.fma'] ? 'relaxed-SIMD FMA' : 'mul + add'}, ${all} cores, ${r['cpu-matmul.threads-ready']} threads ready)`,
    `  ${'n  form'.padEnd(10)}${systems.map((s) => s.padStart(16)).join('')}`,
  ];
  for (const n of sizes) {
    for (const form of FORMS.map((x) => x.name)) {
      const cells = systems.map((s) => {
        const v = g(s, form, n);
        return (v === undefined ? '—' : `${f(v)} [${f(r[`cpu-matmul.${s}.${form}.${n}.best-gflops`])}]`).padStart(16);
      });
      lines.push(`  ${`${n}  ${form}`.padEnd(10)}${cells.join('')}`);
    }
  }
  lines.push('  one-thread systems by best process CPU time (what they reach when they hold a core):');
  for (const n of sizes) {
    const cells = ['oracle', 'wasm-1t', 'jaxjs'].flatMap((s) =>
      FORMS.map((x) => x.name)
        .filter((form) => r[`cpu-matmul.${s}.${form}.${n}.cputime-gflops`] !== undefined)
        .map((form) => `${s} ${form} ${f(r[`cpu-matmul.${s}.${form}.${n}.cputime-gflops`])}`),
    );
    lines.push(`    ${String(n).padStart(4)}: ${cells.join(', ')}`);
  }
  const reused = sizes.filter((n) => g('reused-1t', 'AB', n) !== undefined);
  if (reused.length) {
    lines.push('  A·B with the result array reused (a loop under tidy; its one and all threads alternated on their own, all threads also packing first), GFLOP/s median [best]:');
    for (const n of reused) {
      const cell = (s: string) => (g(s, 'AB', n) === undefined ? '' : `${s.replace('reused-', '')} ${f(g(s, 'AB', n))} [${f(r[`cpu-matmul.${s}.AB.${n}.best-gflops`])}]`);
      const first = g(`reused-${all}t-packed-first`, 'AB', n), overlapped = g(`reused-${all}t`, 'AB', n);
      const pipelining = first === undefined || overlapped === undefined ? '' : `; ${all}t with the operands packed before the workers wake ${f(first)} [${f(r[`cpu-matmul.reused-${all}t-packed-first.AB.${n}.best-gflops`])}], packing while they compute ${(overlapped / first).toFixed(2)}× that`;
      lines.push(`    ${String(n).padStart(4)}: ${[cell('reused-1t'), cell(`reused-${all}t`)].filter(Boolean).join(', ')}${pipelining}`);
    }
  }
  const targets = [
    { key: '512-1t', what: '512² on one thread', goal: 'issue 12: 24 GFLOP/s, 80% of the 30 it measured' },
    { key: `1024-${all}t`, what: `1024² on ${all} threads`, goal: 'issue 12: 45 on two, 75% of its 60' },
  ].filter((t) => r[`cpu-matmul.target.${t.key}.fraction`] !== undefined);
  if (targets.length) {
    lines.push("  A·B against the FMA ceiling timed around it (12-chain loop on the product's cores just before and after, every round; result reused):");
    for (const t of targets) {
      const k = (s: string) => r[`cpu-matmul.target.${t.key}.${s}`]!;
      const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
      lines.push(
        `    ${t.what}: ${f(k('gflops'))} GFLOP/s median [${f(k('best-gflops'))}], ceiling ${f(k('ceiling-gflops'))}; ` +
          `${pct(k('fraction'))} of it (rounds ${pct(k('fraction-low'))}–${pct(k('fraction-high'))}) (${t.goal})`,
      );
    }
  }
  lines.push('  ratios (medians):');
  for (const n of sizes) {
    const w1 = g('wasm-1t', 'AB', n)!, wT = g(`wasm-${all}t`, 'AB', n), o = g('oracle', 'AB', n)!, j = g('jaxjs', 'AB', n);
    const parts = [`wasm-1t/oracle ${f(w1 / o)}×`];
    if (j !== undefined) parts.push(`wasm-1t/jax-js ${f(w1 / j)}×`);
    if (wT !== undefined) parts.push(`wasm-${all}t/wasm-1t ${(wT / w1).toFixed(2)}×`);
    parts.push(`AtB/AB ${(g('wasm-1t', 'AtB', n)! / w1).toFixed(2)}`, `ABt/AB ${(g('wasm-1t', 'ABt', n)! / w1).toFixed(2)}`);
    lines.push(`    ${String(n).padStart(4)}: ${parts.join(', ')}`);
  }
  return lines;
}
