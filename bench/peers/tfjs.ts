/**
 * TensorFlow.js (tfjs-core 4.22 with the plain-JS `cpu` backend) timed on the logistic-regression
 * benchmark problem.
 *
 * tfjs computes in float32 only, so its gradient is checked against the float64 reference with a
 * float32 tolerance. Only first-order quantities are timed: tfjs has no forward mode, and nesting
 * `tf.grad` through its global tape is unreliable (tfjs#3252), so there is no HVP to compare.
 *
 * @module
 */

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type LogregProblem, logregReference, makeLogregProblem, relativeError } from './problems.ts';
import { type TimeItOptions, timeIt } from './timing.ts';

/**
 * float32 tolerance for the tfjs gradient: each entry sums n = 2000 products whose float32
 * rounding errors (2⁻²⁴ ≈ 6e-8 each) accumulate to roughly √n·6e-8 ≈ 3e-6 relative; 1e-4 leaves
 * room while a wrong computation (missing 1/n or λw, transposed X) is off by 1e-2 or more.
 */
export const TFJS_F32_TOL = 1e-4;

let gradientsRegistered: Promise<void> | null = null;

/**
 * Registers tfjs-core's gradient functions, without which `tf.grads` fails with "gradient function
 * not found for Add".
 *
 * The `@tensorflow/tfjs` umbrella package does this by importing
 * `tfjs-core/dist/register_all_gradients.js`, but only tfjs-core is installed here, and that file
 * cannot be imported by Node directly: it is ESM with extensionless directory imports
 * (ERR_UNSUPPORTED_DIR_IMPORT), and none of tfjs-core's prebuilt bundles include it. So we bundle
 * it once with esbuild (a devDependency) and import the bundle. The bundle carries its own copy of
 * the ops the gradients use, which is harmless: tfjs keeps its engine and its kernel and gradient
 * registries on the global object, so both copies share them.
 *
 * @example
 * ```ts
 * await registerTfjsGradients();
 * tf.grad((x) => tf.square(x))(tf.scalar(3)).dataSync(); // → Float32Array [6]
 * ```
 */
export function registerTfjsGradients(): Promise<void> {
  gradientsRegistered ??= (async () => {
    const { build } = await import('esbuild');
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    const dir = mkdtempSync(join(tmpdir(), 'unequal-tfjs-grads-'));
    const outfile = join(dir, 'register_all_gradients.mjs');
    try {
      await build({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', outfile, logLevel: 'error' });
      await import(pathToFileURL(outfile).href);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return gradientsRegistered;
}

/** Options for {@link benchTfjs}. */
export interface BenchTfjsOptions {
  /** Problem seed (the data equal `makeLogregProblem(seed)`). Default 0. */
  seed?: number;
  /** Timing options. Default `{ warmup: 3, repeats: 15 }`. */
  timing?: TimeItOptions;
}

/**
 * Times tfjs (cpu backend, float32) on L2-regularised logistic regression, n = 2000, d = 784:
 * the objective and its gradient with respect to (w, b), via `tf.grads`. Returns medians in ms
 * keyed `tfjs.logreg.{loss,grad}.ms`, plus `tfjs.logreg.grad.relerr`, the gradient's relative
 * error against the float64 reference (the call throws beyond {@link TFJS_F32_TOL}).
 *
 * @param opts seed and timing.
 *
 * @example
 * ```ts
 * const r = await benchTfjs();
 * console.log(`tfjs gradient: ${r['tfjs.logreg.grad.ms'].toFixed(2)} ms`);
 * ```
 */
export async function benchTfjs(opts: BenchTfjsOptions = {}): Promise<Record<string, number>> {
  const p: LogregProblem = makeLogregProblem(opts.seed ?? 0);
  const timing = opts.timing ?? { warmup: 3, repeats: 15 };
  await tf.setBackend('cpu');
  await tf.ready();
  await registerTfjsGradients();
  const { n, d, lambda } = p;

  const X = tf.tensor2d(Float32Array.from(p.X), [n, d]);
  const y = tf.tensor2d(Float32Array.from(p.y), [n, 1]);
  const w = tf.tensor2d(Float32Array.from(p.w), [d, 1]);
  const b = tf.scalar(p.b);

  // R(w, b) = mean(softplus(s) − y·s) + (λ/2)‖w‖²; tf.softplus is the stable form.
  const objective = (wt: tf.Tensor, bt: tf.Tensor): tf.Scalar => {
    const s = tf.add(tf.matMul(X, wt), bt);
    const bce = tf.mean(tf.sub(tf.softplus(s), tf.mul(y, s)));
    return tf.add(bce, tf.mul(lambda / 2, tf.sum(tf.square(wt)))) as tf.Scalar;
  };
  const gradFn = tf.grads((wt: tf.Tensor, bt: tf.Tensor) => objective(wt, bt));

  try {
    const ref = logregReference(p);
    const [gw, gb] = tf.tidy(() => gradFn([w, b]).map((t) => t.dataSync().slice()));
    const gradErr = relativeError([gw!, gb!], [ref.gw, [ref.gb]]);
    if (!(gradErr <= TFJS_F32_TOL)) {
      throw new Error(`tfjs gradient disagrees with the float64 reference: relative error ${gradErr} > ${TFJS_F32_TOL}`);
    }
    // tf.tidy frees every intermediate tensor; dataSync() forces the (eager) computation.
    const tLoss = timeIt(() => tf.tidy(() => objective(w, b).dataSync()), timing);
    const tGrad = timeIt(
      () =>
        tf.tidy(() => {
          for (const g of gradFn([w, b])) g.dataSync();
        }),
      timing,
    );
    return { 'tfjs.logreg.loss.ms': tLoss.median, 'tfjs.logreg.grad.ms': tGrad.median, 'tfjs.logreg.grad.relerr': gradErr };
  } finally {
    tf.dispose([X, y, w, b]);
  }
}

// Run directly: `node --import tsx bench/peers/tfjs.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchTfjs();
  for (const [k, v] of Object.entries(r)) console.log(`${k.padEnd(34)} ${v.toPrecision(4)}`);
}
