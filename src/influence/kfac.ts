/**
 * K-FAC and EK-FAC influence: the inverse Hessian replaced by a per-layer Kronecker-factored
 * curvature (Martens & Grosse 2015; KFC for convolutions, Grosse & Martens 2016; EK-FAC's
 * eigenvalue correction, George et al. 2018, as Grosse et al. 2023 and Kronfluence use it).
 *
 * Usage — describe the trained network layer by layer, then score:
 *
 * ```ts
 * const net = linearKfacNetwork(obj, 'softmax-cross-entropy');          // multinomial logistic regression
 * // const net = mlpKfacNetwork(obj, 'relu', 'softmax-cross-entropy');   // an MLP objective (params: MlpParams)
 * // const net = sequentialKfacNetwork(obj, model, 'binary-cross-entropy'); // a CNN from nn/cnn.ts
 * const S = ekfac(net, theta, { X: Xtest, Y: Ytest }, { damping: 1e-3 }); // ScoreMatrix, tests × n
 * const K = new KroneckerInfluence(net, theta, { method: 'kfac' });        // or keep the factors:
 * K.solve(v); K.scores(test);                                             // inverse-HVP, scores
 * K.withDamping(1e-2).scores(test);                                       // a damping sweep, one fit
 * ```
 *
 * Cost: one forward/backward pass over the training set per factor pass (two for EK-FAC; the GGN
 * back-propagates C = K output-Hessian columns), one eigendecomposition per factor (`in × in` and
 * `out × out`), and for the scores tests × n × p multiply-adds in GEMMs — the same final product
 * exact influence needs, with no Hessian solve.
 *
 * Definitions. Layer l maps its input z to a = W̃ z̃ with z̃ = [z; 1] (the bias is the last column
 * of W̃ = [W b]); a convolution is the same map applied to every patch z̃_t of its input at every
 * output position t (KFC: the patches are the activations). One example's gradient is then
 * G = Σ_t g_t z̃_tᵀ with g_t = ∂ℓ/∂a_t. With "pseudo-gradients" g_{t,c}, c = 1..C, the columns of
 * a square root B of the output Hessian (B Bᵀ = ∇²_z ℓ, back-propagated like ∂ℓ/∂z), Σ_c vec(G_c)
 * vec(G_c)ᵀ is the example's Gauss–Newton block Jᵀ ∇²ℓ J of that layer (`fisher: 'ggn'`, the
 * default: for softmax cross-entropy and binary cross-entropy this is the true Fisher, its
 * expectation over y ~ p(y|x) computed exactly instead of sampled as Kronfluence does); with the
 * observed ∂ℓ/∂z alone (C = 1) it is the empirical Fisher (`fisher: 'empirical'`). Then, with wᵢ
 * the objective's example weights (1 by default) and T the positions of the layer,
 *
 *   Ā = (1/(nT)) Σᵢ wᵢ Σ_t z̃ z̃ᵀ = Q_A diag(a) Q_Aᵀ,   S̄ = (1/(nT)) Σᵢ wᵢ Σ_{t,c} g gᵀ = Q_S diag(s) Q_Sᵀ,
 *   K-FAC:  F̂ = (n/Σw) T · Ā ⊗ S̄   (eigenvalues in the basis Q_A ⊗ Q_S; T = 1 for dense layers, Σw = n unweighted)
 *   EK-FAC: F̂ = (Q_A ⊗ Q_S) diag(Λ) (Q_A ⊗ Q_S)ᵀ,  Λ_jk = (1/n) Σᵢ wᵢ Σ_c ((Q_Sᵀ Gᵢ,c Q_A)_jk)²,
 *
 * Λ being the exact diagonal of the per-example (GGN or empirical) curvature in the Kronecker
 * eigenbasis (proofs/kfac.md). KFC's factor T (Kronfluence leaves it out; it only rescales the
 * damping) makes T Ā ⊗ S̄ the expectation Σ_t E[z̃z̃ᵀ] ⊗ E[ggᵀ] under KFC's assumptions.
 *
 * Damping and the regulariser: the curvature is block-diagonal over layers and each block is
 * inverted as (F̂ + ρ I)⁻¹ with ρ = λ + `damping` + `relativeDamping` · mean(eigenvalues of the
 * block), where λ is the objective's L2 coefficient: the (λ/2)‖w‖² term of H, added to the bias
 * columns as well (the mask is not diagonal in the Kronecker eigenbasis; Kronfluence damps every
 * coordinate alike too). So K-FAC approximates (GGN + λ I + δ I)⁻¹, and for the linear models,
 * whose GGN is their Hessian, (H + δ I)⁻¹ up to the intercepts' λ.
 *
 * Scores follow the project's convention: values[t, i] = (1/n) ∇ℓ(z_t)ᵀ (F̂ + ρ)⁻¹ ∇ℓ(zᵢ), the
 * predicted change in test t's loss when training point i is removed (positive = the point helps),
 * per-example gradients without the regulariser. Training-side products skip the directions with
 * Ā's eigenvalue 0 when every example weight is positive (no training gradient has a component
 * there), which is exact, not an approximation.
 *
 * @module
 */
import { softmaxRowsInPlace } from '../linalg/vector.ts';
import { fromFloat64 } from '../core/create.ts';
import type { Pytree } from '../core/pytree.ts';
import type { Tensor } from '../core/tensor.ts';
import { gemm } from '../prims/index.ts';
import { symmetricEigen } from '../linalg/dense.ts';
import type { Objective } from '../nn/objective.ts';
import { type Activation, type MlpParams, mlpLayerwise, mlpSignals } from '../nn/mlp.ts';
import type { ConvLayer, ConvParams, DenseLayer, DenseParams, Sequential, SequentialParams } from '../nn/cnn.ts';
import { add, tanh } from '../ops/arith.ts';
import { relu } from '../ops/nn.ts';
import { reshape, take } from '../ops/shape-ops.ts';
import { type Padding2d, type Size2d, avgPool2d, conv2d, maxPool2d, samePadding } from '../ops/conv.ts';
import { vjp } from '../transforms/reverse.ts';
import type { ScoreMatrix, TestSet } from './scores.ts';

/** The per-example losses whose output derivatives and output-Hessian roots K-FAC knows in closed form. */
export type KfacOutputLoss = 'softmax-cross-entropy' | 'binary-cross-entropy' | 'squared-error';

/** One layer of a {@link KfacNetwork}: the shape of its weight matrix W̃ = [W b] and where it lives in θ. */
export interface KfacLayer {
  /** For messages, e.g. `dense 784→128`. */
  name: string;
  /** Rows of W̃: output units (dense) or channels (conv). S̄ is `out × out`. */
  out: number;
  /** Columns of W̃: inputs (dense) or C·kh·kw patch entries (conv), plus 1 for the bias. Ā is `in × in`. */
  in: number;
  /** Output positions T per example (1 for a dense layer, Ho·Wo for a convolution). */
  positions: number;
  /** θ index of W̃[o, k], row-major `out × in`. */
  index: Int32Array;
}

/** What one layer saw on a batch of m examples (see {@link KfacNetwork.capture}). */
export interface KfacLayerSignals {
  /** Layer inputs z̃ (ones column included when the layer has a bias), `[m, positions, in]` row-major. */
  acts: Float64Array;
  /** Back-propagated signals at the pre-activations, `[columns, m, positions, out]` row-major. */
  grads: Float64Array;
}

/** {@link KfacNetwork.capture}'s result. */
export interface KfacCapture {
  /** One entry per layer, in {@link KfacNetwork.layers} order. */
  layers: KfacLayerSignals[];
  /** C: signal columns per example (1 for `'gradient'`; the output Hessian's root has C columns for `'ggn'`). */
  columns: number;
  /** m: examples captured. */
  rows: number;
}

/**
 * A trained network seen layer by layer, what K-FAC needs: the objective it is trained on, its
 * layers, and a forward/backward pass that records each layer's inputs and pre-activation signals.
 * Build one with {@link linearKfacNetwork}, {@link mlpKfacNetwork} or {@link sequentialKfacNetwork};
 * another architecture implements this interface (the per-example gradient of layer l must be
 * Σ_t grads_t actsᵀ_t; {@link KroneckerInfluence} checks that against the engine on one example).
 */
export interface KfacNetwork<P extends Pytree = Pytree> {
  /** The training objective (data, loss, λ, weights, θ layout). */
  readonly obj: Objective<P>;
  /** The layers with weights, covering every entry of θ exactly once. */
  readonly layers: readonly KfacLayer[];
  /**
   * Inputs and signals of every layer for rows (X, Y) at θ: `'gradient'` back-propagates each
   * example's ∂ℓ/∂z (one column), `'ggn'` the C columns of a root B of ∇²_z ℓ (B Bᵀ = ∇²_z ℓ).
   */
  capture(theta: Float64Array, X: Tensor, Y: Tensor, mode: 'gradient' | 'ggn'): KfacCapture;
}

// ─── Output losses ─────────────────────────────────────────────────────────────────────────────

/**
 * Signals at the logits Z (`m × K`) for targets Y: `'gradient'` gives ∂ℓ/∂z (one column);
 * `'ggn'` gives the columns of B with B Bᵀ = ∇²_z ℓ:
 * - softmax cross-entropy ℓ = −Σ y log p: ∂ℓ/∂z = s p − y (s = Σ y), ∇² = s (diag p − p pᵀ) and
 *   B[:, c] = √(s p_c) (e_c − p) (since Σ p = 1, B Bᵀ = s (diag p − p pᵀ): proofs/kfac.md);
 * - binary cross-entropy (K = 1): ∂ℓ/∂z = σ − y, B = √(σ(1 − σ));
 * - squared error Σ (z − y)²: ∂ℓ/∂z = 2(z − y), B = √2 I.
 * Returned as `[columns, m, K]`.
 */
function outputSignals(loss: KfacOutputLoss, Z: Float64Array, Y: Float64Array, m: number, K: number, mode: 'gradient' | 'ggn'): { D: Float64Array; columns: number } {
  if (Y.length !== m * K) throw new Error(`kfac: ${Y.length} target values for ${m} examples × ${K} outputs (loss ${loss})`);
  if (loss === 'binary-cross-entropy') {
    if (K !== 1) throw new Error(`kfac: binary-cross-entropy needs one output per example, the network has ${K}`);
    const D = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const z = Z[i]!;
      const e = Math.exp(-Math.abs(z)); // σ through exp of a non-positive argument
      const sig = z >= 0 ? 1 / (1 + e) : e / (1 + e);
      D[i] = mode === 'gradient' ? sig - Y[i]! : Math.sqrt(sig * (1 - sig));
    }
    return { D, columns: 1 };
  }
  if (loss === 'squared-error') {
    if (mode === 'gradient') return { D: Float64Array.from(Z, (z, j) => 2 * (z - Y[j]!)), columns: 1 };
    const D = new Float64Array(K * m * K);
    for (let c = 0; c < K; c++) for (let i = 0; i < m; i++) D[(c * m + i) * K + c] = Math.SQRT2;
    return { D, columns: K };
  }
  if (loss !== 'softmax-cross-entropy') throw new Error(`kfac: unknown loss '${loss as string}' (softmax-cross-entropy, binary-cross-entropy or squared-error)`);
  const P = softmaxRowsInPlace(Float64Array.from(Z), m, K);
  const s = new Float64Array(m);
  for (let i = 0; i < m; i++) for (let k = 0; k < K; k++) s[i] += Y[i * K + k]!;
  if (mode === 'gradient') return { D: Float64Array.from(P, (p, j) => s[Math.floor(j / K)]! * p - Y[j]!), columns: 1 };
  const D = new Float64Array(K * m * K);
  for (let c = 0; c < K; c++) {
    for (let i = 0; i < m; i++) {
      const o = i * K;
      const r = Math.sqrt(s[i]! * P[o + c]!);
      const row = (c * m + i) * K;
      for (let k = 0; k < K; k++) D[row + k] = r * ((k === c ? 1 : 0) - P[o + k]!);
    }
  }
  return { D, columns: K };
}

/** [z, 1] row by row: `m × d` → `m × (d + 1)`. */
function appendOnes(z: Float64Array, m: number, d: number): Float64Array {
  const out = new Float64Array(m * (d + 1));
  for (let i = 0; i < m; i++) {
    out.set(z.subarray(i * d, (i + 1) * d), i * (d + 1));
    out[i * (d + 1) + d] = 1;
  }
  return out;
}

/** θ indices of W̃ = [W b] for a weight leaf `[out, inW]` at `offW` and a bias leaf at `offB` (−1: none). */
function denseIndex(out: number, inW: number, offW: number, offB: number): Int32Array {
  const cols = inW + (offB >= 0 ? 1 : 0);
  const idx = new Int32Array(out * cols);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < inW; k++) idx[o * cols + k] = offW + o * inW + k;
    if (offB >= 0) idx[o * cols + inW] = offB + o;
  }
  return idx;
}

// ─── Networks ──────────────────────────────────────────────────────────────────────────────────

/**
 * The one-layer view of a linear model's objective (`linearObjective`, nn/linear-models.ts):
 * softmax params `{ W: [K, d], b: [K] }` or binary params `{ w: [d], b: [] }`, with the loss the
 * objective uses (`'softmax-cross-entropy'` for softmax, `'binary-cross-entropy'` for logreg,
 * `'squared-error'` for linreg).
 *
 * @example
 * ```ts
 * const obj = linearObjective('softmax', { X, y, n, d }, 1e-3);
 * const net = linearKfacNetwork(obj, 'softmax-cross-entropy');
 * net.layers[0].in; // d + 1
 * ```
 */
export function linearKfacNetwork<P extends Pytree>(obj: Objective<P>, loss: KfacOutputLoss): KfacNetwork<P> {
  const { keys, shapes, offsets } = obj.layout;
  const ok = keys.length === 2 && keys[1] === 'b' && ((keys[0] === 'W' && shapes[0]!.length === 2 && shapes[1]!.length === 1 && shapes[1]![0] === shapes[0]![0]) || (keys[0] === 'w' && shapes[0]!.length === 1 && shapes[1]!.length === 0));
  if (!ok) {
    throw new Error(`linearKfacNetwork: expected params { W: [K, d], b: [K] } or { w: [d], b: [] }, got ${keys.map((k, i) => `${k}: [${shapes[i]!.join(', ')}]`).join(', ')}`);
  }
  const K = keys[0] === 'W' ? shapes[0]![0]! : 1;
  const d = keys[0] === 'W' ? shapes[0]![1]! : shapes[0]![0]!;
  const layer: KfacLayer = { name: `linear ${d}→${K}`, out: K, in: d + 1, positions: 1, index: denseIndex(K, d, offsets[0]!, offsets[1]!) };
  return {
    obj,
    layers: [layer],
    capture(theta, X, Y, mode) {
      const m = X.shape[0]!;
      if (X.ndim !== 2 || X.shape[1] !== d) throw new Error(`linearKfacNetwork: X must be [m, ${d}], got [${X.shape.join(', ')}]`);
      const x = X.toFloat64Array();
      const W = theta.subarray(offsets[0]!, offsets[0]! + K * d);
      const Z = gemm(X, fromFloat64(Float64Array.from(W), [K, d]), false, true).toFloat64Array();
      for (let i = 0; i < m; i++) for (let k = 0; k < K; k++) Z[i * K + k] += theta[offsets[1]! + k]!;
      const { D, columns } = outputSignals(loss, Z, Y.toFloat64Array(), m, K, mode);
      return { layers: [{ acts: appendOnes(x, m, d), grads: D }], columns, rows: m };
    },
  };
}

/**
 * The layer-by-layer view of an MLP objective (params {@link MlpParams}, per-example loss
 * `loss(mlpForward(params, X, activation), Y)`), from the closed-form layer inputs and signals of
 * nn/mlp.ts (`mlpLayerwise`, `mlpSignals`).
 *
 * @param activation the hidden nonlinearity the objective's forward pass uses.
 * @param loss the objective's per-example loss on the logits.
 *
 * @example
 * ```ts
 * const loss = (p: MlpParams, X: Tensor, Y: Tensor) => softmaxCrossEntropy(mlpForward(p, X, 'relu'), Y);
 * const obj = new Objective({ params: mlpInit([784, 128, 10], 0, 'relu'), loss, X, Y, l2: 1e-3 });
 * const net = mlpKfacNetwork(obj, 'relu', 'softmax-cross-entropy');
 * net.layers.map((l) => [l.out, l.in]); // [[128, 785], [10, 129]]
 * ```
 */
export function mlpKfacNetwork(obj: Objective<MlpParams>, activation: Activation, loss: KfacOutputLoss): KfacNetwork<MlpParams> {
  const { keys, shapes, offsets } = obj.layout;
  const L = keys.length / 2;
  const layers: KfacLayer[] = [];
  for (let l = 0; l < L; l++) {
    const [sw, sb] = [shapes[2 * l]!, shapes[2 * l + 1]!];
    if (keys[2 * l] !== 'W' || keys[2 * l + 1] !== 'b' || sw.length !== 2 || sb.length !== 1 || sb[0] !== sw[0]) {
      throw new Error(`mlpKfacNetwork: layer ${l} must be { W: [out, in], b: [out] }, got ${keys[2 * l]}: [${sw?.join(', ')}], ${keys[2 * l + 1]}: [${sb?.join(', ')}]`);
    }
    layers.push({ name: `dense ${sw[1]}→${sw[0]}`, out: sw[0]!, in: sw[1]! + 1, positions: 1, index: denseIndex(sw[0]!, sw[1]!, offsets[2 * l]!, offsets[2 * l + 1]!) });
  }
  if (L === 0 || !Number.isInteger(L)) throw new Error(`mlpKfacNetwork: the params must be MLP layers { W, b }, got keys [${keys.join(', ')}]`);
  const K = layers[L - 1]!.out;
  return {
    obj,
    layers,
    capture(theta, X, Y, mode) {
      const m = X.shape[0]!;
      const params = obj.params(theta);
      const trace = mlpLayerwise(params, X, activation);
      const { D, columns } = outputSignals(loss, trace.logits.toFloat64Array(), Y.toFloat64Array(), m, K, mode);
      const grads = layers.map((ly) => new Float64Array(columns * m * ly.out));
      for (let c = 0; c < columns; c++) {
        const g = mlpSignals(params, trace, fromFloat64(D.slice(c * m * K, (c + 1) * m * K), [m, K]), activation);
        g.forEach((gl, l) => grads[l]!.set(gl.toFloat64Array(), c * m * layers[l]!.out));
      }
      const out: KfacLayerSignals[] = layers.map((ly, l) => ({ acts: appendOnes(trace.inputs[l]!.toFloat64Array(), m, ly.in - 1), grads: grads[l]! }));
      return { layers: out, columns, rows: m };
    },
  };
}

/** One parametrised layer of a {@link Sequential} walk: its spec, input shape and leaves in θ. */
interface SequentialSlot {
  spec: ConvLayer | DenseLayer;
  inShape: number[];
  outShape: number[];
  offW: number;
  offB: number;
}

const pairOf = (v: Size2d): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** [before, after] padding of one axis, as ops/conv.ts plans it. */
function padOf(padding: Padding2d | undefined, size: number, k: number, stride: number, axis: 0 | 1): [number, number] {
  const p = padding ?? 'valid';
  if (p === 'same') return samePadding(size, k, stride);
  if (p === 'valid') return [0, 0];
  const v = typeof p === 'number' ? p : p[axis];
  return [v, v];
}

/**
 * im2col of a feature map h `[m, C, H, W]` for a convolution: `[m, Ho·Wo, C·kh·kw (+1)]`, patch
 * entries in the kernel's own order (c, a, b) so that W̃[o, c·kh·kw + a·kw + b] = w[o, c, a, b];
 * zero padding reads as 0, and the bias column is 1.
 */
function patches(h: Float64Array, m: number, inShape: number[], spec: ConvLayer, outShape: number[], bias: boolean): Float64Array {
  const [C, H, W] = inShape as [number, number, number];
  const [kh, kw] = pairOf(spec.size);
  const [sh, sw] = pairOf(spec.stride ?? 1);
  const [pt] = padOf(spec.padding, H, kh, sh, 0);
  const [pl] = padOf(spec.padding, W, kw, sw, 1);
  const [, Ho, Wo] = outShape as [number, number, number];
  const width = C * kh * kw + (bias ? 1 : 0);
  const out = new Float64Array(m * Ho * Wo * width);
  for (let i = 0; i < m; i++) {
    for (let y = 0; y < Ho; y++) {
      for (let x = 0; x < Wo; x++) {
        const row = ((i * Ho + y) * Wo + x) * width;
        for (let c = 0; c < C; c++) {
          for (let a = 0; a < kh; a++) {
            const r = y * sh + a - pt;
            if (r < 0 || r >= H) continue;
            for (let b = 0; b < kw; b++) {
              const q = x * sw + b - pl;
              if (q < 0 || q >= W) continue;
              out[row + (c * kh + a) * kw + b] = h[((i * C + c) * H + r) * W + q]!;
            }
          }
        }
        if (bias) out[row + width - 1] = 1;
      }
    }
  }
  return out;
}

/**
 * The layer-by-layer view of a convolutional network from nn/cnn.ts (`sequential`, `lenet`) trained
 * on an objective whose loss is `loss(model.forward(params, X), Y)` (`sequentialLoss`; the one-output
 * default is `'binary-cross-entropy'`). Convolutions are KFC layers (module notes): their
 * activations are the im2col patches at every output position. Pre-activation signals come from
 * one reverse pass of the engine through a forward walk that adds a zero "tap" to every conv and
 * dense output: the cotangent of a tap is ∂ℓ/∂a there.
 *
 * @example
 * ```ts
 * const model = sequential([{ kind: 'conv', out: 4, size: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', out: 1 }], [1, 6, 6]);
 * const obj = new Objective({ params: model.init(0), loss: sequentialLoss(model), X, Y, l2: 1e-3 });
 * const net = sequentialKfacNetwork(obj, model, 'binary-cross-entropy');
 * net.layers.map((l) => [l.out, l.in, l.positions]); // [[4, 10, 16], [1, 65, 1]]
 * ```
 */
export function sequentialKfacNetwork(obj: Objective<SequentialParams>, model: Sequential, loss: KfacOutputLoss): KfacNetwork<SequentialParams> {
  const { keys, offsets } = obj.layout;
  const slots: SequentialSlot[] = [];
  const layers: KfacLayer[] = [];
  let leaf = 0;
  let shape = [...model.inputShape];
  model.layers.forEach((spec, i) => {
    const outShape = [...model.shapes[i]!];
    if (spec.kind === 'conv' || spec.kind === 'dense') {
      const wKey = spec.kind === 'conv' ? 'w' : 'W';
      if (keys[leaf] !== wKey) throw new Error(`sequentialKfacNetwork: layer ${i} (${spec.kind}) expects a '${wKey}' leaf at position ${leaf} of the params, found '${keys[leaf]}'`);
      const offW = offsets[leaf++]!;
      const offB = spec.bias !== false && keys[leaf] === 'b' ? offsets[leaf++]! : -1;
      slots.push({ spec, inShape: shape, outShape, offW, offB });
      if (spec.kind === 'dense') {
        const inW = shape[0]!;
        layers.push({ name: `dense ${inW}→${spec.out} (layer ${i})`, out: spec.out, in: inW + (offB >= 0 ? 1 : 0), positions: 1, index: denseIndex(spec.out, inW, offW, offB) });
      } else {
        const [kh, kw] = pairOf(spec.size);
        const inW = shape[0]! * kh * kw;
        layers.push({ name: `conv ${shape[0]}→${spec.out} ${kh}×${kw} (layer ${i})`, out: spec.out, in: inW + (offB >= 0 ? 1 : 0), positions: outShape[1]! * outShape[2]!, index: denseIndex(spec.out, inW, offW, offB) });
      }
    }
    shape = outShape;
  });
  if (leaf !== keys.length) throw new Error(`sequentialKfacNetwork: the params have ${keys.length} leaves, the model's layers use ${leaf}`);
  if (model.outputShape.length !== 1) throw new Error(`sequentialKfacNetwork: the model must end in a flat output, got shape [${model.outputShape.join(', ')}]`);
  const K = model.outputShape[0]!;
  const inputSize = model.inputShape.reduce((a, b) => a * b, 1);

  // The forward pass of Sequential.forward with an additive tap after every conv/dense layer, and
  // the layer inputs recorded (concrete when the taps are).
  const walk = (params: SequentialParams, X: Tensor, taps: Tensor[] | null, inputs: Tensor[] | null): Tensor => {
    const m = X.shape[0]!;
    let h = X.ndim === 2 && X.shape[1] === inputSize ? reshape(X, [m, ...model.inputShape]) : X;
    let k = 0;
    for (const spec of model.layers) {
      if (spec.kind === 'conv' || spec.kind === 'dense') {
        const p = params[k] as ConvParams & DenseParams;
        inputs?.push(h);
        if (spec.kind === 'conv') {
          h = conv2d(h, p.w, { stride: spec.stride ?? 1, padding: spec.padding ?? 'valid', bias: p.b });
        } else {
          h = gemm(h, p.W, false, true);
          if (p.b) h = add(h, p.b);
        }
        if (taps) h = add(h, taps[k]!);
        k++;
      } else if (spec.kind === 'maxPool') h = maxPool2d(h, { size: spec.size, stride: spec.stride, padding: spec.padding });
      else if (spec.kind === 'avgPool') h = avgPool2d(h, { size: spec.size, stride: spec.stride, padding: spec.padding });
      else if (spec.kind === 'relu') h = relu(h);
      else if (spec.kind === 'tanh') h = tanh(h);
      else if (spec.kind === 'flatten') h = reshape(h, [m, -1]);
    }
    return h;
  };

  return {
    obj,
    layers,
    capture(theta, X, Y, mode) {
      const m = X.shape[0]!;
      const params = obj.params(theta);
      const inputs: Tensor[] = [];
      const Z = walk(params, X, null, inputs).toFloat64Array();
      const { D, columns } = outputSignals(loss, Z, Y.toFloat64Array(), m, K, mode);
      const taps = slots.map((sl) => fromFloat64(new Float64Array(m * sl.outShape.reduce((a, b) => a * b, 1)), [m, ...sl.outShape]));
      const [, pullback] = vjp((t: Tensor[]) => walk(params, X, t, null), taps);
      const grads = layers.map((ly) => new Float64Array(columns * m * ly.positions * ly.out));
      for (let c = 0; c < columns; c++) {
        const [cts] = pullback(fromFloat64(D.slice(c * m * K, (c + 1) * m * K), [m, K])) as [Tensor[]];
        layers.forEach((ly, l) => {
          const ct = cts[l]!.toFloat64Array(); // [m, out, T] for conv, [m, out] for dense
          const T = ly.positions;
          const base = c * m * T * ly.out;
          if (T === 1) grads[l]!.set(ct, base);
          else for (let i = 0; i < m; i++) for (let o = 0; o < ly.out; o++) for (let t = 0; t < T; t++) grads[l]![base + (i * T + t) * ly.out + o] = ct[(i * ly.out + o) * T + t]!;
        });
      }
      const out: KfacLayerSignals[] = slots.map((sl, l) => {
        const h = inputs[l]!.toFloat64Array();
        const bias = sl.offB >= 0;
        return { acts: sl.spec.kind === 'conv' ? patches(h, m, sl.inShape, sl.spec, sl.outShape, bias) : bias ? appendOnes(h, m, sl.inShape[0]!) : h, grads: grads[l]! };
      });
      return { layers: out, columns, rows: m };
    },
  };
}

// ─── The factors ───────────────────────────────────────────────────────────────────────────────

/** Options of {@link KroneckerInfluence}, {@link kfac} and {@link ekfac}. */
export interface KfacOptions {
  /** `'kfac'` (eigenvalues (n/Σw) T s_j a_k) or `'ekfac'` (eigenvalues fitted to the per-example curvature). Default `'ekfac'`. */
  method?: 'kfac' | 'ekfac';
  /** `'ggn'` (default): Gauss–Newton / true Fisher, exact expectation; `'empirical'`: observed-label gradients. */
  fisher?: 'ggn' | 'empirical';
  /** δ ≥ 0 added to every block besides the objective's λ. Default 0. */
  damping?: number;
  /** r ≥ 0: also add r · mean(eigenvalues) per block (Kronfluence's heuristic uses r = 0.1). Default 0. */
  relativeDamping?: number;
  /** Rows per forward/backward pass. Default 256. */
  batchSize?: number;
  /**
   * Check on training example 0 that the network's layer gradients Σ_t g_t z̃_tᵀ equal the engine's
   * per-example gradient of the objective (catches a network that does not describe `obj`). Default true.
   */
  check?: boolean;
}

/** One layer's fitted curvature in {@link KroneckerInfluence}. */
export interface KroneckerBlock {
  /** The layer. */
  layer: KfacLayer;
  /** Ā's eigenvalues (decreasing, clamped at 0) and eigenvectors (columns of a row-major `in × in`). */
  a: Float64Array;
  /** Q_A. */
  QA: Float64Array;
  /** S̄'s eigenvalues (decreasing, clamped at 0). */
  s: Float64Array;
  /** Q_S, row-major `out × out`, eigenvectors in columns. */
  QS: Float64Array;
  /** The block's eigenvalues in the basis Q_A ⊗ Q_S, row-major `out × in` (entry [j, k] ↔ s_j, a_k). */
  eigenvalues: Float64Array;
  /** ρ: λ + damping + relativeDamping · mean(eigenvalues), added to every eigenvalue. */
  damping: number;
}

/** op(A) op(B) for row-major matrices through the backend's gemm (A is `ar × ac` as stored, B `br × bc`). */
function product(A: Float64Array, ar: number, ac: number, B: Float64Array, br: number, bc: number, ta = false, tb = false): Float64Array {
  return gemm(fromFloat64(A, [ar, ac]), fromFloat64(B, [br, bc]), ta, tb).toFloat64Array();
}

/** The columns `keep` of a row-major `r × c` matrix. */
function columnsOf(M: Float64Array, r: number, c: number, keep: Int32Array): Float64Array {
  const out = new Float64Array(r * keep.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < keep.length; j++) out[i * keep.length + j] = M[i * c + keep[j]!]!;
  return out;
}

/**
 * The Kronecker-factored inverse curvature of a trained network (module notes): fitted once, then
 * used for inverse-HVPs ({@link KroneckerInfluence.solve}) and attribution scores
 * ({@link KroneckerInfluence.scores}).
 *
 * @example
 * ```ts
 * const K = new KroneckerInfluence(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta, { method: 'ekfac', damping: 1e-4 });
 * const x = K.solve(v);                              // ≈ (H + δI)⁻¹ v, block-diagonal over layers
 * const S = K.scores({ X: Xtest, Y: Ytest });        // tests × n, positive = the point helps
 * ```
 */
export class KroneckerInfluence<P extends Pytree = Pytree> {
  /** The fitted blocks, one per layer. */
  readonly blocks: KroneckerBlock[];
  /** `'kfac'` or `'ekfac'`. */
  readonly method: 'kfac' | 'ekfac';
  /** `'ggn'` or `'empirical'`. */
  readonly fisher: 'ggn' | 'empirical';
  private readonly batchSize: number;

  constructor(
    /** The network (and through it the objective and training data). */
    readonly network: KfacNetwork<P>,
    /** The trained parameters, flat in `network.obj.layout` order. */
    readonly theta: Float64Array,
    options: KfacOptions = {},
  ) {
    const { method = 'ekfac', fisher = 'ggn', damping = 0, relativeDamping = 0, batchSize = 256, check = true } = options;
    if (method !== 'kfac' && method !== 'ekfac') throw new Error(`KroneckerInfluence: method must be 'kfac' or 'ekfac', got '${method as string}'`);
    if (fisher !== 'ggn' && fisher !== 'empirical') throw new Error(`KroneckerInfluence: fisher must be 'ggn' or 'empirical', got '${fisher as string}'`);
    if (!(damping >= 0)) throw new Error(`KroneckerInfluence: damping must be ≥ 0, got ${damping}`);
    if (!(relativeDamping >= 0)) throw new Error(`KroneckerInfluence: relativeDamping must be ≥ 0, got ${relativeDamping}`);
    if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`KroneckerInfluence: batchSize must be a positive integer, got ${batchSize}`);
    const obj = network.obj;
    if (theta.length !== obj.dim) throw new Error(`KroneckerInfluence: θ has length ${theta.length}, the objective ${obj.dim}`);
    this.method = method;
    this.fisher = fisher;
    this.batchSize = batchSize;
    checkCoverage(network);
    const weights = obj.spec.weights;
    if (weights && weights.some((w) => !(w >= 0))) throw new Error('KroneckerInfluence: example weights must be ≥ 0 (a curvature factor is a weighted sum of outer products)');
    if (check) checkAgainstEngine(network, theta);
    const n = obj.n;
    const layers = network.layers;
    const mode = fisher === 'ggn' ? 'ggn' : 'gradient';

    // Pass 1: the factors Ā and S̄ (per-position means, weighted).
    const A = layers.map((ly) => new Float64Array(ly.in * ly.in));
    const S = layers.map((ly) => new Float64Array(ly.out * ly.out));
    this.forEachChunk(theta, obj.spec.X, obj.spec.Y, mode, (cap, rows) => {
      const m = cap.rows;
      layers.forEach((ly, l) => {
        const T = ly.positions;
        const sig = cap.layers[l]!;
        const acts = weighted(sig.acts, m, T * ly.in, weights, rows);
        addInto(A[l]!, product(acts, m * T, ly.in, sig.acts, m * T, ly.in, true, false));
        for (let c = 0; c < cap.columns; c++) {
          const g = sig.grads.subarray(c * m * T * ly.out, (c + 1) * m * T * ly.out);
          addInto(S[l]!, product(weighted(g, m, T * ly.out, weights, rows), m * T, ly.out, g, m * T, ly.out, true, false));
        }
      });
    });
    const ridge = obj.spec.l2 + damping;
    // With weights both factors carry wᵢ, so Ā ⊗ S̄ carries (Σw/n)² where F carries Σw/n: rescale by
    // n/Σw (1 without weights), which keeps K-FAC exact wherever the factorisation is (proofs/kfac.md §2).
    const totalWeight = weights ? weights.reduce((a, b) => a + b, 0) : n;
    if (!(totalWeight > 0)) throw new Error('KroneckerInfluence: the example weights sum to 0: there is no curvature to factor');
    const weightScale = n / totalWeight;
    const blocks: KroneckerBlock[] = layers.map((ly, l) => {
      const scale = 1 / (n * ly.positions);
      const ea = symmetricEigen(A[l]!.map((v) => v * scale), ly.in);
      const es = symmetricEigen(S[l]!.map((v) => v * scale), ly.out);
      // Ā and S̄ are PSD sums of outer products: an eigenvalue within d·ε·‖·‖ of 0 is rounding of a
      // null direction (a pixel that is always 0, softmax's S̄ 1 = 0), so it is set to 0 exactly.
      const a = ea.values.map((v) => (v > ly.in * Number.EPSILON * ea.values[0]! ? v : 0));
      const s = es.values.map((v) => (v > ly.out * Number.EPSILON * es.values[0]! ? v : 0));
      const eigenvalues = new Float64Array(ly.out * ly.in);
      if (method === 'kfac') for (let j = 0; j < ly.out; j++) for (let k = 0; k < ly.in; k++) eigenvalues[j * ly.in + k] = weightScale * ly.positions * s[j]! * a[k]!;
      return { layer: ly, a, QA: ea.vectors, s, QS: es.vectors, eigenvalues, damping: ridge };
    });

    // Pass 2 (EK-FAC): Λ_jk = (1/n) Σᵢ wᵢ Σ_c ((Q_Sᵀ G_{i,c} Q_A)_jk)², the exact diagonal in the eigenbasis.
    if (method === 'ekfac') {
      this.forEachChunk(theta, obj.spec.X, obj.spec.Y, mode, (cap, rows) => {
        layers.forEach((ly, l) => {
          const b = blocks[l]!;
          accumulateSquares(b.eigenvalues, cap, l, ly, b.QS, b.QA, weights, rows);
        });
      });
      for (const b of blocks) for (let q = 0; q < b.eigenvalues.length; q++) b.eigenvalues[q] /= n;
    }
    for (const b of blocks) b.damping = blockDamping(b, ridge, relativeDamping);
    this.blocks = blocks;
  }

  /**
   * The same factors with another damping: ρ = λ + `damping` + `relativeDamping` · mean(eigenvalues)
   * per block, without refitting (the eigenbases and eigenvalues are shared, not copied). For a
   * sweep over damping values, fit once and call this per value.
   *
   * @example
   * ```ts
   * const K = new KroneckerInfluence(net, theta, { method: 'ekfac' , damping: 1e-3 });
   * const sweep = [1e-4, 1e-3, 1e-2].map((d) => K.withDamping(d).scores(test));
   * ```
   */
  withDamping(damping: number, relativeDamping = 0): KroneckerInfluence<P> {
    if (!(damping >= 0)) throw new Error(`KroneckerInfluence.withDamping: damping must be ≥ 0, got ${damping}`);
    if (!(relativeDamping >= 0)) throw new Error(`KroneckerInfluence.withDamping: relativeDamping must be ≥ 0, got ${relativeDamping}`);
    const ridge = this.network.obj.spec.l2 + damping;
    const blocks = this.blocks.map((b) => {
      const nb = { ...b };
      nb.damping = blockDamping(nb, ridge, relativeDamping);
      return nb;
    });
    const copy = Object.create(KroneckerInfluence.prototype) as KroneckerInfluence<P>;
    return Object.assign(copy, this, { blocks });
  }

  /** Runs `fn` on the network's capture of consecutive row chunks of (X, Y). */
  private forEachChunk(theta: Float64Array, X: Tensor, Y: Tensor, mode: 'gradient' | 'ggn', fn: (cap: KfacCapture, rows: number[]) => void): void {
    const total = X.shape[0] ?? 0;
    for (let start = 0; start < total; start += this.batchSize) {
      const rows = Array.from({ length: Math.min(this.batchSize, total - start) }, (_, i) => start + i);
      const whole = rows.length === total;
      const cap = this.network.capture(theta, whole ? X : take(X, rows, 0), whole ? Y : take(Y, rows, 0), mode);
      if (cap.rows !== rows.length) throw new Error(`KroneckerInfluence: the network captured ${cap.rows} rows for a batch of ${rows.length}`);
      fn(cap, rows);
    }
  }

  /** The rotated signals u = Q_Sᵀ g (`m × out`) and inputs v = Q_kᵀ z̃ (`m × kin`) of a dense layer, over all rows of (X, Y). */
  private rotatedRows(b: KroneckerBlock, QAk: Float64Array, X: Tensor, Y: Tensor): { U: Float64Array; V: Float64Array; m: number } {
    const l = this.network.layers.indexOf(b.layer);
    const { out, in: inn } = b.layer;
    const kin = QAk.length / inn;
    const m = X.shape[0] ?? 0;
    const U = new Float64Array(m * out);
    const V = new Float64Array(m * kin);
    this.forEachChunk(this.theta, X, Y, 'gradient', (cap, rows) => {
      const sig = cap.layers[l]!;
      U.set(product(sig.grads.subarray(0, cap.rows * out), cap.rows, out, b.QS, out, out), rows[0]! * out);
      V.set(product(sig.acts, cap.rows, inn, QAk, inn, kin), rows[0]! * kin);
    });
    return { U, V, m };
  }

  /**
   * A dense layer's share of the scores: every per-example gradient is rank one, Rᵢ = uᵢ vᵢᵀ in the
   * eigenbasis, so score(t, i) = Σ_j uᵢ[j] (P̃_t vᵢ)[j] with P̃_t = (u_t v_tᵀ) ⊘ (Λ + ρ), formed for
   * a block of tests at a time and multiplied against every training vᵢ in one product.
   */
  private denseScores(b: KroneckerBlock, QAk: Float64Array, divisor: Float64Array, test: TestSet, values: Float64Array): void {
    const obj = this.network.obj;
    const n = obj.n;
    const out = b.layer.out;
    const kin = divisor.length / out;
    const train = this.rotatedRows(b, QAk, obj.spec.X, obj.spec.Y);
    const tst = this.rotatedRows(b, QAk, test.X, test.Y);
    const tests = tst.m;
    const B = Math.max(1, Math.min(tests, Math.floor((1 << 22) / (out * Math.max(n, kin)))));
    const P = new Float64Array(B * out * kin);
    for (let ts = 0; ts < tests; ts += B) {
      const bt = Math.min(B, tests - ts);
      for (let t = 0; t < bt; t++) {
        for (let j = 0; j < out; j++) {
          const u = tst.U[(ts + t) * out + j]!;
          const o = (t * out + j) * kin;
          for (let q = 0; q < kin; q++) P[o + q] = (u * tst.V[(ts + t) * kin + q]!) / divisor[j * kin + q]!;
        }
      }
      const Z = product(P.subarray(0, bt * out * kin), bt * out, kin, train.V, n, kin, false, true); // (bt·out) × n
      for (let t = 0; t < bt; t++) {
        const row = (ts + t) * n;
        for (let j = 0; j < out; j++) {
          const z = (t * out + j) * n;
          for (let i = 0; i < n; i++) values[row + i] += (Z[z + i]! * train.U[i * out + j]!) / n;
        }
      }
    }
  }

  /**
   * A convolution's share of the scores: per-example gradients Σ_t g_t z̃_tᵀ are not rank one, so
   * the rotated test gradients are divided by Λ + ρ and kept (`tests × out·kin`), and training
   * gradients are rotated a few examples at a time and multiplied against them.
   */
  private patchScores(b: KroneckerBlock, QAk: Float64Array, divisor: Float64Array, test: TestSet, values: Float64Array): void {
    const obj = this.network.obj;
    const n = obj.n;
    const l = this.network.layers.indexOf(b.layer);
    const width = divisor.length;
    const kin = width / b.layer.out;
    const tests = test.X.shape[0] ?? 0;
    if (tests * width > 1 << 26) throw new Error(`KroneckerInfluence.scores: ${tests} tests × ${width} rotated entries of ${b.layer.name} exceed 2²⁶ values; score fewer tests per call`);
    const P = new Float64Array(tests * width);
    this.forEachChunk(this.theta, test.X, test.Y, 'gradient', (cap, rows) => {
      const R = rotatedGradients(cap, l, 0, b.layer, b.QS, QAk, kin, 0, cap.rows);
      for (let q = 0; q < R.length; q++) P[rows[0]! * width + q] = R[q]! / divisor[q % width]!;
    });
    this.forEachChunk(this.theta, obj.spec.X, obj.spec.Y, 'gradient', (cap, rows) => {
      const step = Math.max(1, Math.floor((1 << 21) / width));
      for (let i0 = 0; i0 < cap.rows; i0 += step) {
        const m = Math.min(step, cap.rows - i0);
        const R = rotatedGradients(cap, l, 0, b.layer, b.QS, QAk, kin, i0, m); // m × width
        const Z = product(P, tests, width, R, m, width, false, true); // tests × m
        for (let t = 0; t < tests; t++) for (let i = 0; i < m; i++) values[t * n + rows[i0 + i]!] += Z[t * m + i]! / n;
      }
    });
  }

  /**
   * The block-diagonal inverse (F̂ + ρI)⁻¹ v for a flat θ-vector v: per layer, rotate into the
   * Kronecker eigenbasis (Q_Sᵀ V Q_A), divide by eigenvalue + ρ, rotate back.
   *
   * @example
   * ```ts
   * const x = new KroneckerInfluence(net, theta).solve(obj.gradient(theta)); // a preconditioned gradient
   * ```
   */
  solve(v: Float64Array): Float64Array {
    const p = this.network.obj.dim;
    if (v.length !== p) throw new Error(`KroneckerInfluence.solve: v has length ${v.length}, θ has ${p}`);
    const x = new Float64Array(p);
    for (const b of this.blocks) {
      const { out, in: inn, index } = b.layer;
      const V = Float64Array.from(index, (q) => v[q]!);
      const R = product(product(b.QS, out, out, V, out, inn, true, false), out, inn, b.QA, inn, inn);
      for (let q = 0; q < R.length; q++) R[q] /= b.eigenvalues[q]! + b.damping;
      const back = product(product(b.QS, out, out, R, out, inn), out, inn, b.QA, inn, inn, false, true);
      for (let q = 0; q < index.length; q++) x[index[q]!] = back[q]!;
    }
    return x;
  }

  /**
   * Attribution scores values[t, i] = (1/n) ∇ℓ(z_t)ᵀ (F̂ + ρ)⁻¹ ∇ℓ(zᵢ) for every test point t and
   * training point i (module notes), summed over layers.
   *
   * @example
   * ```ts
   * const S = new KroneckerInfluence(net, theta, { method: 'kfac', damping: 1e-3 }).scores({ X: Xtest, Y: Ytest });
   * ```
   */
  scores(test: TestSet): ScoreMatrix {
    const obj = this.network.obj;
    const n = obj.n;
    const tests = test.X.shape[0] ?? 0;
    if (test.Y.shape[0] !== tests) throw new Error(`KroneckerInfluence.scores: test X has ${tests} rows but Y has ${test.Y.shape[0]}`);
    const values = new Float64Array(tests * n);
    if (tests === 0 || n === 0) return { tests, train: n, values };
    // Only Ā's range matters on the training side when every weight is positive (module notes):
    // then aₖ = 0 forces every training input's component along q_k to 0. A weight-0 row is not in Ā
    // and may have such a component, so with zero weights every direction is kept.
    const weights = obj.spec.weights;
    const truncate = !weights || weights.every((w) => w > 0);
    for (const b of this.blocks) {
      const keep = Int32Array.from(Array.from(b.a).flatMap((v, k) => (!truncate || v > 0 ? [k] : [])));
      const QAk = columnsOf(b.QA, b.layer.in, b.layer.in, keep);
      const divisor = columnsOf(b.eigenvalues, b.layer.out, b.layer.in, keep).map((v) => v + b.damping); // out × kin
      if (b.layer.positions === 1) this.denseScores(b, QAk, divisor, test, values);
      else this.patchScores(b, QAk, divisor, test, values);
    }
    return { tests, train: n, values };
  }

  /**
   * Self-scores (1/n) ∇ℓ(zᵢ)ᵀ (F̂ + ρ)⁻¹ ∇ℓ(zᵢ) of every training point: the diagonal of
   * {@link KroneckerInfluence.scores} with the training set as the test set, without the n × n
   * matrix. Per layer, each example's gradient is rotated into the Kronecker eigenbasis
   * (Q_Sᵀ Gᵢ Q_A, a few examples at a time) and its squares are divided by Λ + ρ and summed.
   *
   * @example
   * ```ts
   * const s = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 1e-3 }).selfScores(); // n numbers ≥ 0
   * ```
   */
  selfScores(): Float64Array {
    const obj = this.network.obj;
    const n = obj.n;
    const out = new Float64Array(n);
    // The same truncation as scores (exact when every weight is positive: no training gradient has a component there).
    const weights = obj.spec.weights;
    const truncate = !weights || weights.every((w) => w > 0);
    for (const b of this.blocks) {
      const l = this.network.layers.indexOf(b.layer);
      const keep = Int32Array.from(Array.from(b.a).flatMap((v, k) => (!truncate || v > 0 ? [k] : [])));
      const QAk = columnsOf(b.QA, b.layer.in, b.layer.in, keep);
      const divisor = columnsOf(b.eigenvalues, b.layer.out, b.layer.in, keep).map((v) => v + b.damping);
      const width = divisor.length;
      const step = Math.max(1, Math.floor((1 << 21) / width));
      this.forEachChunk(this.theta, obj.spec.X, obj.spec.Y, 'gradient', (cap, rows) => {
        for (let i0 = 0; i0 < cap.rows; i0 += step) {
          const m = Math.min(step, cap.rows - i0);
          const R = rotatedGradients(cap, l, 0, b.layer, b.QS, QAk, keep.length, i0, m); // m × width
          for (let i = 0; i < m; i++) {
            let s = 0;
            for (let q = 0; q < width; q++) s += R[i * width + q]! ** 2 / divisor[q]!;
            out[rows[i0 + i]!] += s / n;
          }
        }
      });
    }
    return out;
  }
}

/** ρ = ridge + r · mean(eigenvalues) for a block, refusing a singular block with ρ = 0. */
function blockDamping(b: KroneckerBlock, ridge: number, relativeDamping: number): number {
  let mean = 0;
  let min = Infinity;
  let max = 0;
  for (const v of b.eigenvalues) {
    mean += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  mean /= b.eigenvalues.length;
  const rho = ridge + relativeDamping * mean;
  if (!(rho > 0) && !(min > b.eigenvalues.length * Number.EPSILON * max)) {
    throw new Error(
      `KroneckerInfluence: the ${b.layer.name} block is singular (smallest eigenvalue ${min}) and ρ = λ + damping + relativeDamping·mean = ${rho}; ` +
        'pass damping > 0 or relativeDamping > 0 (or train with l2 > 0)',
    );
  }
  return rho;
}

/** Every θ entry belongs to exactly one layer entry. */
function checkCoverage<P extends Pytree>(net: KfacNetwork<P>): void {
  const seen = new Uint8Array(net.obj.dim);
  for (const ly of net.layers) {
    if (ly.index.length !== ly.out * ly.in) throw new Error(`KroneckerInfluence: layer ${ly.name} has ${ly.index.length} θ indices for out × in = ${ly.out} × ${ly.in}`);
    for (const q of ly.index) {
      if (!(q >= 0 && q < seen.length)) throw new Error(`KroneckerInfluence: layer ${ly.name} points at θ index ${q}, outside 0..${seen.length - 1}`);
      if (seen[q]) throw new Error(`KroneckerInfluence: θ index ${q} belongs to two layer entries (second in ${ly.name})`);
      seen[q] = 1;
    }
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new Error(`KroneckerInfluence: θ index ${missing} belongs to no layer (the network does not cover the objective's ${seen.length} parameters)`);
}

/** Σ_t g_t z̃_tᵀ of training example 0 against the engine's ∇ℓ(z₀) (the network must describe obj). */
function checkAgainstEngine<P extends Pytree>(net: KfacNetwork<P>, theta: Float64Array): void {
  const obj = net.obj;
  if (obj.n === 0) return;
  const cap = net.capture(theta, take(obj.spec.X, [0], 0), take(obj.spec.Y, [0], 0), 'gradient');
  const want = obj.perExampleGradients(theta, [0]);
  const got = new Float64Array(obj.dim);
  net.layers.forEach((ly, l) => {
    const G = product(cap.layers[l]!.grads, ly.positions, ly.out, cap.layers[l]!.acts, ly.positions, ly.in, true, false);
    for (let q = 0; q < ly.index.length; q++) got[ly.index[q]!] = G[q]!;
  });
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  net.layers.forEach((ly) => {
    let gap = 0;
    for (const q of ly.index) gap = Math.max(gap, Math.abs(got[q]! - want[q]!));
    // Both are float64 sums of the same products in different orders: agreement to ~1e-12 relative.
    if (gap > 1e-8 * scale + 1e-300) {
      throw new Error(
        `KroneckerInfluence: the network does not describe the objective: on training example 0, layer ${ly.name}'s gradient Σ_t g_t z̃_tᵀ ` +
          `differs from the engine's per-example gradient by ${gap.toExponential(3)} (largest entry ${scale.toExponential(3)}); check the loss and activation passed to the network`,
      );
    }
  });
}

/** Rows of M (`m × width`) scaled by the weights of their examples (a copy; M itself when unweighted). */
function weighted(M: Float64Array, m: number, width: number, weights: Float64Array | undefined, rows: number[]): Float64Array {
  if (!weights) return M;
  const out = Float64Array.from(M);
  for (let i = 0; i < m; i++) {
    const w = weights[rows[i]!]!;
    for (let q = i * width; q < (i + 1) * width; q++) out[q] *= w;
  }
  return out;
}

function addInto(acc: Float64Array, x: Float64Array): void {
  for (let q = 0; q < acc.length; q++) acc[q] += x[q]!;
}

/**
 * Q_Sᵀ G_{i,c} Q for examples i0..i0+m−1 of a capture and column c, as `m × (out · kq)`:
 * G = Σ_t g_t z̃_tᵀ, so rotate g (by Q_S) and z̃ (by Q, `in × kq`) first and contract over t.
 */
function rotatedGradients(cap: KfacCapture, l: number, c: number, ly: KfacLayer, QS: Float64Array, Q: Float64Array, kq: number, i0: number, m: number): Float64Array {
  const T = ly.positions;
  const sig = cap.layers[l]!;
  const base = c * cap.rows * T * ly.out;
  const g = sig.grads.subarray(base + i0 * T * ly.out, base + (i0 + m) * T * ly.out);
  const U = product(g, m * T, ly.out, QS, ly.out, ly.out); // (m·T) × out
  const V = product(sig.acts.subarray(i0 * T * ly.in, (i0 + m) * T * ly.in), m * T, ly.in, Q, ly.in, kq); // (m·T) × kq
  if (T === 1) {
    const R = new Float64Array(m * ly.out * kq);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < ly.out; j++) {
        const u = U[i * ly.out + j]!;
        const o = (i * ly.out + j) * kq;
        for (let q = 0; q < kq; q++) R[o + q] = u * V[i * kq + q]!;
      }
    }
    return R;
  }
  // Batched over examples: [m, T, out]ᵀ · [m, T, kq] → [m, out, kq].
  return gemm(fromFloat64(U, [m, T, ly.out]), fromFloat64(V, [m, T, kq]), true, false).toFloat64Array();
}

/**
 * Λ += Σᵢ wᵢ Σ_c (Q_Sᵀ G_{i,c} Q_A)² over a capture's examples (entrywise squares). For a dense
 * layer (rank-one G_{i,c} = g_{i,c} z̃ᵢᵀ) the square of u_{i,c} vᵢᵀ is (u_{i,c}²)(vᵢ²)ᵀ, so the sum
 * is one product (Σ_c w ⊙ U_c²)ᵀ V² with V rotated once for all columns; a convolution's gradients
 * are formed a few examples at a time.
 */
function accumulateSquares(L: Float64Array, cap: KfacCapture, l: number, ly: KfacLayer, QS: Float64Array, QA: Float64Array, weights: Float64Array | undefined, rows: number[]): void {
  const m = cap.rows;
  const wOf = (i: number) => (weights ? weights[rows[i]!]! : 1);
  if (ly.positions === 1) {
    const sig = cap.layers[l]!;
    const U2 = new Float64Array(m * ly.out);
    for (let c = 0; c < cap.columns; c++) {
      const U = product(sig.grads.subarray(c * m * ly.out, (c + 1) * m * ly.out), m, ly.out, QS, ly.out, ly.out);
      for (let q = 0; q < U.length; q++) U2[q] += U[q]! * U[q]!;
    }
    for (let i = 0; i < m; i++) {
      const w = wOf(i);
      for (let j = 0; j < ly.out; j++) U2[i * ly.out + j] *= w;
    }
    const V = product(sig.acts, m, ly.in, QA, ly.in, ly.in);
    for (let q = 0; q < V.length; q++) V[q] = V[q]! * V[q]!;
    addInto(L, product(U2, m, ly.out, V, m, ly.in, true, false));
    return;
  }
  const width = ly.out * ly.in;
  const step = Math.max(1, Math.floor((1 << 21) / width));
  for (let c = 0; c < cap.columns; c++) {
    for (let i0 = 0; i0 < m; i0 += step) {
      const mm = Math.min(step, m - i0);
      const R = rotatedGradients(cap, l, c, ly, QS, QA, ly.in, i0, mm);
      for (let i = 0; i < mm; i++) {
        const w = wOf(i0 + i);
        if (w === 0) continue;
        const o = i * width;
        for (let q = 0; q < width; q++) L[q] += w * R[o + q]! * R[o + q]!;
      }
    }
  }
}

/**
 * K-FAC attribution scores: {@link KroneckerInfluence} with `method: 'kfac'` (module notes).
 *
 * @example
 * ```ts
 * const S = kfac(mlpKfacNetwork(obj, 'relu', 'softmax-cross-entropy'), theta, { X: Xtest, Y: Ytest }, { damping: 1e-3 });
 * scoreRow(S, 0); // training points' scores for test point 0; positive = the point helps
 * ```
 */
export function kfac<P extends Pytree>(network: KfacNetwork<P>, theta: Float64Array, test: TestSet, options: Omit<KfacOptions, 'method'> = {}): ScoreMatrix {
  return new KroneckerInfluence(network, theta, { ...options, method: 'kfac' }).scores(test);
}

/**
 * EK-FAC attribution scores: {@link KroneckerInfluence} with `method: 'ekfac'` (module notes).
 *
 * @example
 * ```ts
 * const S = ekfac(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta, { X: Xtest, Y: Ytest });
 * ```
 */
export function ekfac<P extends Pytree>(network: KfacNetwork<P>, theta: Float64Array, test: TestSet, options: Omit<KfacOptions, 'method'> = {}): ScoreMatrix {
  return new KroneckerInfluence(network, theta, { ...options, method: 'ekfac' }).scores(test);
}
