/**
 * Page 4's experiment, independent of the DOM: Learning to Reweight (Ren et al. 2018) on a
 * two-dimensional, heavily imbalanced problem small enough to watch one step at a time.
 *
 * Data: two Gaussian classes in the plane, N((−1, −0.5), 0.9²I) (label 0, the minority) and
 * N((1, 0.5), 0.9²I) (label 1); the training set holds 95% of label 1, a clean validation set of
 * five per class, a balanced test set. Model: a tanh MLP 2→16→1 with binary cross-entropy.
 * Each step draws a batch, computes the look-ahead meta-gradient gᵢ = ∂/∂εᵢ mean_j ℓᵛⱼ(θ − α ∇θ
 * Σᵢ εᵢ ℓᵢ(θ)) at ε = 0 by the library's reverse-over-reverse route, turns it into weights
 * wᵢ = max(−gᵢ, 0) / Σ max(−g, 0), and takes the SGD step on the weighted loss. A uniformly weighted
 * network trains on the same batches alongside, for comparison.
 *
 * @module
 */
import {
  type MlpParams,
  Rng,
  type Tensor,
  grad,
  l2rwWeights,
  metaGradientAutodiff,
  mlpForward,
  mlpInit,
  mlpLoss,
  mlpMetaGradient,
  mul,
  sgdStep,
  sum,
  tensor,
} from '../../src/index.ts';

/** The settings of the experiment (fixed, so the tests can rebuild it in Node). */
export const L2RW_SETTINGS = {
  seed: 4,
  nTrain: 400,
  majorityShare: 0.95,
  valPerClass: 5,
  testPerClass: 150,
  hidden: 16,
  batch: 32,
  lr: 0.3,
  spread: 0.9,
} as const;

/** A set of points in the plane with labels in {0, 1}. */
export interface PlaneSet {
  X: Float64Array;
  y: Float64Array;
  n: number;
}

/** The training, validation and test sets. */
export interface PlaneData {
  train: PlaneSet;
  val: PlaneSet;
  test: PlaneSet;
}

export function makePlaneData(seed: number = L2RW_SETTINGS.seed): PlaneData {
  const rng = new Rng(seed);
  const s = L2RW_SETTINGS.spread;
  const draw = (labels: number[]): PlaneSet => {
    const order = rng.permutation(labels.length).map((i) => labels[i]!);
    const X = new Float64Array(2 * order.length);
    order.forEach((label, i) => {
      const c = label === 1 ? [1, 0.5] : [-1, -0.5];
      X[2 * i] = c[0]! + s * rng.normal();
      X[2 * i + 1] = c[1]! + s * rng.normal();
    });
    return { X, y: Float64Array.from(order), n: order.length };
  };
  const nMajor = Math.round(L2RW_SETTINGS.nTrain * L2RW_SETTINGS.majorityShare);
  const labels = (n1: number, n0: number) => [...Array<number>(n1).fill(1), ...Array<number>(n0).fill(0)];
  return {
    train: draw(labels(nMajor, L2RW_SETTINGS.nTrain - nMajor)),
    val: draw(labels(L2RW_SETTINGS.valPerClass, L2RW_SETTINGS.valPerClass)),
    test: draw(labels(L2RW_SETTINGS.testPerClass, L2RW_SETTINGS.testPerClass)),
  };
}

export const asBatch = (s: PlaneSet, rows?: number[]) => {
  const r = rows ?? Array.from({ length: s.n }, (_, i) => i);
  return {
    X: tensor(Float64Array.from(r.flatMap((i) => [s.X[2 * i]!, s.X[2 * i + 1]!])), [r.length, 2]),
    y: tensor(Float64Array.from(r, (i) => s.y[i]!), [r.length]),
  };
};

/** Error on a set: the share of rows whose sign of the logit disagrees with the label. */
export function planeError(params: MlpParams, set: PlaneSet): number {
  const z = mlpForward(params, asBatch(set).X, 'tanh').toFloat64Array();
  let wrong = 0;
  for (let i = 0; i < set.n; i++) if ((z[i]! > 0 ? 1 : 0) !== set.y[i]) wrong++;
  return wrong / set.n;
}

/** What one step did. */
export interface StepRecord {
  step: number;
  /** The batch's training rows. */
  rows: number[];
  /** The meta-gradient gᵢ (reverse-over-reverse through the look-ahead). */
  meta: Float64Array;
  /** The L2RW weights. */
  weights: Float64Array;
  /** max |g_autodiff − g_route| over the closed-form and per-example routes. */
  routeDiff: number;
  /** The minority's share of the batch and of its weight. */
  minorityInBatch: number;
  minorityWeight: number;
  /** Balanced test error after the step, L2RW and uniform. */
  testErrorL2rw: number;
  testErrorUniform: number;
}

/** The experiment's state: both networks, the batch stream, and the history. */
export class ReweightRun {
  readonly data = makePlaneData();
  readonly loss = mlpLoss('tanh');
  params: MlpParams;
  uniform: MlpParams;
  readonly history: StepRecord[] = [];
  private readonly rng = new Rng(L2RW_SETTINGS.seed + 1);

  constructor() {
    const sizes = [2, L2RW_SETTINGS.hidden, 1];
    this.params = mlpInit(sizes, L2RW_SETTINGS.seed);
    this.uniform = mlpInit(sizes, L2RW_SETTINGS.seed);
  }

  /** The rows of the next batch (without replacement within a batch). */
  nextRows(): number[] {
    return this.rng.permutation(this.data.train.n).slice(0, L2RW_SETTINGS.batch);
  }

  /** One L2RW step (and one uniform step on the same batch). */
  step(): StepRecord {
    const { lr } = L2RW_SETTINGS;
    const rows = this.nextRows();
    const batch = asBatch(this.data.train, rows);
    const val = asBatch(this.data.val);
    const meta = metaGradientAutodiff(this.loss, this.params, batch, val, lr);
    let routeDiff = 0;
    for (const route of ['closed-form', 'per-example'] as const) {
      const other = mlpMetaGradient(route, this.params, 'tanh', batch, val, lr);
      other.forEach((g, i) => (routeDiff = Math.max(routeDiff, Math.abs(g - meta[i]!))));
    }
    const weights = l2rwWeights(meta);
    const weighted = (w: Tensor) => (p: MlpParams) => sum(mul(w, this.loss(p, batch.X, batch.y)));
    this.params = sgdStep(this.params, grad(weighted(tensor(weights)))(this.params) as MlpParams, lr);
    const m = rows.length;
    this.uniform = sgdStep(this.uniform, grad(weighted(tensor(new Float64Array(m).fill(1 / m))))(this.uniform) as MlpParams, lr);
    const minority = rows.map((i) => this.data.train.y[i] === 0);
    const record: StepRecord = {
      step: this.history.length + 1,
      rows,
      meta,
      weights,
      routeDiff,
      minorityInBatch: minority.filter(Boolean).length / m,
      minorityWeight: weights.reduce((s, w, i) => s + (minority[i] ? w : 0), 0),
      testErrorL2rw: planeError(this.params, this.data.test),
      testErrorUniform: planeError(this.uniform, this.data.test),
    };
    this.history.push(record);
    return record;
  }
}
