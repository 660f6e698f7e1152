/**
 * Multi-layer perceptrons as plain pytrees: an array of layers `{ W: [out, in], b: [out] }`, so that
 * every transformation (grad, vmap, jvp, …) and every optimiser takes the parameters as they are.
 *
 * Besides the forward pass this module exposes what the Learning-to-Reweight closed form needs
 * (proofs/l2rw.md): for each layer l, its input z_{l−1} (the previous layer's activation, the data
 * for l = 1) and the back-propagated signal g_l = ∂ℓ/∂a_l at its pre-activation a_l = W_l z_{l−1} + b_l.
 * A per-example gradient is then the outer product ∂ℓ/∂W_l = g_l z_{l−1}ᵀ, ∂ℓ/∂b_l = g_l, and two
 * examples' gradients have inner product Σ_l (z̃_{l−1} · z̃'_{l−1})(g_l · g'_l) with z̃ = [z; 1].
 *
 * Convention shared across unequal: leaves under the keys `W`/`w` are L2-regularised, `b` are not.
 *
 * @module
 */
import { ones, tensor } from '../core/create.ts';
import type { Tensor } from '../core/tensor.ts';
import { add, greater, mul, sub, tanh } from '../ops/arith.ts';
import { matmul } from '../ops/products.ts';
import { relu } from '../ops/nn.ts';
import { concat, reshape } from '../ops/shape-ops.ts';
import { gemm } from '../prims/index.ts';
import { Rng } from '../core/rng.ts';

/** The hidden-layer nonlinearity. The last layer is always linear (it outputs logits). */
export type Activation = 'tanh' | 'relu';

/**
 * One dense layer: `W` is `[out, in]`, `b` is `[out]`. A type alias rather than an interface so
 * that it is assignable to `Pytree` (aliases get an implicit index signature).
 */
export type MlpLayer = {
  /** The weights, shape `[out, in]` (L2-penalised). */
  W: Tensor;
  /** The biases, shape `[out]` (not penalised). */
  b: Tensor;
};

/** An MLP's parameters, first layer first. A pytree. */
export type MlpParams = MlpLayer[];

/**
 * Applies the hidden nonlinearity.
 *
 * @example
 * ```ts
 * activate(tensor([-1, 2]), 'relu').toArray(); // [0, 2]
 * ```
 */
export function activate(a: Tensor, activation: Activation): Tensor {
  if (activation === 'tanh') return tanh(a);
  if (activation === 'relu') return relu(a);
  throw new Error(`activation must be 'tanh' or 'relu', got '${activation as string}'`);
}

/**
 * σ'(a) for the hidden nonlinearity, computed from the pre-activation a (and σ(a) when cheaper):
 * tanh' = 1 − tanh², relu' = [a > 0] (0 at the kink, as `relu`'s own derivative).
 */
function activationDerivative(a: Tensor, h: Tensor, activation: Activation): Tensor {
  return activation === 'tanh' ? sub(1, mul(h, h)) : greater(a, 0);
}

function checkSizes(sizes: readonly number[]): void {
  if (sizes.length < 2) throw new Error(`mlpInit: sizes must list at least an input and an output width, got [${sizes.join(', ')}]`);
  for (const s of sizes) {
    if (!Number.isInteger(s) || s <= 0) throw new Error(`mlpInit: layer widths must be positive integers, got [${sizes.join(', ')}]`);
  }
}

/**
 * Seeded initialisation: W ~ N(0, s²/in) with s² = 1 for tanh (LeCun) and 2 for relu (He), so
 * pre-activations keep unit scale through depth; biases start at 0.
 *
 * @param sizes layer widths `[in, hidden…, out]`.
 * @param seed RNG seed (same seed, same network).
 * @param activation the hidden nonlinearity the scale is chosen for. Default `'tanh'`.
 *
 * @example
 * ```ts
 * const params = mlpInit([784, 32, 1], 0, 'relu');
 * params.length;          // 2
 * params[0].W.shape;      // [32, 784]
 * params[1].b.shape;      // [1]
 * ```
 */
export function mlpInit(sizes: readonly number[], seed: number, activation: Activation = 'tanh'): MlpParams {
  checkSizes(sizes);
  const rng = new Rng(seed);
  const gain = activation === 'relu' ? 2 : 1;
  const layers: MlpParams = [];
  for (let l = 1; l < sizes.length; l++) {
    const fanIn = sizes[l - 1]!;
    const out = sizes[l]!;
    const std = Math.sqrt(gain / fanIn);
    const w = new Float64Array(out * fanIn);
    for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
    layers.push({ W: tensor(w, [out, fanIn]), b: tensor(new Float64Array(out), [out]) });
  }
  return layers;
}

function checkInput(params: MlpParams, X: Tensor): void {
  if (params.length === 0) throw new Error('mlpForward: the network has no layers');
  const inWidth = params[0]!.W.shape[1];
  if (X.ndim !== 2 || X.shape[1] !== inWidth) {
    throw new Error(`mlpForward: X must have shape [n, ${inWidth}] for this network, got [${X.shape.join(', ')}]`);
  }
}

/**
 * The logits `[n, out]` for inputs `X` `[n, in]`: hidden layers apply `activation`, the last layer
 * is linear. Differentiable in both `params` and `X`, at any order.
 *
 * @example
 * ```ts
 * const params = mlpInit([2, 3, 1], 1);
 * mlpForward(params, tensor([[0, 1], [1, 0]]), 'tanh').shape; // [2, 1]
 * ```
 */
export function mlpForward(params: MlpParams, X: Tensor, activation: Activation): Tensor {
  checkInput(params, X);
  let h = X;
  params.forEach((layer, l) => {
    // h Wᵀ with the transpose as a flag on the primitive, never materialised.
    const a = add(gemm(h, layer.W, false, true), layer.b);
    h = l === params.length - 1 ? a : activate(a, activation);
  });
  return h;
}

/**
 * The share of rows of `set` a one-logit MLP classifies wrongly (logit > 0 means label 1): the test
 * error the weighting methods are compared by.
 *
 * @example
 * ```ts
 * const { test } = imbalancedPair({ posRatio: 0.9, nTrain: 100, nTest: 100 });
 * testError(mlpInit([784, 1], 0), 'relu', test); // 0.5: a zero network says "not 9" to everything
 * ```
 */
export function testError(params: MlpParams, activation: Activation, set: { X: Float64Array; y: ArrayLike<number>; n: number; d: number }): number {
  const z = mlpForward(params, tensor(set.X, [set.n, set.d]), activation).toFloat64Array();
  let wrong = 0;
  for (let i = 0; i < set.n; i++) if ((z[i]! > 0 ? 1 : 0) !== set.y[i]) wrong++;
  return wrong / set.n;
}

/** Everything the forward pass computed, layer by layer (see {@link mlpLayerwise}). */
export interface MlpTrace {
  /** `inputs[l]` is layer l's input z_{l−1}, `[n, in_l]` (inputs[0] is X). */
  inputs: Tensor[];
  /** `preacts[l]` is layer l's pre-activation a_l = z_{l−1} W_lᵀ + b_l, `[n, out_l]`. */
  preacts: Tensor[];
  /** `outputs[l]` is σ(a_l) for hidden layers and a_l for the last one. */
  outputs: Tensor[];
  /** The logits, `outputs[L − 1]`. */
  logits: Tensor;
}

/**
 * The forward pass with every layer's input, pre-activation and output kept, for the
 * closed-form per-example gradients.
 *
 * @example
 * ```ts
 * const t = mlpLayerwise(mlpInit([2, 3, 1], 0), tensor([[1, 2]]), 'tanh');
 * t.inputs.map((z) => z.shape);  // [[1, 2], [1, 3]]
 * t.logits.shape;                // [1, 1]
 * ```
 */
export function mlpLayerwise(params: MlpParams, X: Tensor, activation: Activation): MlpTrace {
  checkInput(params, X);
  const inputs: Tensor[] = [];
  const preacts: Tensor[] = [];
  const outputs: Tensor[] = [];
  let h = X;
  params.forEach((layer, l) => {
    inputs.push(h);
    const a = add(gemm(h, layer.W, false, true), layer.b);
    preacts.push(a);
    h = l === params.length - 1 ? a : activate(a, activation);
    outputs.push(h);
  });
  return { inputs, preacts, outputs, logits: h };
}

/**
 * Back-propagated signals g_l = ∂ℓᵢ/∂a_l, one row per example, given δ = ∂ℓᵢ/∂logitsᵢ `[n, out]`:
 * g_L = δ and g_{l−1} = (g_l W_l) ⊙ σ'(a_{l−1}). Because each row of δ is one example's own
 * derivative, row i of every g_l is that example's signal alone (no mixing across the batch).
 *
 * @param dLogits per-example derivative of each example's loss w.r.t. its own logits.
 * @returns `[g_1, …, g_L]`, `g_l` of shape `[n, out_l]`.
 *
 * @example
 * ```ts
 * const params = mlpInit([2, 3, 1], 0);
 * const t = mlpLayerwise(params, tensor([[1, 2]]), 'tanh');
 * mlpSignals(params, t, tensor([[1]]), 'tanh').map((g) => g.shape); // [[1, 3], [1, 1]]
 * ```
 */
export function mlpSignals(params: MlpParams, trace: MlpTrace, dLogits: Tensor, activation: Activation): Tensor[] {
  const L = params.length;
  const last = trace.logits.shape;
  if (dLogits.ndim !== 2 || dLogits.shape[0] !== last[0] || dLogits.shape[1] !== last[1]) {
    throw new Error(`mlpSignals: dLogits must have the logits' shape [${last.join(', ')}], got [${dLogits.shape.join(', ')}]`);
  }
  const g: Tensor[] = new Array(L);
  g[L - 1] = dLogits;
  for (let l = L - 1; l > 0; l--) {
    const back = matmul(g[l]!, params[l]!.W); // [n, out_l] · [out_l, in_l] = [n, out_{l−1}]
    g[l - 1] = mul(back, activationDerivative(trace.preacts[l - 1]!, trace.outputs[l - 1]!, activation));
  }
  return g;
}

/**
 * z̃ = [z, 1]: a layer input with a column of ones appended, so that the bias is one more weight
 * column and ∂ℓ/∂[W b] = g z̃ᵀ.
 *
 * @example
 * ```ts
 * withOnes(tensor([[2, 3]])).toArray(); // [[2, 3, 1]]
 * ```
 */
export function withOnes(z: Tensor): Tensor {
  return concat([z, ones([z.shape[0]!, 1])], 1);
}

/**
 * Per-example gradients of an MLP in closed form, from the layer inputs and signals: for example i,
 * ∂ℓᵢ/∂W_l = g_{l,i} z_{l−1,i}ᵀ and ∂ℓᵢ/∂b_l = g_{l,i}. Returned as an MLP pytree whose leaves carry
 * a leading example axis (`W: [n, out, in]`, `b: [n, out]`), the layout `vmap(grad(…))` produces.
 *
 * @param dLogits ∂ℓᵢ/∂logitsᵢ, `[n, out]`.
 *
 * @example
 * ```ts
 * const params = mlpInit([2, 3, 1], 0);
 * const X = tensor([[1, 2], [0, 1]]);
 * const G = mlpPerExampleGradients(params, X, tensor([[1], [-1]]), 'tanh');
 * G[0].W.shape; // [2, 3, 2]
 * ```
 */
export function mlpPerExampleGradients(params: MlpParams, X: Tensor, dLogits: Tensor, activation: Activation): MlpParams {
  const trace = mlpLayerwise(params, X, activation);
  const g = mlpSignals(params, trace, dLogits, activation);
  const n = X.shape[0]!;
  return params.map((_, l) => {
    const gl = g[l]!;
    const z = trace.inputs[l]!;
    // Batched outer product: [n, out, 1] · [n, 1, in] = [n, out, in].
    const W = gemm(reshape(gl, [n, gl.shape[1]!, 1]), reshape(z, [n, 1, z.shape[1]!]), false, false);
    return { W, b: gl };
  });
}

/** The JSON layout of an MLP used by the CLI: `{ activation, layers: [{ W: [[…]], b: […] }] }`. */
export interface MlpJson {
  /** The hidden layers' nonlinearity. */
  activation: Activation;
  /** The layers, first (input side) first. */
  layers: MlpLayerJson[];
}

/** One layer of {@link MlpJson}: a {@link MlpLayer} as nested arrays. */
export interface MlpLayerJson {
  /** The weights, `out` rows of `in` numbers. */
  W: number[][];
  /** The biases, `out` numbers. */
  b: number[];
}

/** An MLP as {@link mlpFromJson} reads it: its parameters and hidden nonlinearity. */
export interface MlpModel {
  /** The layers' parameters, first layer first. */
  params: MlpParams;
  /** The hidden layers' nonlinearity (the last layer is linear). */
  activation: Activation;
}

/**
 * Reads an MLP from its JSON layout, checking every shape. Errors name `source` and the layer.
 *
 * @param json the parsed JSON.
 * @param source where it came from (a file name), for error messages.
 *
 * @example
 * ```ts
 * const { params, activation } = mlpFromJson({ activation: 'relu', layers: [{ W: [[1, 2]], b: [0] }] });
 * params[0].W.shape; // [1, 2]
 * ```
 */
export function mlpFromJson(json: unknown, source = 'network'): MlpModel {
  const fail = (why: string): never => {
    throw new Error(`${source}: ${why}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected an object { "activation", "layers" }');
  const obj = json as Record<string, unknown>;
  const activation = obj.activation;
  if (activation !== 'tanh' && activation !== 'relu') fail(`"activation" must be "tanh" or "relu", got ${JSON.stringify(activation)}`);
  const layers = obj.layers;
  if (!Array.isArray(layers) || layers.length === 0) fail('"layers" must be a non-empty array of { "W", "b" }');
  const params: MlpParams = [];
  let prevOut: number | null = null;
  (layers as unknown[]).forEach((raw, l) => {
    const where = `layers[${l}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${where} must be an object { "W", "b" }`);
    const { W, b } = raw as { W?: unknown; b?: unknown };
    if (!Array.isArray(W) || W.length === 0 || !W.every((row) => Array.isArray(row))) fail(`${where}.W must be a non-empty array of rows [out × in]`);
    const rows = W as unknown[][];
    const inW = rows[0]!.length;
    if (inW === 0) fail(`${where}.W has empty rows`);
    rows.forEach((row, r) => {
      if (row.length !== inW) fail(`${where}.W row ${r} has ${row.length} entries, row 0 has ${inW}`);
      row.forEach((v, c) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.W[${r}][${c}] is not a finite number`);
      });
    });
    if (!Array.isArray(b) || b.length !== rows.length) {
      fail(`${where}.b must be an array of ${rows.length} numbers (one per row of W), got ${Array.isArray(b) ? b.length : typeof b}`);
    }
    (b as unknown[]).forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.b[${i}] is not a finite number`);
    });
    if (prevOut !== null && inW !== prevOut) fail(`${where}.W has ${inW} columns but layer ${l - 1} has ${prevOut} outputs`);
    prevOut = rows.length;
    params.push({ W: tensor(rows as number[][]), b: tensor(b as number[]) });
  });
  return { params, activation: activation as Activation };
}

/**
 * The JSON layout of an MLP (the inverse of {@link mlpFromJson}).
 *
 * @example
 * ```ts
 * mlpToJson(mlpInit([2, 1], 0), 'tanh').layers[0].b; // [0]
 * ```
 */
export function mlpToJson(params: MlpParams, activation: Activation): MlpJson {
  return {
    activation,
    layers: params.map((layer) => ({ W: layer.W.toArray() as number[][], b: layer.b.toArray() as number[] })),
  };
}
