/**
 * The model pages 2 and 3 share: L2-regularised logistic regression on the lab's MNIST 1-vs-7
 * digits, R(θ) = (1/n) Σᵢ ℓ(zᵢ, θ) + (λ/2)‖w‖² (intercept not regularised), trained by the
 * library's Newton method to ‖∇R‖ < 1e-10. The page fetches the digits once; Node tests read the
 * same files from the build folder and decode them with the same function.
 *
 * @module
 */
import { type LinearModel, type LinearParams, type Objective, linearModel, linearObjective, newton } from '../../src/index.ts';
import { type DigitSplit, type DigitsManifest, decodeDigits } from './digits.ts';

/** The digits as served: manifest and both splits. */
export interface Digits {
  manifest: DigitsManifest;
  train: DigitSplit;
  test: DigitSplit;
}

let digits: Promise<Digits> | undefined;

/** Fetches and decodes the build's digit files (once per page). */
export function fetchDigits(base = ''): Promise<Digits> {
  digits ??= (async () => {
    const res = await fetch(`${base}mnist-1v7.json`);
    if (!res.ok) throw new Error(`mnist-1v7.json: HTTP ${res.status}`);
    const manifest = (await res.json()) as DigitsManifest;
    const px = await fetch(`${base}${manifest.pixels}`);
    if (!px.ok) throw new Error(`${manifest.pixels}: HTTP ${px.status}`);
    const bytes = new Uint8Array(await px.arrayBuffer());
    return { manifest, ...decodeDigits(manifest, bytes) };
  })();
  return digits;
}

/** A trained model and what the pages show about its training. */
export interface TrainedModel {
  l2: number;
  obj: Objective<LinearParams>;
  model: LinearModel;
  theta: Float64Array;
  iterations: number;
  gradNorm: number;
  seconds: number;
}

const trained = new Map<number, TrainedModel>();

/** Trains (or returns the cached) model for this λ. */
export function trainDigits(train: DigitSplit, l2: number): TrainedModel {
  const hit = trained.get(l2);
  if (hit) return hit;
  const t0 = performance.now();
  const obj = linearObjective('logreg', train, l2);
  const r = newton(obj);
  const out: TrainedModel = {
    l2,
    obj,
    model: linearModel('logreg', train.d),
    theta: r.theta,
    iterations: r.iterations,
    gradNorm: r.gradNorm,
    seconds: (performance.now() - t0) / 1000,
  };
  trained.set(l2, out);
  return out;
}
