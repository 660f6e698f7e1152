/**
 * The MLP: forward pass against a direct computation, closed-form per-example gradients against
 * vmap(grad), layer signals against autodiff, initialisation scale, and the JSON reader's errors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, expandDims, grad, mul, sum, tanh, tensor, vmap } from '../../src/index.ts';
import { type Activation, type MlpParams, mlpForward, mlpFromJson, mlpInit, mlpLayerwise, mlpPerExampleGradients, mlpSignals, mlpToJson, withOnes } from '../../src/nn/mlp.ts';
import { binaryLogitLoss } from '../../src/reweight/l2rw.ts';
import { expectClose, seededTensor } from '../helpers.ts';

const arbNet = fc.record({
  activation: fc.constantFrom<Activation>('tanh', 'relu'),
  sizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }),
  n: fc.integer({ min: 1, max: 5 }),
  seed: fc.integer({ min: 1, max: 100_000 }),
});

function setup({ activation, sizes, n, seed }: { activation: Activation; sizes: number[]; n: number; seed: number }) {
  const params = mlpInit(sizes, seed, activation);
  params.forEach((l, k) => (l.b = seededTensor(l.b.shape, seed + k, -0.5, 0.5)));
  const X = seededTensor([n, sizes[0]!], seed + 99, -2, 2);
  return { params, X };
}

describe('mlp', () => {
  it('forward pass equals the layer-by-layer formula computed on plain arrays', () => {
    fc.assert(
      fc.property(arbNet, (net) => {
        const { params, X } = setup(net);
        let h = X.toArray() as number[][];
        params.forEach((layer, l) => {
          const W = layer.W.toArray() as number[][];
          const b = layer.b.toArray() as number[];
          h = h.map((row) =>
            W.map((wr, o) => {
              const a = wr.reduce((acc, w, j) => acc + w * row[j]!, b[o]!);
              if (l === params.length - 1) return a;
              return net.activation === 'tanh' ? Math.tanh(a) : Math.max(a, 0);
            }),
          );
        });
        expectClose(mlpForward(params, X, net.activation), h.flat(), { rtol: 1e-13, atol: 1e-14 });
      }),
      { numRuns: 50 },
    );
  });

  it('closed-form per-example gradients (g zᵀ, g) equal vmap(grad) of each example’s loss', () => {
    fc.assert(
      fc.property(arbNet, (net) => {
        // One output (a logit), as the binary loss needs.
        const sizes = [...net.sizes.slice(0, -1), 1];
        const { params, X } = setup({ ...net, sizes });
        const n = X.shape[0]!;
        const y = tensor(Array.from({ length: n }, (_, i) => i % 2));
        const logits = mlpForward(params, X, net.activation);
        const dLogits = grad((z: Tensor) => sum(binaryLogitLoss(z, y)))(logits) as Tensor;
        const closed = mlpPerExampleGradients(params, X, dLogits, net.activation);
        const one = (p: MlpParams, x: Tensor, yi: Tensor) => sum(binaryLogitLoss(mlpForward(p, expandDims(x, 0), net.activation), expandDims(yi, 0)));
        const auto = vmap(grad(one), [null, 0, 0])(params, X, y) as MlpParams;
        closed.forEach((layer, l) => {
          expectClose(layer.W, auto[l]!.W, { rtol: 1e-12, atol: 1e-14, what: `layer ${l} W` });
          expectClose(layer.b, auto[l]!.b, { rtol: 1e-12, atol: 1e-14, what: `layer ${l} b` });
        });
      }),
      { numRuns: 40 },
    );
  });

  it('signals g_l are ∂(Σ ℓ)/∂a_l and inputs are the previous layer’s outputs; withOnes appends a 1', () => {
    const params = mlpInit([3, 4, 2], 7, 'tanh');
    const X = seededTensor([2, 3], 8);
    const t = mlpLayerwise(params, X, 'tanh');
    expectClose(t.inputs[1]!, t.outputs[0]!);
    const cot = seededTensor([2, 2], 9);
    const g = mlpSignals(params, t, cot, 'tanh');
    // ∂⟨cot, logits⟩/∂a_0 by autodiff, treating a_0 as the input of the rest of the network.
    const rest = (a0: Tensor) => sum(mul(cot, mlpForward([params[1]!], tanh(a0), 'tanh')));
    expectClose(g[0]!, grad(rest)(t.preacts[0]!) as Tensor, { rtol: 1e-12, atol: 1e-14 });
    expect(withOnes(tensor([[2, 3]])).toArray()).toEqual([[2, 3, 1]]);
  });

  it('initialisation is seeded and has the LeCun/He scale', () => {
    const a = mlpInit([400, 200, 1], 3, 'relu');
    expect(a[0]!.W.toArray()).toEqual(mlpInit([400, 200, 1], 3, 'relu')[0]!.W.toArray());
    const w = a[0]!.W.toFloat64Array();
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    // 80,000 draws: the sample variance is within ~1% of 2/400 (5 standard errors ≈ 2.5%).
    expect(Math.abs(variance / (2 / 400) - 1)).toBeLessThan(0.025);
    expect(Array.from(a[0]!.b.toFloat64Array()).every((v) => v === 0)).toBe(true);
  });

  it('reads and writes its JSON layout, and names the layer and field of every shape error', () => {
    const params = mlpInit([2, 3, 1], 0);
    const back = mlpFromJson(JSON.parse(JSON.stringify(mlpToJson(params, 'relu'))));
    expect(back.activation).toBe('relu');
    expect(back.params[0]!.W.toArray()).toEqual(params[0]!.W.toArray());
    expect(() => mlpFromJson({ activation: 'sigmoid', layers: [] }, 'net.json')).toThrow(/net\.json: "activation" must be "tanh" or "relu"/);
    expect(() => mlpFromJson({ activation: 'tanh', layers: [{ W: [[1, 2], [3]], b: [0, 0] }] }, 'n')).toThrow(/layers\[0\]\.W row 1 has 1 entries/);
    expect(() => mlpFromJson({ activation: 'tanh', layers: [{ W: [[1, 2]], b: [0, 0] }] }, 'n')).toThrow(/layers\[0\]\.b must be an array of 1 numbers/);
    expect(() =>
      mlpFromJson({ activation: 'tanh', layers: [{ W: [[1, 2]], b: [0] }, { W: [[1, 2]], b: [0] }] }, 'n'),
    ).toThrow(/layers\[1\]\.W has 2 columns but layer 0 has 1 outputs/);
    expect(() => mlpForward(params, tensor([[1, 2, 3]]), 'tanh')).toThrow(/X must have shape \[n, 2\]/);
  });
});
