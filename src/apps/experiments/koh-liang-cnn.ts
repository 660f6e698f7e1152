/**
 * Koh & Liang (2017), Figure 2 right panel, reduced to fit a small CPU: a small tanh CNN on
 * 10-class MNIST, trained for a fixed number of full-batch L-BFGS iterations (not to an exact
 * optimum), influence with damping (H + δI)⁻¹ (δ = 0.01, the `damping` of the paper's
 * scripts/train_mnist.py) solved by conjugate gradients on the engine's HVPs, against the paper's
 * retraining procedure: from the trained parameters, with the point removed, a fixed number of
 * extra optimiser steps, and the change in test loss from the trained model.
 *
 * The network, small enough for 100 retrainings on a loaded 2-core machine: conv 3×3 1→c stride 2
 * SAME (28 → 14), tanh (smooth, as the paper's softplus), average pool 2×2 (14 → 7), dense c·49 → 10;
 * softmax cross-entropy; L2 λ = 0.001 on the weights (the paper's weight_decay for its CNN), biases
 * free. Training and retraining use L-BFGS for a fixed number of iterations (the paper: Adam, 30,000
 * extra steps for the retraining, which a CPU budget of minutes cannot pay).
 *
 * @module
 */
import { fromFloat64 } from '../../core/create.ts';
import { Rng } from '../../core/rng.ts';
import { kohLiangMnistSplit } from '../../data/builders.ts';
import { loadMnistBytes } from '../../data/mnist.ts';
import { Influence, totalLoss } from '../../influence/influence.ts';
import { spearman } from '../../influence/metrics.ts';
import { pearson } from '../../linalg/vector.ts';
import { type LayerSpec, type SequentialParams, sequential, sequentialLoss } from '../../nn/cnn.ts';
import { Objective } from '../../nn/objective.ts';
import { minimizeLbfgs } from '../../optim/lbfgs.ts';
import { softmaxCrossEntropy } from '../../ops/losses.ts';

/** Options of {@link runCnnFigure2}. */
export interface CnnFigure2Options {
  /** Training images, a seeded random subset of the 55,000 (default 300). */
  nTrain?: number;
  /** Channels of the convolution (default 4). */
  channels?: number;
  /** L-BFGS iterations of training (default 300). */
  trainSteps?: number;
  /** Extra L-BFGS iterations per retraining (default 40). */
  retrainSteps?: number;
  /** λ (default 0.001). */
  l2?: number;
  /** δ (default 0.01). */
  damping?: number;
  /** Retrained points (default 100). */
  points?: number;
  /** Seed of the subset and the initial weights (default 0). */
  seed?: number;
  /** The test image; default: the first test image (in file order) the trained CNN misclassifies. */
  testIndex?: number;
  log?: (msg: string) => void;
}

/** What {@link runCnnFigure2} returns. */
export interface CnnFigure2Result {
  nTrain: number;
  nParams: number;
  retrained: number;
  layers: LayerSpec[];
  config: Required<Omit<CnnFigure2Options, 'log' | 'testIndex'>>;
  training: { finalGradNorm: number; trainLoss: number; trainAccuracy: number; testAccuracy: number };
  testIndex: number;
  testRule: string;
  testLabel: number;
  testLoss: number;
  solver: { name: string; damping: number; hvps: number; relResidual: number | undefined };
  /** Change of the test loss after the extra steps with every point kept (the drift common to all). */
  control: number;
  trainIndices: number[];
  mnistRows: number[];
  labels: number[];
  predicted: number[];
  actual: number[];
  pearson: number;
  spearman: number;
  seconds: Record<string, number>;
}

/** The network of {@link runCnnFigure2}. */
export function cnnLayers(channels: number): LayerSpec[] {
  return [
    { kind: 'conv', out: channels, size: 3, stride: 2, padding: 'same' },
    { kind: 'tanh' },
    { kind: 'avgPool', size: 2 },
    { kind: 'flatten' },
    { kind: 'dense', out: 10 },
  ];
}

/** `steps` full-batch L-BFGS iterations from θ₀ (fresh memory), whatever the gradient norm reached. */
export function lbfgsSteps(obj: Objective<SequentialParams>, theta0: Float64Array, steps: number, onIteration?: (it: number, gradNorm: number, value: number) => void): Float64Array {
  return minimizeLbfgs((th) => obj.valueAndGradient(th), theta0, { tol: 0, maxIter: steps, allowUnconverged: true, onIteration }).theta;
}

/**
 * Runs the right panel (about half an hour at the defaults on a loaded 2-core machine).
 *
 * @example
 * ```ts
 * const r = runCnnFigure2({ nTrain: 200, trainSteps: 200, retrainSteps: 50, points: 10 });
 * r.pearson; // the correlation of predicted and actual over 10 retrained points
 * ```
 */
export function runCnnFigure2(opts: CnnFigure2Options = {}): CnnFigure2Result {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  const config = {
    nTrain: opts.nTrain ?? 300,
    channels: opts.channels ?? 4,
    trainSteps: opts.trainSteps ?? 300,
    retrainSteps: opts.retrainSteps ?? 40,
    l2: opts.l2 ?? 0.001,
    damping: opts.damping ?? 0.01,
    points: opts.points ?? 100,
    seed: opts.seed ?? 0,
  };
  const { train: rows55k } = kohLiangMnistSplit();
  const pick = new Rng(config.seed).permutation(rows55k.length).slice(0, config.nTrain);
  const tr = loadMnistBytes('train');
  const te = loadMnistBytes('test');
  const images = (bytes: Uint8Array, rows: ArrayLike<number>) => {
    const X = new Float64Array(rows.length * 784);
    for (let r = 0; r < rows.length; r++) for (let j = 0; j < 784; j++) X[r * 784 + j] = bytes[rows[r]! * 784 + j]! / 255;
    return X;
  };
  const oneHot = (labels: ArrayLike<number>) => {
    const Y = new Float64Array(labels.length * 10);
    for (let r = 0; r < labels.length; r++) Y[r * 10 + labels[r]!] = 1;
    return Y;
  };
  const mnistRows = pick.map((i) => rows55k[i]!);
  const labels = mnistRows.map((r) => tr.labels[r]!);
  const n = config.nTrain;
  const X = fromFloat64(images(tr.images, mnistRows), [n, 784]);
  const Y = fromFloat64(oneHot(labels), [n, 10]);
  const net = sequential(cnnLayers(config.channels), [1, 28, 28]);
  const loss = sequentialLoss(net, softmaxCrossEntropy);
  const params0 = net.init(config.seed, { std: 'he' });
  const obj = new Objective<SequentialParams>({ params: params0, loss, X, Y, l2: config.l2 });
  log(`figure 2 (CNN): ${n} training images, ${obj.dim} parameters, λ = ${config.l2}, full-batch L-BFGS`);

  // 1. Training: a fixed number of steps (not to an exact optimum).
  let t = performance.now();
  const theta = lbfgsSteps(obj, obj.layout.flatten(params0), config.trainSteps, (it, gn, v) => {
    if (it % 25 === 0) {
      const el = (performance.now() - t) / 1000;
      log(`  training iteration ${it}/${config.trainSteps}: R = ${v.toFixed(5)}, ‖∇R‖ = ${gn.toExponential(2)}; ${el.toFixed(0)} s, about ${((el / Math.max(it, 1)) * (config.trainSteps - it)).toFixed(0)} s left`);
    }
  });
  seconds.training = (performance.now() - t) / 1000;
  const gradNorm = Math.hypot(...obj.gradient(theta));
  const logitsOf = (Xs: Float64Array, m: number) => net.forward(obj.params(theta), fromFloat64(Xs, [m, 784])).toFloat64Array();
  const argmax = (z: Float64Array, i: number) => {
    let b = 0;
    for (let k = 1; k < 10; k++) if (z[i * 10 + k]! > z[i * 10 + b]!) b = k;
    return b;
  };
  const zTrain = logitsOf(images(tr.images, mnistRows), n);
  let correct = 0;
  for (let i = 0; i < n; i++) if (argmax(zTrain, i) === labels[i]) correct++;
  const testRows = Array.from({ length: te.n }, (_, i) => i);
  const zTest = logitsOf(images(te.images, testRows), te.n);
  let testCorrect = 0;
  let firstWrong = -1;
  for (let i = 0; i < te.n; i++) {
    if (argmax(zTest, i) === te.labels[i]) testCorrect++;
    else if (firstWrong < 0) firstWrong = i;
  }
  const testIndex = opts.testIndex ?? firstWrong;
  const testRule = opts.testIndex === undefined ? 'the first test image (file order) the trained CNN misclassifies' : 'given by --test-index';
  const Xt = fromFloat64(images(te.images, [testIndex]), [1, 784]);
  const Yt = fromFloat64(oneHot([te.labels[testIndex]!]), [1, 10]);
  const f = totalLoss(loss, Xt, Yt);
  const testLossAt = (th: Float64Array) => f(obj.params(th)).item();
  const base = testLossAt(theta);
  log(`  trained: ‖∇R‖ = ${gradNorm.toExponential(2)}, train accuracy ${(correct / n).toFixed(3)}, test accuracy ${(testCorrect / te.n).toFixed(3)}; test image ${testIndex} (label ${te.labels[testIndex]}), loss ${base.toFixed(4)}`);

  // 2. Damped influence by CG.
  t = performance.now();
  const inf = new Influence(obj, theta, { solver: 'cg', damping: config.damping, cg: { tol: 1e-8, maxIter: 2000 }, log });
  const predictedAll = inf.removalEffects(f);
  seconds.influence = (performance.now() - t) / 1000;
  const info = inf.inverse.info;
  log(`  influence (CG, δ = ${config.damping}): ${info.hvps} HVPs, ${seconds.influence.toFixed(0)} s`);
  const order = Array.from(predictedAll.keys()).sort((a, b) => Math.abs(predictedAll[b]!) - Math.abs(predictedAll[a]!));
  const chosen = order.slice(0, Math.min(config.points, n));

  // 3. Retraining: the same optimiser, fresh memory, a fixed number of extra iterations.
  t = performance.now();
  const control = testLossAt(lbfgsSteps(obj, theta, config.retrainSteps)) - base;
  log(`  control (extra steps, nothing removed): test loss changes by ${control.toExponential(3)}`);
  const actual: number[] = [];
  chosen.forEach((i, c) => {
    const w = new Float64Array(n).fill(1);
    w[i] = 0;
    const th = lbfgsSteps(obj.withWeights(w), theta, config.retrainSteps);
    actual.push(testLossAt(th) - base);
    const el = (performance.now() - t) / 1000;
    if (c % 5 === 4 || c === chosen.length - 1) {
      log(`  retrained ${c + 1}/${chosen.length}: predicted ${predictedAll[i]!.toExponential(3)}, actual ${actual[c]!.toExponential(3)}; ${el.toFixed(0)} s, about ${((el / (c + 1)) * (chosen.length - c - 1)).toFixed(0)} s left`);
    }
  });
  seconds.retraining = (performance.now() - t) / 1000;
  const predicted = chosen.map((i) => predictedAll[i]!);
  const r = pearson(predicted, actual);
  const rho = spearman(predicted, actual);
  log(`  Pearson ${r.toFixed(4)}, Spearman ${rho.toFixed(4)} over ${chosen.length} points`);
  seconds.total = (performance.now() - t0) / 1000;
  return {
    nTrain: n,
    nParams: obj.dim,
    retrained: chosen.length,
    layers: cnnLayers(config.channels),
    config,
    training: { finalGradNorm: gradNorm, trainLoss: obj.value(theta), trainAccuracy: correct / n, testAccuracy: testCorrect / te.n },
    testIndex,
    testRule,
    testLabel: te.labels[testIndex]!,
    testLoss: base,
    solver: { name: 'cg', damping: config.damping, hvps: info.hvps, relResidual: info.residualHistory?.at(-1) },
    control,
    trainIndices: chosen,
    mnistRows: chosen.map((i) => mnistRows[i]!),
    labels: chosen.map((i) => labels[i]!),
    predicted,
    actual,
    pearson: r,
    spearman: rho,
    seconds,
  };
}
