/**
 * `npm run bench -- versus`: issue 12's table in one run. unequal (the default `cpu` backend, on
 * one thread and on every core), jax-js 0.1.25 (wasm, float64, jit) and, when `python3 -c 'import
 * torch'` works, PyTorch float64 on one thread, alternated call by call on the same problems:
 * float64 matmul at 256, 512 and 1024, the logistic regression's gradient and HVP (n = 2000,
 * d = 784), the 784 → 128 → 10 tanh MLP with softmax cross-entropy (n = 1000): gradient and
 * HVP, and the Learning-to-Reweight LeNet's SGD and L2RW steps at batch 100 (`lenet.ts`; PyTorch's
 * float64 `conv2d`, no jax-js). Every system's result is checked against the float64 references
 * (for LeNet, against unequal's gradient and meta-gradient) first.
 *
 * The figures that matter on a shared, loaded machine are the one-thread systems' best process
 * CPU times (what each reaches while it holds a core) and their ratios; medians of wall time are
 * printed too. The all-cores run is only meaningful when `uptime` shows spare cores.
 *
 * @module
 */
import { grad, hvp, matmul, setBackend, tensor, tidy, type Tensor } from '../src/index.ts';
import { cpuBackend } from '../src/backend/cpu.ts';
import { clearF64Pool } from '../src/backend/f64-pool.ts';
import { defaultThreads, warmGemmThreads } from '../src/backend/wasm/gemm.ts';
import { logregObjective, softmaxMlpObjective, type LogregParams, type SoftmaxMlpParams } from './engine.ts';
import { checkRow } from './matmul.ts';
import {
  checkAgainstReference, logregHvpReference, logregReference, makeLogregProblem, makeSoftmaxMlpProblem, relativeError,
  softmaxMlpHvpByDifferences, softmaxMlpReference,
} from './peers/problems.ts';
import { type AlternatedSystem, timeAlternated } from './peers/timing.ts';
import { startTorch, type TorchPeer } from './peers/torch.ts';
import { lenetSteps, makeLenetProblem } from './lenet.ts';

/** Options for {@link benchVersus}. */
export interface VersusOptions {
  /** Square matmul sizes. Default 256, 512, 1024. */
  sizes?: number[];
  /** Include jax-js (default true); its float64 matmul is timed up to 512 only (4 s a call at 1024). */
  jaxjs?: boolean;
  /** Include PyTorch when it imports (default true). */
  torch?: boolean;
  /** Scales every problem's number of timed rounds (default 1). */
  roundsScale?: number;
  /** Which problems to time (default all): `matmul`, `logreg`, `smlp`, `lenet`. */
  problems?: readonly ('matmul' | 'logreg' | 'smlp' | 'lenet')[];
}

/** The rows of the table, in order: key, label. */
export const VERSUS_ROWS = [
  ['matmul.256', 'matmul 256² (public matmul)'],
  ['matmul.512', 'matmul 512²'],
  ['matmul.1024', 'matmul 1024²'],
  ['logreg.grad', 'logistic 2000×784: gradient'],
  ['logreg.hvp', 'logistic 2000×784: HVP'],
  ['smlp.grad', 'MLP 784→128→10, 1000 rows: gradient'],
  ['smlp.hvp', 'MLP 784→128→10, 1000 rows: HVP'],
  ['lenet.sgd', 'LeNet, batch 100: SGD step'],
  ['lenet.l2rw', 'LeNet, batch 100: L2RW step'],
] as const;

/**
 * Times every row of {@link VERSUS_ROWS} on every available system, alternated. Result keys:
 * `versus.<row>.<system>.{median-ms,cpu-ms}` with systems `unequal-1t`, `unequal-<T>t`, `jaxjs`,
 * `torch`; `versus.torch` is 1 when PyTorch ran, and `versus.load` the one-minute load average.
 *
 * @example
 * ```ts
 * const { results, notes } = await benchVersus({ sizes: [512] });
 * results['versus.matmul.512.unequal-1t.cpu-ms'] / results['versus.matmul.512.torch.cpu-ms'];
 * ```
 */
export async function benchVersus(opts: VersusOptions = {}): Promise<{ results: Record<string, number>; notes: string[] }> {
  const want = new Set(opts.problems ?? ['matmul', 'logreg', 'smlp', 'lenet']);
  const sizes = want.has('matmul') ? (opts.sizes ?? [256, 512, 1024]) : [];
  const scale = opts.roundsScale ?? 1;
  const notes: string[] = [];
  const all = defaultThreads();
  const out: Record<string, number> = { 'versus.threads': all, 'versus.threads-ready': warmGemmThreads(all, 10_000) };
  const { loadavg } = await import('node:os');
  out['versus.load'] = loadavg()[0]!;

  const lr = makeLogregProblem(0);
  const sm = makeSoftmaxMlpProblem(0);
  const ln = want.has('lenet') ? makeLenetProblem(0) : undefined;

  let torch: TorchPeer | undefined;
  if (opts.torch ?? true) {
    const t = await startTorch({ logreg: lr, softmaxMlp: sm, matmul: sizes, ...(ln ? { lenet: ln } : {}) });
    if (typeof t === 'string') notes.push(`PyTorch peer skipped: ${t}`);
    else {
      torch = t;
      notes.push(`PyTorch ${t.version}, float64, 1 thread, BLAS: ${t.blas.split(', ').map((p) => p.split('/').at(-1)).join(', ')}`);
    }
  }
  let jax: typeof import('@jax-js/jax') | undefined;
  if (opts.jaxjs ?? true) {
    const { loadJaxJs } = await import('./peers/jaxjs.ts');
    jax = await loadJaxJs();
  }

  const unequal = (run: () => unknown): AlternatedSystem[] => [
    { key: 'unequal-1t', run: () => (setBackend('cpu', { threads: 1 }), run()) },
    ...(all > 1 ? [{ key: `unequal-${all}t`, run: () => (setBackend('cpu', { threads: all }), run()) }] : []),
  ];
  const record = async (row: string, systems: AlternatedSystem[], rounds: number) => {
    const timed = await timeAlternated(systems, { rounds: Math.max(3, Math.round(rounds * scale)), warmup: 1 });
    for (const t of timed) {
      out[`versus.${row}.${t.key}.median-ms`] = t.median;
      out[`versus.${row}.${t.key}.cpu-ms`] = t.bestCpu;
    }
  };

  try {
    // Checks first: each peer's results against the float64 references (unequal's own results
    // are checked by the engine section's and the tests' references; here its gradient and HVP
    // are checked too, so a fast wrong answer cannot win a row).
    if (torch) {
      const t = torch;
      const lrRef = logregReference(lr);
      const lrH = logregHvpReference(lr);
      checkAgainstReference('PyTorch', 'logistic gradient', relativeError([await t.result('logreg.grad')], [[...lrRef.gw, lrRef.gb]]), 1e-12);
      checkAgainstReference('PyTorch', 'logistic HVP', relativeError([await t.result('logreg.hvp')], [[...lrH.hw, lrH.hb]]), 1e-12);
      const g = softmaxMlpReference(sm).grad;
      const fd = softmaxMlpHvpByDifferences(sm);
      const cat = (p: typeof g) => [...p.W1, ...p.b1, ...p.W2, ...p.b2];
      checkAgainstReference('PyTorch', 'softmax MLP gradient', relativeError([await t.result('smlp.grad')], [cat(g)]), 1e-11);
      checkAgainstReference('PyTorch', 'softmax MLP HVP', relativeError([await t.result('smlp.hvp')], [cat(fd)]), 1e-6);
    }

    for (const n of sizes) {
      const A = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
      const B = Float64Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
      const want = cpuBackend.matmul(A, B, 1, n, n, n, false, false) as Float64Array;
      const a = tensor(A, [n, n]);
      const b = tensor(B, [n, n]);
      checkRow(`unequal ${n}`, matmul(a, b).toFloat64Array(), want, n);
      const systems = unequal(() => matmul(a, b));
      let dispose = () => {};
      if (jax && n <= 512) {
        const { numpy: np } = jax;
        const ja = np.array(A).reshape([n, n]);
        const jb = np.array(B).reshape([n, n]);
        checkRow(`jax-js ${n}`, np.matmul(ja.ref, jb.ref).dataSync() as Float64Array, want, n);
        systems.push({
          key: 'jaxjs',
          run: async () => {
            const c = np.matmul(ja.ref, jb.ref);
            await c.blockUntilReady();
            c.dispose();
          },
        });
        dispose = () => {
          ja.dispose();
          jb.dispose();
        };
      }
      if (torch) {
        const t = torch;
        checkRow(`PyTorch ${n}`, await t.result(`matmul.${n}`), want, n);
        systems.push({ key: 'torch', run: () => t.time(`matmul.${n}`) });
      }
      await record(`matmul.${n}`, systems, n >= 1024 ? 5 : n >= 512 ? 7 : 9);
      dispose();
    }

    setBackend('cpu');
    const lrObj = logregObjective(lr);
    {
      const g = grad(lrObj.loss)(lrObj.at) as LogregParams;
      const h = hvp(lrObj.loss, lrObj.at, lrObj.dir);
      const ref = logregReference(lr);
      const refH = logregHvpReference(lr);
      checkAgainstReference('unequal', 'logistic gradient', relativeError([g.w.toFloat64Array(), [g.b.item()]], [ref.gw, [ref.gb]]), 1e-12);
      checkAgainstReference('unequal', 'logistic HVP', relativeError([h.w.toFloat64Array(), [h.b.item()]], [refH.hw, [refH.hb]]), 1e-12);
    }
    const smObj = softmaxMlpObjective(sm);
    smObj.check();
    type Objective = {
      loss: (q: LogregParams | SoftmaxMlpParams) => Tensor;
      at: LogregParams | SoftmaxMlpParams;
      dir: LogregParams | SoftmaxMlpParams;
    };
    const problems = [
      { row: 'logreg', rounds: 11, objective: lrObj as Objective },
      { row: 'smlp', rounds: 7, objective: smObj as Objective },
    ].filter((p) => want.has(p.row as 'logreg' | 'smlp'));
    for (const p of problems) {
      const { loss, at, dir } = p.objective;
      const first = (q: object) => Object.values(q)[0] as Tensor;
      const gradient = grad(loss);
      let jp: import('./peers/jaxjs.ts').JaxPrepared | undefined;
      if (jax) {
        const mod = await import('./peers/jaxjs.ts');
        jp = p.row === 'logreg' ? mod.prepareJaxLogreg(jax, lr) : mod.prepareJaxSoftmaxMlp(jax, sm);
      }
      try {
        for (const what of ['grad', 'hvp'] as const) {
          // The first leaf of the gradient or HVP: read back (plain), or kept through tidy.
          const leaf = what === 'grad' ? () => first(gradient(at) as object) : () => first(hvp(loss, at, dir) as object);
          const run = () => leaf().toFloat64Array();
          const systems = unequal(run);
          if (jp) systems.push({ key: 'jaxjs', run: jp[what] });
          const torchRun = torch ? [{ key: 'torch', run: () => torch!.time(`${p.row}.${what}`) }] : [];
          clearF64Pool(); // what the tidy rounds below released must not serve the plain calls
          await record(`${p.row}.${what}`, [...systems, ...torchRun], p.rounds);
          // The same call under tidy, the loop idiom that releases each call's intermediates, whose
          // arrays the CPU backend then reuses (src/backend/f64-pool.ts). Timed in rounds of its own
          // against PyTorch: alternated with the plain calls, those would take the arrays it releases.
          const tidied = { key: 'unequal-1t-tidy', run: () => (setBackend('cpu', { threads: 1 }), tidy(leaf).toFloat64Array()) };
          await record(`${p.row}.${what}.tidy`, [tidied, ...torchRun], p.rounds);
        }
      } finally {
        jp?.dispose();
      }
    }

    if (ln) {
      // The LeNet step (bench/lenet.ts): unequal and PyTorch on the same numbers, the gradient and
      // the meta-gradient checked first. jax-js has no convolution here and is left out.
      const steps = lenetSteps(ln);
      if (torch) {
        const t = torch;
        checkAgainstReference('PyTorch', 'LeNet gradient', relativeError([await t.result('lenet.sgd')], [steps.gradient()]), 1e-10);
        // Norm-relative; the meta-gradient goes through a second-order pass, so allow 1e-8.
        checkAgainstReference('PyTorch', 'LeNet meta-gradient', relativeError([await t.result('lenet.l2rw')], [steps.metaGradient()]), 1e-8);
      }
      for (const what of ['sgd', 'l2rw'] as const) {
        const systems = unequal(steps[what]);
        if (torch) {
          const t = torch;
          systems.push({ key: 'torch', run: () => t.time(`lenet.${what}`) });
        }
        await record(`lenet.${what}`, systems, what === 'sgd' ? 5 : 3);
      }
    }
  } finally {
    torch?.close();
    setBackend('cpu');
  }
  out['versus.torch'] = torch ? 1 : 0;
  return { results: out, notes };
}

/**
 * The table: best CPU ms of each one-thread system, the all-cores median, and the ratios
 * unequal/PyTorch and unequal/jax-js (best CPU times of the one-thread systems, medians in
 * brackets), then unequal's HVP/gradient.
 *
 * @example
 * ```ts
 * const { results, notes } = await benchVersus();
 * console.log(versusReport(results, notes).join('\n'));
 * ```
 */
export function versusReport(r: Record<string, number>, notes: string[] = []): string[] {
  if (r['versus.threads'] === undefined) return [];
  const all = r['versus.threads']!;
  const f = (x: number | undefined, d = 3) => (x === undefined || !Number.isFinite(x) ? '—' : x.toPrecision(d));
  const get = (row: string, sys: string, what: 'cpu-ms' | 'median-ms') => r[`versus.${row}.${sys}.${what}`];
  const lines = [
    `unequal against jax-js and PyTorch, float64, alternated call by call (load average ${f(r['versus.load'])}, ${all} cores, ${r['versus.threads-ready']} threads ready)`,
    ...notes.map((n) => `  ${n}`),
    '  ms: best process CPU time of the one-thread systems [median wall time]; ratios of best CPU times [of medians]',
    `  ${'row'.padEnd(38)}${'unequal 1t'.padStart(18)}${`unequal ${all}t`.padStart(14)}${'jax-js'.padStart(18)}${'PyTorch 1t'.padStart(18)}${'unequal/PyTorch'.padStart(20)}${'unequal/jax-js'.padStart(20)}`,
  ];
  for (const [row, label] of VERSUS_ROWS) {
    if (get(row, 'unequal-1t', 'cpu-ms') === undefined) continue;
    const cell = (sys: string) => {
      const c = get(row, sys, 'cpu-ms');
      return c === undefined ? '—' : `${f(c)} [${f(get(row, sys, 'median-ms'))}]`;
    };
    const ratio = (peer: string) => {
      const c = get(row, peer, 'cpu-ms');
      if (c === undefined) return '—';
      return `${f(get(row, 'unequal-1t', 'cpu-ms')! / c, 2)}× [${f(get(row, 'unequal-1t', 'median-ms')! / get(row, peer, 'median-ms')!, 2)}×]`;
    };
    const multi = get(row, `unequal-${all}t`, 'median-ms');
    lines.push(
      `  ${label.padEnd(38)}${cell('unequal-1t').padStart(18)}${(multi === undefined ? '—' : `[${f(multi)}]`).padStart(14)}` +
        `${cell('jaxjs').padStart(18)}${cell('torch').padStart(18)}${ratio('torch').padStart(20)}${ratio('jaxjs').padStart(20)}`,
    );
  }
  const tidied = VERSUS_ROWS.filter(([row]) => get(`${row}.tidy`, 'unequal-1t-tidy', 'cpu-ms') !== undefined);
  if (tidied.length) {
    lines.push('  unequal 1t under tidy (each call\'s intermediates released, their arrays reused), alternated with PyTorch in rounds of its own: best CPU ms [median], ratio to PyTorch');
    for (const [row, label] of tidied) {
      const u = (what: 'cpu-ms' | 'median-ms') => get(`${row}.tidy`, 'unequal-1t-tidy', what)!;
      const t = (what: 'cpu-ms' | 'median-ms') => get(`${row}.tidy`, 'torch', what);
      lines.push(`    ${label.padEnd(36)}${`${f(u('cpu-ms'))} [${f(u('median-ms'))}]`.padStart(18)}` +
        (t('cpu-ms') === undefined ? '' : `${`${f(u('cpu-ms') / t('cpu-ms')!, 2)}× [${f(u('median-ms') / t('median-ms')!, 2)}×]`.padStart(20)}`));
    }
  }
  const hg = (row: string) => get(`${row}.hvp`, 'unequal-1t', 'cpu-ms')! / get(`${row}.grad`, 'unequal-1t', 'cpu-ms')!;
  if (get('smlp.hvp', 'unequal-1t', 'cpu-ms') !== undefined && get('logreg.hvp', 'unequal-1t', 'cpu-ms') !== undefined) {
    lines.push(`  unequal HVP/gradient (best CPU): logistic ${f(hg('logreg'), 2)}, MLP ${f(hg('smlp'), 2)}`);
  }
  const l2 = get('lenet.l2rw', 'unequal-1t', 'cpu-ms'), sg = get('lenet.sgd', 'unequal-1t', 'cpu-ms');
  if (l2 !== undefined && sg !== undefined) {
    lines.push(`  LeNet L2RW step / SGD step (best CPU): unequal ${f(l2 / sg, 2)}` +
      (get('lenet.l2rw', 'torch', 'cpu-ms') !== undefined ? `, PyTorch ${f(get('lenet.l2rw', 'torch', 'cpu-ms')! / get('lenet.sgd', 'torch', 'cpu-ms')!, 2)}` : ''));
  }
  return lines;
}
