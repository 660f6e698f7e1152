/**
 * The LeNet step of the Learning-to-Reweight protocol (issue 12's last `versus` row): the LeNet of
 * `src/nn/cnn.ts` (three 5 × 5 'same' convolutions with 16, 32, 64 channels, 3 × 3 stride-2 'same'
 * max pooling, ReLU, dense 1024 → 100 → 1), a batch of 100 28 × 28 images, sigmoid cross-entropy,
 * momentum SGD (lr 1e-3, β 0.9): one plain step (gradient of the mean loss, then the update) and
 * one L2RW step (the meta-gradient through a look-ahead SGD step on 10 validation images, the
 * weights w = max(−g, 0)/Σ, the gradient of the weighted loss, the update), as
 * `src/apps/experiments/reweight-paper.ts` runs them.
 *
 * `bench/lenet-versus.ts` times these steps old against new (another checkout in its own
 * process, alternated): on the convolution primitives the SGD step took 1.9–2.2× less CPU than at
 * 83eb24c and the L2RW step 2.2–2.7× less, one thread, two runs (bench/README.md, "The LeNet step
 * on the convolution primitives").
 *
 * The problem's arrays are plain `Float64Array`s so that the PyTorch peer (`peers/torch_peer.py`)
 * computes on exactly the same numbers; its gradient and meta-gradient are checked against
 * unequal's before any time is trusted.
 *
 * @module
 */
import { grad, mean, tensor, type Tensor } from '../src/index.ts';
import { Rng } from '../src/core/rng.ts';
import { lenet, sequentialLoss, type SequentialParams } from '../src/nn/cnn.ts';
import { momentum } from '../src/optim/sgd.ts';
import { l2rwWeights, metaGradientAutodiff } from '../src/reweight/l2rw.ts';
import { weightedObjective } from '../src/reweight/train.ts';

/** A LeNet batch, its validation batch and the parameters, as flat float64 arrays. */
export interface LenetProblem {
  /** Training batch, `[n, 784]` row-major, values in [0, 1). */
  X: Float64Array;
  /** Labels in {0, 1}, `[n]`. */
  y: Float64Array;
  /** Validation batch, `[nVal, 784]`. */
  Xv: Float64Array;
  /** Validation labels. */
  yv: Float64Array;
  n: number;
  nVal: number;
  /** Every parameter leaf in `lenet().init` order (conv w, b ×3; dense W, b ×2), with its shape. */
  leaves: { data: Float64Array; shape: number[] }[];
  /** The SGD step size (also the look-ahead's α). */
  lr: number;
  /** Momentum. */
  beta: number;
}

/**
 * The LeNet step problem: batch 100, 10 validation images, parameters from `lenet().init(seed)`.
 *
 * @example
 * ```ts
 * const p = makeLenetProblem(0);
 * p.leaves.map((l) => l.shape); // [[16, 1, 5, 5], [16], [32, 16, 5, 5], [32], [64, 32, 5, 5], [64], [100, 1024], [100], [1, 100], [1]]
 * ```
 */
export function makeLenetProblem(seed: number): LenetProblem {
  const rng = new Rng(seed + 0x1e);
  const n = 100, nVal = 10;
  const pixels = (rows: number) => Float64Array.from({ length: rows * 784 }, () => rng.uniform());
  const labels = (rows: number) => Float64Array.from({ length: rows }, (_, i) => i % 2);
  const params = lenet().init(seed);
  const leaves = params.flatMap((p) => Object.values(p) as Tensor[]).map((t) => ({ data: t.toFloat64Array(), shape: [...t.shape] }));
  return { X: pixels(n), y: labels(n), Xv: pixels(nVal), yv: labels(nVal), n, nVal, leaves, lr: 1e-3, beta: 0.9 };
}

/**
 * unequal's plain and L2RW steps on a {@link LenetProblem}, and the numbers the PyTorch peer is
 * checked against (the mean-loss gradient, flattened leaf by leaf, and the meta-gradient).
 *
 * @example
 * ```ts
 * const s = lenetSteps(makeLenetProblem(0));
 * s.sgd(); s.l2rw();                 // one step each (the parameters are not advanced)
 * s.gradient().length;               // 152,…: every parameter
 * ```
 */
export function lenetSteps(p: LenetProblem): {
  sgd: () => unknown;
  l2rw: () => unknown;
  gradient: () => Float64Array;
  metaGradient: () => Float64Array;
} {
  const net = lenet();
  const loss = sequentialLoss(net);
  const X = tensor(p.X, [p.n, 784]);
  const y = tensor(p.y, [p.n]);
  const val = { X: tensor(p.Xv, [p.nVal, 784]), y: tensor(p.yv, [p.nVal]) };
  let k = 0;
  const params: SequentialParams = net.init(0).map((layer) =>
    Object.fromEntries(Object.keys(layer).map((key) => [key, tensor(p.leaves[k]!.data, p.leaves[k++]!.shape)])),
  ) as unknown as SequentialParams;
  const opt = momentum({ lr: p.lr, beta: p.beta });
  const state = opt.init(params);
  const meanGrad = grad((q: SequentialParams) => mean(loss(q, X, y)));
  const metaGradient = () => metaGradientAutodiff(loss, params, { X, y }, val, p.lr);
  const flat = (g: SequentialParams) => {
    const parts = g.flatMap((l) => Object.values(l) as Tensor[]).map((t) => t.toFloat64Array());
    const out = new Float64Array(parts.reduce((s, a) => s + a.length, 0));
    let o = 0;
    for (const a of parts) (out.set(a, o), (o += a.length));
    return out;
  };
  return {
    sgd: () => opt.update(params, meanGrad(params) as SequentialParams, state),
    l2rw: () => {
      const w = l2rwWeights(metaGradient());
      const g = grad(weightedObjective(loss, X, y, w))(params) as SequentialParams;
      return opt.update(params, g, state);
    },
    gradient: () => flat(meanGrad(params) as SequentialParams),
    metaGradient,
  };
}
