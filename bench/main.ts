/**
 * `npm run bench`: every speed claim of unequal, measured side by side in one run on this machine,
 * with its peers (jax-js on wasm, TensorFlow.js on its CPU backend) timed on identical problems.
 * Timings never appear in pass/fail tests; they live here. Results are printed as a table and
 * written to bench/results/latest.json (not committed).
 *
 * Sections can be chosen: `npm run bench -- engine peers matmul kernel narrow staging versus gpu influence reweight`
 * (default: all). `versus` is issue 12's table: unequal, jax-js and (when `python3 -c 'import
 * torch'` works) PyTorch float64 on one thread, alternated on the same problems.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { benchEngineLogreg, benchEngineMlp, benchEngineSoftmaxMlp } from './engine.ts';
import { makeLogregProblem, makeMlpProblem, makeSoftmaxMlpProblem } from './peers/problems.ts';
import { benchVersus, versusReport } from './versus.ts';
import { benchCpuMatmul, benchMatmulTargets, matmulReport } from './matmul.ts';
import { benchKernels, kernelReport } from './kernel.ts';
import { benchNarrow, narrowReport } from './narrow.ts';
import { benchStaging, stagingReport } from './staging.ts';
import { parseFlags, reportError, UsageError, wantsHelp } from '../src/apps/cli/flags.ts';

const all = ['engine', 'peers', 'matmul', 'kernel', 'narrow', 'staging', 'versus', 'gpu', 'influence', 'reweight'];
let sections = all;
if (wantsHelp(process.argv.slice(2))) {
  console.log(`Usage: npm run bench -- [${all.join('|')} …] (default: all); writes bench/results/latest.json`);
  process.exit(0);
}
try {
  // The words after `npm run bench --` are sections; there are no flags.
  const chosen = parseFlags('npm run bench --', process.argv.slice(2), {}, { positionals: true }).positionals;
  const unknown = chosen.filter((s) => !all.includes(s));
  if (unknown.length) throw new UsageError(`unknown section ${unknown.map((s) => `'${s}'`).join(', ')}; choose from ${all.join(', ')}`);
  if (chosen.length) sections = [...chosen];
} catch (e) {
  reportError('bench', e);
  process.exit();
}

const results: Record<string, number> = {};
const log = (msg: string) => process.stderr.write(`${msg}\n`);
const fmt = (x: number | undefined, digits = 3) => (x === undefined ? '—' : x.toPrecision(digits));

if (sections.includes('engine')) {
  log('engine: logistic regression (n = 2000, d = 784) and 784→64→1 tanh MLP, float64 …');
  Object.assign(results, benchEngineLogreg(makeLogregProblem(0), { warmup: 3, repeats: 15 }));
  Object.assign(results, benchEngineMlp(makeMlpProblem(0), { warmup: 2, repeats: 7 }));
  Object.assign(results, benchEngineSoftmaxMlp(makeSoftmaxMlpProblem(0), { warmup: 2, repeats: 7 }));
}
if (sections.includes('peers')) {
  log('peers: jax-js (wasm, float64, jit) and TensorFlow.js (cpu, float32) on the same problems …');
  const { benchJaxJs } = await import('./peers/jaxjs.ts');
  Object.assign(results, await benchJaxJs());
  const { benchTfjs } = await import('./peers/tfjs.ts');
  Object.assign(results, await benchTfjs());
}
if (sections.includes('matmul')) {
  log('matmul: float64 CPU products, oracle / WebAssembly 1 thread / all threads / jax-js, alternated …');
  Object.assign(results, await benchCpuMatmul());
  log('matmul: issue 12\'s targets, against the FMA ceiling timed in the same rounds …');
  Object.assign(results, await benchMatmulTargets());
}
if (sections.includes('kernel')) {
  log('kernel: the generated GEMM kernels alone on packed operands, against the FMA ceiling, alternated …');
  Object.assign(results, await benchKernels());
}
if (sections.includes('narrow')) {
  log('narrow: thin products on the oracle / narrow kernels / GEMM, and the engine with the narrow kernels off and on, alternated …');
  Object.assign(results, await benchNarrow());
}
if (sections.includes('staging')) {
  log('staging: whole copies and JavaScript packing against sliced copies and WebAssembly packers, alternated …');
  Object.assign(results, await benchStaging());
}
let versusNotes: string[] = [];
if (sections.includes('versus')) {
  log('versus: unequal / jax-js / PyTorch (when it imports), float64, alternated …');
  const v = await benchVersus();
  Object.assign(results, v.results);
  versusNotes = v.notes;
  for (const n of v.notes) log(`  ${n}`);
}
if (sections.includes('gpu')) {
  log('gpu: gpu.js webasm backend …');
  const gpu = await import('./gpu.ts');
  for (const r of await gpu.benchGpuMatmul()) results[`unequal.gpu-${r.mode}.matmul.${r.size}.gflops`] = r.gflops;
  // The same engine code on the float32 gpu backend, verified against the float64 reference at a
  // float32 tolerance (ε·√n-scale sums give ~1e-7; 1e-4 catches any wrong rule).
  const { setBackend } = await import('../src/index.ts');
  setBackend('gpu', { mode: 'webasm' });
  try {
    Object.assign(results, benchEngineLogreg(makeLogregProblem(0), { warmup: 2, repeats: 7 }, { prefix: 'unequal.gpu-webasm.logreg', tol: 1e-4 }));
  } finally {
    setBackend('cpu');
  }
  // The gradient and the HVP again, the two backends alternated call by call so machine load hits
  // both alike: the fair comparison.
  const alt = gpu.benchGpuLogreg();
  for (const what of ['grad', 'hvp'] as const) {
    results[`alternated.logreg.${what}.cpu-f64.ms`] = alt[what].cpuMs;
    results[`alternated.logreg.${what}.gpu-webasm.ms`] = alt[what].gpuMs;
    results[`alternated.logreg.${what}.gpu-over-cpu`] = alt[what].ratio;
  }
}
if (sections.includes('influence')) {
  log('influence: MNIST 1-vs-7, exact / CG / LiSSA …');
  const { benchInfluence } = await import('./influence.ts');
  Object.assign(results, await benchInfluence());
}
if (sections.includes('reweight')) {
  log('reweight: one L2RW step per route vs one SGD step …');
  const { benchReweight } = await import('./reweight.ts');
  Object.assign(results, await benchReweight());
}

// ---- the report ----
const r = results;
const lines: string[] = [];
if (r['unequal.logreg.grad.ms'] !== undefined) {
  lines.push('Logistic regression, n = 2000, d = 784, float64 (median ms)');
  lines.push('                 loss      grad      HVP    HVP/grad  grad/loss');
  const row = (name: string, p: string) =>
    `  ${name.padEnd(12)} ${fmt(r[`${p}.loss.ms`]).padStart(7)} ${fmt(r[`${p}.grad.ms`]).padStart(9)} ${fmt(r[`${p}.hvp.ms`]).padStart(8)} ` +
    `${fmt(r[`${p}.hvp.ms`]! / r[`${p}.grad.ms`]!).padStart(9)} ${fmt(r[`${p}.grad.ms`]! / r[`${p}.loss.ms`]!).padStart(10)}`;
  lines.push(row('unequal', 'unequal.logreg'));
  if (r['jaxjs.logreg.grad.ms'] !== undefined) lines.push(row('jax-js', 'jaxjs.logreg'));
  if (r['tfjs.logreg.grad.ms'] !== undefined) lines.push(`  ${'tfjs (f32)'.padEnd(12)} ${fmt(r['tfjs.logreg.loss.ms']).padStart(7)} ${fmt(r['tfjs.logreg.grad.ms']).padStart(9)}        —`);
  if (r['unequal.gpu-webasm.logreg.grad.ms'] !== undefined) lines.push(row('gpu webasm', 'unequal.gpu-webasm.logreg'));
  if (r['jaxjs.logreg.grad.ms'] !== undefined) {
    lines.push(`  jax-js / unequal: grad ${fmt(r['jaxjs.logreg.grad.ms']! / r['unequal.logreg.grad.ms']!)}×, HVP ${fmt(r['jaxjs.logreg.hvp.ms']! / r['unequal.logreg.hvp.ms']!)}×`);
  }
  lines.push('');
  lines.push('Tanh MLP 784→64→1, n = 2000, float64 (median ms)');
  lines.push(row('unequal', 'unequal.mlp'));
  if (r['jaxjs.mlp.grad.ms'] !== undefined) {
    lines.push(row('jax-js', 'jaxjs.mlp'));
    lines.push(`  jax-js / unequal: grad ${fmt(r['jaxjs.mlp.grad.ms']! / r['unequal.mlp.grad.ms']!)}×, HVP ${fmt(r['jaxjs.mlp.hvp.ms']! / r['unequal.mlp.hvp.ms']!)}×`);
  }
  lines.push('');
  lines.push('Tanh MLP 784→128→10, softmax cross-entropy, n = 1000, float64 (median ms)');
  lines.push(row('unequal', 'unequal.smlp'));
  if (r['jaxjs.smlp.grad.ms'] !== undefined) {
    lines.push(`  ${'jax-js'.padEnd(12)} ${'—'.padStart(7)} ${fmt(r['jaxjs.smlp.grad.ms']).padStart(9)} ${fmt(r['jaxjs.smlp.hvp.ms']).padStart(8)}`);
    lines.push(`  jax-js / unequal: grad ${fmt(r['jaxjs.smlp.grad.ms']! / r['unequal.smlp.grad.ms']!)}×, HVP ${fmt(r['jaxjs.smlp.hvp.ms']! / r['unequal.smlp.hvp.ms']!)}×`);
  }
  lines.push('');
}
const versus = versusReport(Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('versus.'))), versusNotes);
if (versus.length) lines.push(...versus, '');
const cpuMatmul = matmulReport(Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('cpu-matmul.'))));
if (cpuMatmul.length) lines.push(...cpuMatmul, '');
const kernels = kernelReport(r);
if (kernels.length) lines.push(...kernels, '');
const narrow = narrowReport(r);
if (narrow.length) lines.push(...narrow, '');
const staging = stagingReport(r);
if (staging.length) lines.push(...staging, '');
const gflopKeys = Object.keys(r).filter((k) => k.endsWith('.gflops') && !k.startsWith('cpu-matmul.') && !k.startsWith('kernel.'));
if (gflopKeys.length) {
  lines.push('Matmul GFLOP/s (n × n)');
  for (const n of [256, 512, 1024]) {
    const cells = gflopKeys.filter((k) => k.includes(`.${n}.`)).map((k) => `${k.replace(`.${n}.gflops`, '').replace('.matmul', '')} ${fmt(r[k])}`);
    lines.push(`  ${String(n).padStart(4)}: ${cells.join('   ')}`);
  }
  lines.push('');
}
const rest = Object.keys(r).filter((k) => !/^(unequal\.(logreg|mlp|smlp|gpu-webasm\.logreg)|jaxjs\.(logreg|mlp|smlp)|tfjs\.logreg|cpu-matmul\.|kernel\.|narrow\.|staging\.|versus\.)/.test(k) && !k.endsWith('.gflops'));
if (rest.length) {
  lines.push('Other measurements');
  for (const k of rest) lines.push(`  ${k.padEnd(48)} ${fmt(r[k], 4)}`);
}
console.log(lines.join('\n'));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), results }, null, 2));
log('wrote bench/results/latest.json');
