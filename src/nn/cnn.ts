/**
 * Convolutional networks as plain pytrees, like the MLPs of `mlp.ts`: a network is a list of layer
 * specs ({@link LayerSpec}); its parameters are an array with one entry per layer that has weights
 * (convolutions `{ w: [O, C, kh, kw], b: [O] }`, dense layers `{ W: [out, in], b: [out] }`), in
 * order, so grad, vmap, jvp, every optimiser and the flat-parameter `Objective` take them as they
 * are. The forward pass is built from the composites of `ops/conv.ts`, so every derivative (per-example
 * gradients by vmap, HVPs, the look-ahead meta-gradient of L2RW) comes from the engine.
 *
 * Convention shared across unequal: leaves under the keys `W`/`w` are L2-regularised, `b` are not.
 *
 * {@link lenet} is the LeNet of Learning to Reweight (Ren et al. 2018, their released code):
 * conv 5×5 1→16 SAME + bias, max-pool 3×3 stride 2 SAME, ReLU; conv 5×5 16→32, pool, ReLU;
 * conv 5×5 32→64, pool, ReLU (28 → 14 → 7 → 4); dense 1024 → 100, ReLU; dense 100 → 1; weights from
 * a truncated normal with σ = 0.1 (redrawn beyond 2σ, as TensorFlow's `truncated_normal`), biases 0.
 *
 * @module
 */
import { tensor } from '../core/create.ts';
import { tidy } from '../core/memory.ts';
import type { Tensor } from '../core/tensor.ts';
import { Rng } from '../core/rng.ts';
import { add, tanh } from '../ops/arith.ts';
import { relu } from '../ops/nn.ts';
import { bceWithLogits } from '../ops/losses.ts';
import { reshape } from '../ops/shape-ops.ts';
import { type Padding2d, type Size2d, avgPool2d, conv2d, maxPool2d, samePadding } from '../ops/conv.ts';
import { gemm } from '../prims/index.ts';
import { fmt } from '../base/shape.ts';

/** A 2-D convolution layer: `out` kernels of `size`, plus a per-channel bias unless `bias: false`. */
export interface ConvLayer {
  /** The layer's type. */
  kind: 'conv';
  /** Output channels (number of kernels). */
  out: number;
  /** Kernel size. */
  size: Size2d;
  /** Step between windows. Default 1. */
  stride?: Size2d;
  /** Default `'valid'`. */
  padding?: Padding2d;
  /** Add a per-channel bias. Default true. */
  bias?: boolean;
}

/** Max pooling (ties split the derivative equally; see `maxPool2d`) or average pooling (padding not counted; see `avgPool2d`). */
export interface PoolLayer {
  /** The layer's type. */
  kind: 'maxPool' | 'avgPool';
  /** Window size. */
  size: Size2d;
  /** Step between windows. Default: the window size. */
  stride?: Size2d;
  /** Default `'valid'`. */
  padding?: Padding2d;
}

/** An elementwise nonlinearity. */
export interface ActivationLayer {
  /** The layer's type. */
  kind: 'relu' | 'tanh';
}

/** `[C, H, W]` → `[C·H·W]`, channel-major (torch's order). */
export interface FlattenLayer {
  /** The layer's type. */
  kind: 'flatten';
}

/** A dense layer x Wᵀ + b with `W` `[out, in]`. */
export interface DenseLayer {
  /** The layer's type. */
  kind: 'dense';
  /** Output features. */
  out: number;
  /** Add a bias. Default true. */
  bias?: boolean;
}

/** One layer of a {@link sequential} network. Shapes are per example: `[C, H, W]` or `[d]`. */
export type LayerSpec = ConvLayer | PoolLayer | ActivationLayer | FlattenLayer | DenseLayer;

/** A convolution's parameters (a type literal, not an interface, so that it is a `Pytree`). */
export type ConvParams = {
  /** Kernels `[O, C, kh, kw]` (L2-penalised). */
  w: Tensor;
  /** Biases `[O]` (not penalised). */
  b?: Tensor;
};
/** A dense layer's parameters (a type literal, so that it is a `Pytree`). */
export type DenseParams = {
  /** Weights `[out, in]` (L2-penalised). */
  W: Tensor;
  /** Biases `[out]` (not penalised). */
  b?: Tensor;
};
/** A network's parameters: one entry per conv or dense layer, in order. A pytree. */
export type SequentialParams = (ConvParams | DenseParams)[];

/** Options of {@link Sequential.init}. */
export interface CnnInitOptions {
  /**
   * Standard deviation of the weights before truncation: a number (default 0.1, the L2RW code's), or
   * `'he'` for √(2 / fan-in) per layer (keeps ReLU activations at unit scale through depth).
   */
  std?: number | 'he';
}

/** A network: its layers, its per-example shapes, and pure functions of a params pytree. */
export interface Sequential {
  /** The layer specs, first layer first. */
  readonly layers: readonly LayerSpec[];
  /** One example's input shape, e.g. `[1, 28, 28]`. */
  readonly inputShape: readonly number[];
  /** One example's output shape, e.g. `[1]`. */
  readonly outputShape: readonly number[];
  /** Each layer's output shape per example (for inspection and error messages). */
  readonly shapes: readonly (readonly number[])[];
  /** Seeded parameters: truncated-normal weights (redrawn beyond 2σ), zero biases. */
  init(seed: number, options?: CnnInitOptions): SequentialParams;
  /**
   * The outputs `[n, ...outputShape]` for inputs `[n, ...inputShape]`, or flat rows `[n, d]` with
   * d = ∏ inputShape (MNIST rows `[n, 784]` for a `[1, 28, 28]` network). Differentiable in both.
   */
  forward(params: SequentialParams, X: Tensor): Tensor;
}

const pairOf = (v: Size2d): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Output size of a window op along one axis (the same rule as ops/conv.ts). */
function windowOut(size: number, k: number, stride: number, padding: Padding2d, axis: 0 | 1): number {
  let total: number;
  if (padding === 'same') {
    const [lo, hi] = samePadding(size, k, stride);
    total = lo + hi;
  } else if (padding === 'valid') total = 0;
  else total = 2 * (typeof padding === 'number' ? padding : padding[axis]);
  return Math.floor((size + total - k) / stride) + 1;
}

/** Per-example output shape of each layer, checking that every layer fits its input. */
function shapesOf(layers: readonly LayerSpec[], inputShape: readonly number[]): number[][] {
  const shapes: number[][] = [];
  let s = [...inputShape];
  layers.forEach((l, i) => {
    const bad = (why: string) => new Error(`sequential: layer ${i} (${l.kind}) ${why}, input shape ${fmt(s)}`);
    switch (l.kind) {
      case 'conv':
      case 'maxPool':
      case 'avgPool': {
        if (s.length !== 3) throw bad('needs a [C, H, W] input');
        const k = pairOf(l.size);
        const st = pairOf(l.stride ?? (l.kind === 'conv' ? 1 : l.size));
        const pad = l.padding ?? 'valid';
        const h = windowOut(s[1]!, k[0], st[0], pad, 0);
        const w = windowOut(s[2]!, k[1], st[1], pad, 1);
        if (!(h >= 1 && w >= 1)) throw bad(`with window ${fmt(k)} leaves no output`);
        s = [l.kind === 'conv' ? l.out : s[0]!, h, w];
        break;
      }
      case 'flatten':
        s = [s.reduce((a, b) => a * b, 1)];
        break;
      case 'dense':
        if (s.length !== 1) throw bad("needs a flat input (add { kind: 'flatten' } before it)");
        s = [l.out];
        break;
      case 'relu':
      case 'tanh':
        break;
      default:
        throw new Error(`sequential: unknown layer kind '${(l as { kind: string }).kind}' at layer ${i}`);
    }
    shapes.push(s);
  });
  return shapes;
}

/** A weight array from a normal truncated at ±2σ (values beyond are redrawn). */
function truncatedNormal(rng: Rng, n: number, std: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let z = rng.normal();
    while (Math.abs(z) > 2) z = rng.normal();
    out[i] = std * z;
  }
  return out;
}

/**
 * A sequential network of conv, pool, activation, flatten and dense layers on per-example inputs
 * of shape `inputShape` (`[C, H, W]` for images). Parameters are a pytree (see the module notes).
 *
 * @param layers the layers, first first.
 * @param inputShape one example's shape, e.g. `[1, 28, 28]`.
 *
 * @example
 * ```ts
 * const net = sequential([
 *   { kind: 'conv', out: 4, size: 3, padding: 'same' }, { kind: 'relu' },
 *   { kind: 'maxPool', size: 2 }, { kind: 'flatten' }, { kind: 'dense', out: 10 },
 * ], [1, 8, 8]);
 * const params = net.init(0, { std: 'he' });
 * net.forward(params, zeros([5, 64])).shape; // [5, 10]: flat rows are reshaped to [5, 1, 8, 8]
 * params.map((p) => Object.keys(p));         // [['w', 'b'], ['W', 'b']]
 * ```
 */
export function sequential(layers: readonly LayerSpec[], inputShape: readonly number[]): Sequential {
  const shapes = shapesOf(layers, inputShape);
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  const outputShape = shapes.length ? shapes[shapes.length - 1]! : [...inputShape];
  return {
    layers,
    inputShape,
    outputShape,
    shapes,
    init(seed, { std = 0.1 } = {}) {
      const rng = new Rng(seed);
      const params: SequentialParams = [];
      let s = [...inputShape];
      layers.forEach((l, i) => {
        if (l.kind === 'conv' || l.kind === 'dense') {
          const fanIn = l.kind === 'conv' ? s[0]! * pairOf(l.size)[0] * pairOf(l.size)[1] : s[0]!;
          const shape = l.kind === 'conv' ? [l.out, s[0]!, ...pairOf(l.size)] : [l.out, s[0]!];
          const sigma = std === 'he' ? Math.sqrt(2 / fanIn) : std;
          const weights = tensor(truncatedNormal(rng, shape.reduce((a, b) => a * b, 1), sigma), shape);
          const b = l.bias === false ? {} : { b: tensor(new Float64Array(l.out), [l.out]) };
          params.push(l.kind === 'conv' ? { w: weights, ...b } : { W: weights, ...b });
        }
        s = shapes[i]!;
      });
      return params;
    },
    forward(params, X) {
      const n = X.shape[0]!;
      let h: Tensor;
      if (X.ndim === 1 + inputShape.length && X.shape.slice(1).every((d, i) => d === inputShape[i])) h = X;
      else if (X.ndim === 2 && X.shape[1] === inputSize) h = reshape(X, [n, ...inputShape]);
      else throw new Error(`sequential: X must be [n, ${inputShape.join(', ')}] or [n, ${inputSize}], got ${fmt(X.shape)}`);
      let k = 0;
      const next = (i: number): ConvParams & DenseParams => {
        const p = params[k++] as ConvParams & DenseParams | undefined;
        if (!p) throw new Error(`sequential: layer ${i} needs parameters but params has only ${params.length} entries`);
        return p;
      };
      layers.forEach((l, i) => {
        switch (l.kind) {
          case 'conv': {
            const p = next(i);
            // The bias rides in the convolution's own pass (no broadcast array, no extra add).
            h = conv2d(h, p.w, { stride: l.stride ?? 1, padding: l.padding ?? 'valid', bias: p.b });
            break;
          }
          case 'maxPool':
            h = maxPool2d(h, { size: l.size, stride: l.stride, padding: l.padding });
            break;
          case 'avgPool':
            h = avgPool2d(h, { size: l.size, stride: l.stride, padding: l.padding });
            break;
          case 'relu':
            h = relu(h);
            break;
          case 'tanh':
            h = tanh(h);
            break;
          case 'flatten':
            h = reshape(h, [n, -1]);
            break;
          case 'dense': {
            const p = next(i);
            h = gemm(h, p.W, false, true); // h Wᵀ, the transpose as a flag
            if (p.b) h = add(h, p.b);
            break;
          }
        }
      });
      if (k !== params.length) throw new Error(`sequential: params has ${params.length} entries but the layers use ${k}`);
      return h;
    },
  };
}

/** The layers of the Learning-to-Reweight LeNet (module notes), for a `[1, 28, 28]` input. */
export const LENET_LAYERS: readonly LayerSpec[] = Object.freeze([
  { kind: 'conv', out: 16, size: 5, padding: 'same' },
  { kind: 'maxPool', size: 3, stride: 2, padding: 'same' },
  { kind: 'relu' },
  { kind: 'conv', out: 32, size: 5, padding: 'same' },
  { kind: 'maxPool', size: 3, stride: 2, padding: 'same' },
  { kind: 'relu' },
  { kind: 'conv', out: 64, size: 5, padding: 'same' },
  { kind: 'maxPool', size: 3, stride: 2, padding: 'same' },
  { kind: 'relu' },
  { kind: 'flatten' },
  { kind: 'dense', out: 100 },
  { kind: 'relu' },
  { kind: 'dense', out: 1 },
] as const satisfies readonly LayerSpec[]);

/**
 * The LeNet of Learning to Reweight (module notes) on 28×28 grey images: one logit per example.
 * Initialise it with `init(seed)` (truncated normal, σ 0.1, biases 0).
 *
 * @example
 * ```ts
 * const net = lenet();
 * const params = net.init(0);
 * params.map((p) => ('w' in p ? p.w : p.W).shape); // [[16, 1, 5, 5], [32, 16, 5, 5], [64, 32, 5, 5], [100, 1024], [1, 100]]
 * net.forward(params, zeros([2, 784])).shape;      // [2, 1]
 * ```
 */
export function lenet(): Sequential {
  return sequential(LENET_LAYERS, [1, 28, 28]);
}

/**
 * A network's outputs for `n` flat input rows (`rows`, row-major `n × d`), computed `chunk` rows at
 * a time so that a CNN's activations for thousands of images never exist at once: the `n` output
 * rows, row-major, as one array. For evaluation and frozen features (nothing is differentiated).
 *
 * @example
 * ```ts
 * const net = lenet();
 * forwardInChunks(net.forward, net.init(0), new Float64Array(600 * 784), 600).length; // 600: one logit each
 * ```
 */
export function forwardInChunks(
  forward: (params: SequentialParams, X: Tensor) => Tensor,
  params: SequentialParams,
  rows: Float64Array,
  n: number,
  chunk = 250,
): Float64Array {
  const d = rows.length / n;
  let out: Float64Array | undefined;
  for (let start = 0; start < n; start += chunk) {
    const m = Math.min(chunk, n - start);
    // Under tidy, each chunk's activations are released and reused by the next chunk.
    const f = tidy(() => forward(params, tensor(rows.subarray(start * d, (start + m) * d), [m, d]))).toFloat64Array();
    out ??= new Float64Array(n * (f.length / m));
    out.set(f, start * (f.length / m));
  }
  return out ?? new Float64Array(0);
}

/**
 * A per-example loss for a network, `(params, X, y) → [n]`, in the shape that `Objective`
 * (influence), the L2RW meta-gradients and `trainWeighted` take. By default binary cross-entropy
 * with logits on a one-output network (labels in {0, 1}).
 *
 * @param lossFromLogits `[n, out]` outputs and targets to `[n]` losses.
 *
 * @example
 * ```ts
 * const net = lenet();
 * const loss = sequentialLoss(net);
 * loss(net.init(0), zeros([3, 784]), tensor([0, 1, 1])).shape; // [3]
 * ```
 */
export function sequentialLoss(
  model: Sequential,
  lossFromLogits: (logits: Tensor, y: Tensor) => Tensor = (z, y) => bceWithLogits(reshape(z, [z.shape[0]!]), y),
): (params: SequentialParams, X: Tensor, y: Tensor) => Tensor {
  return (params, X, y) => lossFromLogits(model.forward(params, X), y);
}
