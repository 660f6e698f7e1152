/**
 * The engine on the WebAssembly kernels for every matrix product they can take, small ones
 * included (the cutoffs moved to zero): once with every product on the GEMM, once with every
 * narrow one (n ≤ 7 or m ≤ 7) on the narrow kernels; against the same computation on the plain
 * TypeScript oracle (`setBackend('reference')`): an MLP's and a logistic regression's loss,
 * gradient and both HVP modes, a batched product and a row vector times a matrix.
 * The two differ only by the rounding of reassociated sums (k ≤ 37 here, so ~1e-15 relative per
 * product); 1e-11 relative leaves room for that to pass through tanh, softmax and two layers of
 * chain rule, and fails on any wrongly wired transpose or batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setWasmCutoff } from '../../src/backend/wasm/backend.ts';
import { wasmGemmAvailable, wasmGemmInfo } from '../../src/backend/wasm/gemm.ts';
import { wasmNarrowAvailable, wasmNarrowCalls } from '../../src/backend/wasm/narrow.ts';
import {
  type Tensor, add, bceWithLogits, grad, hvp, matmul, mean, mul, randomNormal, setBackend, softmaxCrossEntropy, sum, tanh, tensor,
} from '../../src/index.ts';

type Params = { W1: Tensor; b1: Tensor; W2: Tensor; b2: Tensor };

const X = randomNormal([23, 37], 1);
const Y = tensor(Array.from({ length: 23 * 5 }, (_, i) => (i % 5 === (Math.floor(i / 5) * 3) % 5 ? 1 : 0)), [23, 5]);
const params: Params = {
  W1: randomNormal([37, 19], 2, 0, 0.3),
  b1: randomNormal([19], 3, 0, 0.1),
  W2: randomNormal([19, 5], 4, 0, 0.3),
  b2: randomNormal([5], 5, 0, 0.1),
};
const dir: Params = {
  W1: randomNormal([37, 19], 6),
  b1: randomNormal([19], 7),
  W2: randomNormal([19, 5], 8),
  b2: randomNormal([5], 9),
};
const loss = (p: Params) => mean(softmaxCrossEntropy(add(matmul(tanh(add(matmul(X, p.W1), p.b1)), p.W2), p.b2), Y));

// A logistic regression on the same inputs: X·w (one column) and, in the HVP, X·[w, v] (two).
const yBinary = tensor(Array.from({ length: 23 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0));
const logistic = (w: Tensor) => add(mean(bceWithLogits(matmul(X, w), yBinary)), mul(0.01, sum(mul(w, w))));
const w0 = randomNormal([37], 12, 0, 0.3), v0 = randomNormal([37], 13);

/** Every number the engine computes here, flattened, on the current backend. */
function everything(): number[] {
  const g = grad(loss)(params) as Params;
  const hf = hvp(loss, params, dir);
  const hr = hvp(loss, params, dir, { mode: 'rev-rev' });
  const batched = matmul(randomNormal([4, 9, 7], 10), randomNormal([4, 7, 6], 11));
  const rowTimesMatrix = matmul(randomNormal([1, 37], 14), params.W1);
  const lg = grad(logistic)(w0) as Tensor;
  const lh = [hvp(logistic, w0, v0), hvp(logistic, w0, v0, { mode: 'rev-rev' })];
  const flat = (p: Params) => [p.W1, p.b1, p.W2, p.b2].flatMap((t) => [...t.toFloat64Array()]);
  return [
    loss(params).item(), ...flat(g), ...flat(hf), ...flat(hr), ...batched.toFloat64Array(), ...rowTimesMatrix.toFloat64Array(),
    logistic(w0).item(), ...lg.toFloat64Array(), ...lh.flatMap((h) => [...h.toFloat64Array()]),
  ];
}

/** `everything()` on the default backend agrees with the oracle backend within 1e-11 relative. */
function expectAgreesWithOracle(fast: number[]): void {
  setBackend('reference');
  const ref = everything();
  expect(fast.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) {
    expect(Math.abs(fast[i]! - ref[i]!), `entry ${i}`).toBeLessThanOrEqual(1e-11 * (1 + Math.abs(ref[i]!)));
  }
}

describe.runIf(wasmGemmAvailable())('the engine with every matmul on the WebAssembly kernel', () => {
  beforeAll(() => setWasmCutoff({ minColumns: 1, minMacs: 0, narrow: 'none' }));
  afterAll(() => {
    setWasmCutoff();
    setBackend('cpu');
  });

  it('loss, gradient, both HVP modes and a batched product agree with the oracle backend', () => {
    setBackend('cpu');
    const calls0 = wasmGemmInfo()!.calls;
    const fast = everything();
    // The products really ran on the kernel.
    expect(wasmGemmInfo()!.calls - calls0).toBeGreaterThan(10);
    expectAgreesWithOracle(fast);
  });
});

describe.runIf(wasmNarrowAvailable())('the engine with every narrow matmul on the narrow kernels', () => {
  beforeAll(() => setWasmCutoff({ minColumns: Infinity, minMacs: 0, narrow: 'all' }));
  afterAll(() => {
    setWasmCutoff();
    setBackend('cpu');
  });

  it('loss, gradient, both HVP modes, a batched product and a row vector agree with the oracle backend', () => {
    setBackend('cpu');
    const gemm0 = wasmGemmInfo()!.calls, narrow0 = wasmNarrowCalls();
    const fast = everything();
    // The thin products (X·w, X·[w, v], Xᵀ·r, h·W2, the batch, the row vector) took the narrow kernels, none the GEMM.
    expect(wasmNarrowCalls() - narrow0).toBeGreaterThan(10);
    expect(wasmGemmInfo()!.calls).toBe(gemm0);
    expectAgreesWithOracle(fast);
  });
});
