/**
 * K-FAC and EK-FAC (src/influence/kfac.ts) against exact float64 references: the layer view of
 * each network reproduces the engine's per-example gradients and Gauss–Newton blocks; K-FAC's
 * inverse equals the exact damped inverse wherever the Kronecker factorisation is exact; EK-FAC's
 * eigenvalues are the exact diagonal of the curvature in the Kronecker eigenbasis (so EK-FAC is
 * exact when the curvature is diagonal there); the fast score path equals the definition; and on
 * a multinomial logistic regression both correlate with exact influence. Derivations:
 * proofs/kfac.md.
 */
import { describe, expect, it } from 'vitest';
import { fromFloat64 } from '../../src/core/create.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import type { Pytree } from '../../src/core/pytree.ts';
import { cholesky, choleskySolve } from '../../src/linalg/dense.ts';
import { pearson } from '../../src/linalg/vector.ts';
import { linearObjective } from '../../src/nn/linear-models.ts';
import { mlpForward, mlpInit, type MlpParams } from '../../src/nn/mlp.ts';
import { Objective } from '../../src/nn/objective.ts';
import { newton } from '../../src/optim/newton.ts';

import { bceWithLogits, softmaxCrossEntropy } from '../../src/ops/losses.ts';
import { reshape } from '../../src/ops/shape-ops.ts';
import { Influence } from '../../src/influence/influence.ts';
import { influenceScores } from '../../src/influence/scores.ts';
import { ggnOperator, softmaxCrossEntropyOutputHessian, bceWithLogitsOutputHessian } from '../../src/influence/curvature.ts';
import { KroneckerInfluence, ekfac, kfac, linearKfacNetwork, mlpKfacNetwork, sequentialKfacNetwork, type KfacNetwork } from '../../src/influence/kfac.ts';
import { sequential, sequentialLoss, type LayerSpec } from '../../src/nn/cnn.ts';
import { randomData } from './problems.ts';
import { maxRelErr, operatorMatrix } from '../helpers.ts';

/** (M + ρI)⁻¹ v for a dense symmetric positive-definite M (row-major p × p). */
function dampedSolve(M: Float64Array, p: number, rho: number, v: Float64Array): Float64Array {
  const A = Float64Array.from(M);
  for (let i = 0; i < p; i++) A[i * p + i] += rho;
  return choleskySolve(cholesky(A, p), p, v);
}

/** A dense matrix from an operator, column by column (symmetrised). */
function denseOf(op: (v: Float64Array) => Float64Array, p: number): Float64Array {
  const M = operatorMatrix(op, p);
  for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) M[i * p + j] = M[j * p + i] = 0.5 * (M[i * p + j]! + M[j * p + i]!);
  return M;
}

/** A small MLP objective (d → h → K) with softmax cross-entropy (K > 1) or BCE (K = 1), random data. */
function mlpProblem(n: number, d: number, h: number, K: number, activation: 'relu' | 'tanh', seed: number, l2 = 0) {
  const rng = new Rng(seed);
  const X = fromFloat64(Float64Array.from({ length: n * d }, () => rng.normal()), [n, d]);
  const Yv = new Float64Array(K > 1 ? n * K : n);
  for (let i = 0; i < n; i++) {
    if (K > 1) Yv[i * K + Math.floor(rng.uniform() * K)] = 1;
    else Yv[i] = rng.uniform() < 0.5 ? 1 : 0;
  }
  const Y = fromFloat64(Yv, K > 1 ? [n, K] : [n]);
  const loss =
    K > 1
      ? (p: MlpParams, Xb: Tensor, Yb: Tensor) => softmaxCrossEntropy(mlpForward(p, Xb, activation), Yb)
      : (p: MlpParams, Xb: Tensor, Yb: Tensor) => bceWithLogits(reshape(mlpForward(p, Xb, activation), [Xb.shape[0]!]), Yb);
  const init = mlpInit([d, h, K], seed + 1, activation);
  // Non-zero biases so that no path through the network is special.
  for (const layer of init) layer.b = fromFloat64(Float64Array.from({ length: layer.b.size }, () => 0.3 * rng.normal()), [layer.b.size]);
  const obj = new Objective({ params: init, loss, X, Y, l2 });
  const theta = obj.layout.flatten(init);
  const net = mlpKfacNetwork(obj, activation, K > 1 ? 'softmax-cross-entropy' : 'binary-cross-entropy');
  const outputs = (th: Tensor) => {
    const z = mlpForward(obj.layout.unflatten(th), X, activation);
    return K > 1 ? z : reshape(z, [n]);
  };
  const ggn = ggnOperator(outputs, K > 1 ? softmaxCrossEntropyOutputHessian() : bceWithLogitsOutputHessian(), theta);
  return { obj, theta, net, ggn };
}

/** θ-vector of the matrix E (`out × in`) placed in layer l. */
function embed<P extends Pytree>(net: KfacNetwork<P>, l: number, E: Float64Array): Float64Array {
  const v = new Float64Array(net.obj.dim);
  net.layers[l]!.index.forEach((q, r) => (v[q] = E[r]!));
  return v;
}

/**
 * For each layer block of an EK-FAC fit, the largest |eᵀGe − Λ_jk| relative to the largest |eᵀGe|
 * over the Kronecker eigenbasis directions e = vec(q_S,j q_A,kᵀ) of that block (G the exact
 * Gauss–Newton operator): zero when Λ is the exact diagonal of the block in that basis.
 */
function eigenbasisDiagonalErrors<P extends Pytree>(K: KroneckerInfluence<P>, net: KfacNetwork<P>, dim: number, ggn: (v: Float64Array) => Float64Array): number[] {
  return K.blocks.map((b, l) => {
    const { out, in: inn } = b.layer;
    let worst = 0;
    let scale = 0;
    for (let j = 0; j < out; j++) {
      for (let k = 0; k < inn; k++) {
        const E = new Float64Array(out * inn);
        for (let o = 0; o < out; o++) for (let c = 0; c < inn; c++) E[o * inn + c] = b.QS[o * out + j]! * b.QA[c * inn + k]!;
        const e = embed(net, l, E);
        const Ge = ggn(e);
        let q = 0;
        for (let r = 0; r < dim; r++) q += e[r]! * Ge[r]!;
        worst = Math.max(worst, Math.abs(q - b.eigenvalues[j * inn + k]!));
        scale = Math.max(scale, Math.abs(q));
      }
    }
    return worst / scale;
  });
}

describe('the layer view of a network', () => {
  // Σ_t g_t z̃_tᵀ mapped into θ must be the engine's vmap(grad) row for every example; both are
  // float64 sums of the same products in another order, so they agree to ~1e-13 relative.
  it.each([
    ['softmax regression', () => ({ obj: linearObjective('softmax', randomData('softmax', 40, 5, 1), 0.1, { classes: 3 }), loss: 'softmax-cross-entropy' as const, kind: 'linear' })],
    ['binary logistic regression', () => ({ obj: linearObjective('logreg', randomData('logreg', 40, 5, 2), 0.1), loss: 'binary-cross-entropy' as const, kind: 'linear' })],
    ['linear regression', () => ({ obj: linearObjective('linreg', randomData('linreg', 40, 5, 3), 0.1), loss: 'squared-error' as const, kind: 'linear' })],
  ])('%s: per-example gradients equal the engine’s', (_, make) => {
    const { obj, loss } = make();
    const rng = new Rng(9);
    const theta = Float64Array.from({ length: obj.dim }, () => rng.normal());
    const net = linearKfacNetwork(obj, loss);
    const cap = net.capture(theta, obj.spec.X, obj.spec.Y, 'gradient');
    const ly = net.layers[0]!;
    const G = obj.perExampleGradients(theta);
    const mine = new Float64Array(G.length);
    for (let i = 0; i < obj.n; i++) {
      for (let o = 0; o < ly.out; o++) for (let k = 0; k < ly.in; k++) mine[i * obj.dim + ly.index[o * ly.in + k]!] = cap.layers[0]!.grads[i * ly.out + o]! * cap.layers[0]!.acts[i * ly.in + k]!;
    }
    expect(maxRelErr(mine, G)).toBeLessThan(1e-12);
  });

  it.each([
    ['relu, softmax', 'relu', 3],
    ['tanh, BCE', 'tanh', 1],
  ] as const)('MLP (%s): per-example gradients equal the engine’s and the pseudo-gradients give the exact Gauss–Newton blocks', (_, act, K) => {
    const n = 12;
    const { obj, theta, net, ggn } = mlpProblem(n, 4, 5, K, act, 4);
    const G = obj.perExampleGradients(theta);
    const cap = net.capture(theta, obj.spec.X, obj.spec.Y, 'gradient');
    const mine = new Float64Array(G.length);
    net.layers.forEach((ly, l) => {
      for (let i = 0; i < n; i++) {
        for (let o = 0; o < ly.out; o++) for (let k = 0; k < ly.in; k++) mine[i * obj.dim + ly.index[o * ly.in + k]!] = cap.layers[l]!.grads[i * ly.out + o]! * cap.layers[l]!.acts[i * ly.in + k]!;
      }
    });
    expect(maxRelErr(mine, G)).toBeLessThan(1e-12);
    // (1/n) Σᵢ Σ_c vec(G_ic) vec(G_ic)ᵀ = Jᵀ ∇²ℓ J restricted to a layer (B Bᵀ = ∇²_z ℓ), against
    // the engine's GGN operator (jvp → output Hessian → vjp): entry by entry, to rounding.
    const ggnCap = net.capture(theta, obj.spec.X, obj.spec.Y, 'ggn');
    const Gfull = denseOf(ggn, obj.dim);
    net.layers.forEach((ly, l) => {
      const w = ly.out * ly.in;
      const block = new Float64Array(w * w);
      for (let c = 0; c < ggnCap.columns; c++) {
        for (let i = 0; i < n; i++) {
          const vec = new Float64Array(w);
          for (let o = 0; o < ly.out; o++) for (let k = 0; k < ly.in; k++) vec[o * ly.in + k] = ggnCap.layers[l]!.grads[(c * n + i) * ly.out + o]! * ggnCap.layers[l]!.acts[i * ly.in + k]!;
          for (let a = 0; a < w; a++) for (let b = 0; b < w; b++) block[a * w + b] += (vec[a]! * vec[b]!) / n;
        }
      }
      const ref = new Float64Array(w * w);
      for (let a = 0; a < w; a++) for (let b = 0; b < w; b++) ref[a * w + b] = Gfull[ly.index[a]! * obj.dim + ly.index[b]!]!;
      expect(maxRelErr(block, ref)).toBeLessThan(1e-12);
    });
  });

  it('refuses a network that does not describe the objective (wrong loss), naming the layer', () => {
    const obj = linearObjective('logreg', randomData('logreg', 20, 3, 5), 0.1);
    const theta = new Float64Array(obj.dim).fill(0.2);
    expect(() => new KroneckerInfluence(linearKfacNetwork(obj, 'squared-error'), theta)).toThrow(/does not describe the objective.*linear 3→1/);
    expect(() => linearKfacNetwork(mlpProblem(5, 2, 3, 2, 'relu', 1).obj as never, 'softmax-cross-entropy')).toThrow(/expected params/);
  });
});

describe('K-FAC where the Kronecker factorisation is exact', () => {
  // Linear regression: ℓ = (wᵀx̃ − y)², so g = 2(z − y) and B = √2: S̄ = 2 and the GGN (= H) is
  // (2/n) Σ x̃x̃ᵀ = Ā ⊗ S̄ exactly, for any data and θ. With λ = 0, (F̂ + δI)⁻¹ = (H + δI)⁻¹.
  it('linear regression: the K-FAC inverse is the exact damped inverse Hessian, with and without example weights', () => {
    const obj = linearObjective('linreg', randomData('linreg', 30, 4, 11), 0);
    const theta = Float64Array.from({ length: obj.dim }, (_, i) => 0.1 * i);
    const K = new KroneckerInfluence(linearKfacNetwork(obj, 'squared-error'), theta, { method: 'kfac', damping: 0.05 });
    const v = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(i + 1));
    expect(maxRelErr(K.solve(v), dampedSolve(obj.hessian(theta), obj.dim, 0.05, v))).toBeLessThan(1e-10);
    // With example weights (zeros included, as an LDS subset has) both factors carry wᵢ; the n/Σw
    // rescaling keeps the product exact: F̂ = (n/W)·Ā ⊗ (W/n)·2 = H.
    const weights = Float64Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 0 : 0.5 + (i % 4)));
    const objW = obj.withWeights(weights);
    const KW = new KroneckerInfluence(linearKfacNetwork(objW, 'squared-error'), theta, { method: 'kfac', damping: 0.05 });
    expect(maxRelErr(KW.solve(v), dampedSolve(objW.hessian(theta), obj.dim, 0.05, v))).toBeLessThan(1e-10);
  });

  // Softmax regression at θ = 0: every pᵢ is uniform, so Dᵢ = diag p − ppᵀ is the same matrix for
  // every example and H = (1/n) Σ x̃x̃ᵀ ⊗ D = Ā ⊗ S̄ exactly (the expectation factorises).
  it('softmax regression at θ = 0 (all predictive distributions equal): K-FAC = exact (H + δI)⁻¹', () => {
    const obj = linearObjective('softmax', randomData('softmax', 30, 4, 12), 0, { classes: 3 });
    const theta = new Float64Array(obj.dim);
    const K = new KroneckerInfluence(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta, { method: 'kfac', damping: 0.02 });
    const v = Float64Array.from({ length: obj.dim }, (_, i) => Math.cos(3 * i));
    expect(maxRelErr(K.solve(v), dampedSolve(obj.hessian(theta), obj.dim, 0.02, v))).toBeLessThan(1e-10);
    // At a generic θ the factorisation is an approximation: the same check fails clearly.
    const theta2 = Float64Array.from({ length: obj.dim }, (_, i) => Math.sin(5 * i));
    const K2 = new KroneckerInfluence(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta2, { method: 'kfac', damping: 0.02 });
    expect(maxRelErr(K2.solve(v), dampedSolve(obj.hessian(theta2), obj.dim, 0.02, v))).toBeGreaterThan(1e-3);
  });

  // One training example: its GGN block is Σ_c (z̃z̃ᵀ) ⊗ (g_c g_cᵀ) = Ā ⊗ S̄, for every layer of any MLP;
  // so (F̂_l + ρ)⁻¹ (G_ll + ρ) v_l = v_l with G_ll the engine's GGN block.
  it.each(['ggn', 'empirical'] as const)('one example, every MLP layer (%s): (F̂ + ρ)⁻¹ (G_block + ρ) v = v', (fisher) => {
    const { obj, theta, net, ggn } = mlpProblem(1, 4, 6, 3, 'tanh', 21);
    const rho = 0.03;
    const K = new KroneckerInfluence(net, theta, { method: 'kfac', fisher, damping: rho });
    const g1 = obj.perExampleGradients(theta);
    // The empirical Fisher of one example is g gᵀ (outer product of its gradient).
    const curvature = fisher === 'ggn' ? ggn : (v: Float64Array) => {
      let s = 0;
      for (let q = 0; q < v.length; q++) s += g1[q]! * v[q]!;
      return g1.map((g) => g * s);
    };
    const rng = new Rng(5);
    net.layers.forEach((ly, l) => {
      const v = embed(net, l, Float64Array.from({ length: ly.out * ly.in }, () => rng.normal()));
      const Gv = curvature(v);
      const rhs = new Float64Array(obj.dim);
      for (const q of ly.index) rhs[q] = Gv[q]! + rho * v[q]!; // the block's share only
      expect(maxRelErr(K.solve(rhs), v)).toBeLessThan(1e-10);
    });
  });
});

describe('EK-FAC', () => {
  // Λ_jk = (1/n) Σᵢ Σ_c ((Q_Sᵀ G_ic Q_A)_jk)² is eᵀ G e for e = vec(q_S,j q_A,kᵀ): the exact diagonal
  // of the layer's GGN block in the Kronecker eigenbasis, whatever the network (proofs/kfac.md).
  it('its eigenvalues are the exact diagonal of the Gauss–Newton block in the Kronecker eigenbasis', () => {
    const { obj, theta, net, ggn } = mlpProblem(15, 3, 4, 3, 'relu', 31);
    const K = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 1e-3 });
    for (const err of eigenbasisDiagonalErrors(K, net, obj.dim, ggn)) expect(err).toBeLessThan(1e-11);
  });

  // Binary logistic regression whose inputs x̃ = [x, 1] take three mutually orthogonal values
  // ((1, 0, 1), (−1, 1, 1), (−1, −2, 1): pairwise dot products 0). Ā's eigenvectors are those
  // directions (distinct eigenvalues by distinct counts × norms), S̄ is 1 × 1, and both the GGN
  // (= H) and the empirical Fisher are Σ_groups c_g x̃_g x̃_gᵀ: diagonal in the Kronecker eigenbasis.
  // So EK-FAC is the exact damped inverse, while K-FAC (one averaged σ(1 − σ)) is not.
  it('equals the exact damped inverse when the curvature is diagonal in the Kronecker eigenbasis; K-FAC does not', () => {
    const groups = [[1, 0], [-1, 1], [-1, -2]];
    const counts = [5, 9, 4];
    const X: number[] = [];
    const y: number[] = [];
    groups.forEach((x, g) => {
      for (let r = 0; r < counts[g]!; r++) {
        X.push(...x);
        y.push((r + g) % 3 === 0 ? 1 : 0);
      }
    });
    const n = y.length;
    const obj = linearObjective('logreg', { X: Float64Array.from(X), y: Float64Array.from(y), n, d: 2 }, 0);
    const theta = new Float64Array([0.7, -0.4, 0.2]); // any θ: σ differs across groups
    const v = new Float64Array([0.3, -1.1, 0.5]);
    const rho = 0.01;
    const exact = dampedSolve(obj.hessian(theta), 3, rho, v);
    const net = linearKfacNetwork(obj, 'binary-cross-entropy');
    const ek = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: rho });
    const kf = new KroneckerInfluence(net, theta, { method: 'kfac', damping: rho });
    expect(maxRelErr(ek.solve(v), exact)).toBeLessThan(1e-10);
    expect(maxRelErr(kf.solve(v), exact)).toBeGreaterThan(1e-2);
    // The empirical Fisher (1/n) Σ (σ − y)² x̃x̃ᵀ is diagonal in the same basis: EK-FAC fitted to the
    // observed gradients is its exact damped inverse too.
    const G = obj.perExampleGradients(theta);
    const F = new Float64Array(9);
    for (let i = 0; i < n; i++) for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) F[a * 3 + b] += (G[i * 3 + a]! * G[i * 3 + b]!) / n;
    const emp = new KroneckerInfluence(net, theta, { method: 'ekfac', fisher: 'empirical', damping: rho });
    expect(maxRelErr(emp.solve(v), dampedSolve(F, 3, rho, v))).toBeLessThan(1e-10);
  });
});

describe('scores', () => {
  // The fast path (rank-one products in the eigenbasis, Ā's null directions skipped, tests in
  // blocks) must equal the definition (1/n) ∇ℓ(z_t)ᵀ solve(∇ℓ(zᵢ)) computed the slow way.
  it.each(['kfac', 'ekfac'] as const)('%s: equal (1/n) ∇ℓ_tᵀ (F̂ + ρ)⁻¹ ∇ℓᵢ, the definition, on an MLP with weights and λ', (method) => {
    const { obj: base, theta } = mlpProblem(25, 5, 6, 3, 'relu', 41, 0.01);
    // Input feature 2 is 0 in every training row but row 0, whose weight is 0: Ā (built from weighted
    // rows) has a null direction along which row 0's gradient is not 0, so the score path must not
    // skip it; feature 3 is 0 everywhere (a null direction that is safe to skip without weights).
    const Xv = base.spec.X.toFloat64Array();
    for (let i = 1; i < 25; i++) Xv[i * 5 + 2] = 0;
    for (let i = 0; i < 25; i++) Xv[i * 5 + 3] = 0;
    const weights = Float64Array.from({ length: 25 }, (_, i) => (i % 4 === 0 ? 0 : 1 + (i % 3)));
    const obj = new Objective({ ...base.spec, X: fromFloat64(Xv, [25, 5]), weights });
    const net = mlpKfacNetwork(obj, 'relu', 'softmax-cross-entropy');
    const rng = new Rng(2);
    const Xt = fromFloat64(Float64Array.from({ length: 4 * 5 }, () => rng.normal()), [4, 5]); // test rows use feature 2
    const Yt = fromFloat64(Float64Array.from({ length: 12 }, (_, j) => (j % 3 === j % 4 % 3 ? 1 : 0)), [4, 3]);
    const K = new KroneckerInfluence(net, theta, { method, damping: 1e-3, batchSize: 7 });
    const S = K.scores({ X: Xt, Y: Yt });
    const G = obj.perExampleGradients(theta);
    const Gt = new Objective({ ...obj.spec, X: Xt, Y: Yt, weights: undefined }).perExampleGradients(theta);
    const want = new Float64Array(4 * 25);
    for (let t = 0; t < 4; t++) {
      const s = K.solve(Gt.slice(t * obj.dim, (t + 1) * obj.dim));
      for (let i = 0; i < 25; i++) {
        let dot = 0;
        for (let q = 0; q < obj.dim; q++) dot += s[q]! * G[i * obj.dim + q]!;
        want[t * 25 + i] = dot / 25;
      }
    }
    expect(maxRelErr(S.values, want)).toBeLessThan(1e-10);
    expect(S.tests).toBe(4);
    expect(S.train).toBe(25);
    // Unweighted, feature 3's null direction of Ā is skipped: still the definition.
    const plain = new Objective({ ...obj.spec, weights: undefined });
    const K2 = new KroneckerInfluence(mlpKfacNetwork(plain, 'relu', 'softmax-cross-entropy'), theta, { method, damping: 1e-3, batchSize: 7 });
    expect(K2.blocks[0]!.a.filter((a) => a === 0).length).toBeGreaterThan(0);
    const S2 = K2.scores({ X: Xt, Y: Yt });
    const want2 = new Float64Array(4 * 25);
    for (let t = 0; t < 4; t++) {
      const s = K2.solve(Gt.slice(t * obj.dim, (t + 1) * obj.dim));
      for (let i = 0; i < 25; i++) {
        let dot = 0;
        for (let q = 0; q < obj.dim; q++) dot += s[q]! * G[i * obj.dim + q]!;
        want2[t * 25 + i] = dot / 25;
      }
    }
    expect(maxRelErr(S2.values, want2)).toBeLessThan(1e-10);
  });

  // Multinomial logistic regression at its optimum (Newton, ‖∇R‖ < 1e-10), 3 classes, 8 features,
  // λ = 0.01: the GGN is the Hessian, and K-FAC's only approximation is Ā ⊗ E[D] for E[x̃x̃ᵀ ⊗ D].
  // Measured (this problem, 20 test points): Pearson with exact influence per test point, minimum
  // over test points 0.925 for K-FAC and 0.939 for EK-FAC, means 0.973 for both; the norm of the
  // score matrix is 1.00× (K-FAC) and 1.12× (EK-FAC) exact's. Bounds: minimum 0.85, mean 0.95.
  it('on multinomial logistic regression, K-FAC and EK-FAC scores correlate with exact influence', () => {
    const n = 150;
    const d = 8;
    const data = randomData('softmax', n + 20, d, 51);
    const train = { X: data.X.slice(0, n * d), y: data.y.slice(0, n), n, d };
    const obj = linearObjective('softmax', train, 0.01, { classes: 3 });
    const { theta, gradNorm } = newton(obj);
    expect(gradNorm).toBeLessThan(1e-10);
    const Yt = new Float64Array(20 * 3);
    for (let t = 0; t < 20; t++) Yt[t * 3 + data.y[n + t]!] = 1;
    const test = { X: fromFloat64(data.X.slice(n * d), [20, d]), Y: fromFloat64(Yt, [20, 3]) };
    const exact = influenceScores(new Influence(obj, theta), test);
    const net = linearKfacNetwork(obj, 'softmax-cross-entropy');
    const kf = kfac(net, theta, test);
    const ek = ekfac(net, theta, test);
    const corr = (S: { values: Float64Array }) =>
      Array.from({ length: 20 }, (_, t) => pearson(S.values.subarray(t * n, (t + 1) * n), exact.values.subarray(t * n, (t + 1) * n)));
    const ck = corr(kf);
    const ce = corr(ek);
    const mean = (c: number[]) => c.reduce((a, b) => a + b, 0) / c.length;
    expect(Math.min(...ck)).toBeGreaterThan(0.85);
    expect(Math.min(...ce)).toBeGreaterThan(0.85);
    expect(mean(ck)).toBeGreaterThan(0.95);
    expect(mean(ce)).toBeGreaterThan(0.95);
    // Same units as influence (1/n included): the scales agree to within a factor of 2.
    const ratio = Math.hypot(...ek.values) / Math.hypot(...exact.values);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('withDamping reuses the factors: the same scores as a fresh fit with that damping', () => {
    const { obj, theta, net } = mlpProblem(20, 4, 5, 3, 'tanh', 81, 0.01);
    const rng = new Rng(6);
    const test = { X: fromFloat64(Float64Array.from({ length: 8 }, () => rng.normal()), [2, 4]), Y: fromFloat64(new Float64Array([0, 1, 0, 0, 0, 1]), [2, 3]) };
    const base = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 0.5 });
    const fresh = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 1e-3, relativeDamping: 0.1 });
    const reused = base.withDamping(1e-3, 0.1);
    // Same fit, same arithmetic: identical to the last bit.
    expect(Array.from(reused.scores(test).values)).toEqual(Array.from(fresh.scores(test).values));
    expect(base.blocks[0]!.damping).toBeCloseTo(0.01 + 0.5, 14); // the original keeps its own ρ
    expect(obj.spec.l2).toBe(0.01);
  });

  it('needs λ + damping > 0 when a block is singular, and says so', () => {
    // Softmax: S̄ has the null direction 1 (probabilities sum to one), so with λ = 0 and no damping
    // the block cannot be inverted.
    const obj = linearObjective('softmax', randomData('softmax', 20, 3, 61), 0, { classes: 3 });
    const theta = new Float64Array(obj.dim);
    expect(() => new KroneckerInfluence(linearKfacNetwork(obj, 'softmax-cross-entropy'), theta)).toThrow(/linear 3→3 block is singular.*pass damping > 0/);
  });

  it('trains nothing and reads the MLP layout as documented (two layers, bias columns last)', () => {
    const { net } = mlpProblem(3, 4, 5, 2, 'relu', 71);
    expect(net.layers.map((l) => [l.out, l.in, l.positions])).toEqual([
      [5, 5, 1],
      [2, 6, 1],
    ]);
    // W₀[o, k] at o·4 + k, b₀[o] at 20 + o (the θ layout of [{ W, b }, { W, b }]).
    expect(Array.from(net.layers[0]!.index.slice(0, 5))).toEqual([0, 1, 2, 3, 20]);

  });
});

describe('convolutional networks (KFC)', () => {
  // conv 3×3 stride 1 SAME (+bias) → maxPool 2 → relu → conv 2×2 stride 2 valid, no bias → tanh →
  // flatten → dense 3 (softmax): padding, strides, a bias-free layer and both pools' neighbours.
  const layers: LayerSpec[] = [
    { kind: 'conv', out: 3, size: 3, padding: 'same' },
    { kind: 'maxPool', size: 2 },
    { kind: 'relu' },
    { kind: 'conv', out: 4, size: 2, stride: 2, bias: false },
    { kind: 'tanh' },
    { kind: 'flatten' },
    { kind: 'dense', out: 3 },
  ];
  function cnnProblem(n: number, seed: number) {
    const model = sequential(layers, [2, 8, 8]);
    const rng = new Rng(seed);
    const X = fromFloat64(Float64Array.from({ length: n * 128 }, () => rng.normal()), [n, 128]);
    const Yv = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) Yv[i * 3 + (i % 3)] = 1;
    const Y = fromFloat64(Yv, [n, 3]);
    const params = model.init(seed, { std: 'he' });
    const obj = new Objective({ params, loss: sequentialLoss(model, (z, y) => softmaxCrossEntropy(z, y)), X, Y, l2: 0.01 });
    const theta = obj.layout.flatten(params);
    for (let q = 0; q < theta.length; q++) theta[q] += 0.05 * rng.normal(); // non-zero biases
    const net = sequentialKfacNetwork(obj, model, 'softmax-cross-entropy');
    const ggn = ggnOperator((th) => model.forward(obj.layout.unflatten(th), X), softmaxCrossEntropyOutputHessian(), theta);
    return { model, obj, theta, net, ggn, X };
  }

  it('reads the layers (patch widths, positions) and reproduces the engine’s per-example gradients', () => {
    const n = 6;
    const { obj, theta, net } = cnnProblem(n, 1);
    expect(net.layers.map((l) => [l.out, l.in, l.positions])).toEqual([
      [3, 2 * 9 + 1, 64],
      [4, 3 * 4, 4],
      [3, 16 + 1, 1],
    ]);
    const cap = net.capture(theta, obj.spec.X, obj.spec.Y, 'gradient');
    const G = obj.perExampleGradients(theta);
    const mine = new Float64Array(G.length);
    net.layers.forEach((ly, l) => {
      const T = ly.positions;
      for (let i = 0; i < n; i++) {
        for (let o = 0; o < ly.out; o++) {
          for (let k = 0; k < ly.in; k++) {
            let s = 0;
            for (let t = 0; t < T; t++) s += cap.layers[l]!.grads[(i * T + t) * ly.out + o]! * cap.layers[l]!.acts[(i * T + t) * ly.in + k]!;
            mine[i * obj.dim + ly.index[o * ly.in + k]!] = s;
          }
        }
      }
    });
    expect(maxRelErr(mine, G)).toBeLessThan(1e-12);
  });

  it('one-output network with sequentialLoss’s default binary cross-entropy: gradients and GGN diagonal as the engine’s', () => {
    const model = sequential([{ kind: 'conv', out: 2, size: 3, stride: 2, padding: 1 }, { kind: 'avgPool', size: 2 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', out: 1 }], [1, 7, 7]);
    const rng = new Rng(13);
    const n = 5;
    const X = fromFloat64(Float64Array.from({ length: n * 49 }, () => rng.normal()), [n, 49]);
    const Y = fromFloat64(new Float64Array([1, 0, 0, 1, 1]), [n]);
    const params = model.init(3, { std: 'he' });
    const obj = new Objective({ params, loss: sequentialLoss(model), X, Y, l2: 0 });
    const theta = obj.layout.flatten(params).map((v) => v + 0.1);
    const net = sequentialKfacNetwork(obj, model, 'binary-cross-entropy');
    expect(net.layers.map((l) => [l.out, l.in, l.positions])).toEqual([
      [2, 10, 16],
      [1, 9, 1],
    ]);
    // The constructor checks example 0 against the engine; the EK-FAC diagonal is checked here.
    const K = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 1e-3 });
    const ggn = ggnOperator((th) => reshape(model.forward(obj.layout.unflatten(th), X), [n]), bceWithLogitsOutputHessian(), theta);
    const b = K.blocks[0]!;
    const E = new Float64Array(2 * 10);
    for (let o = 0; o < 2; o++) for (let c = 0; c < 10; c++) E[o * 10 + c] = b.QS[o * 2 + 1]! * b.QA[c * 10 + 4]!;
    const e = embed(net, 0, E);
    const Ge = ggn(e);
    let q = 0;
    for (let r = 0; r < obj.dim; r++) q += e[r]! * Ge[r]!;
    expect(Math.abs(q - b.eigenvalues[1 * 10 + 4]!)).toBeLessThan(1e-12 * Math.max(...b.eigenvalues));
  });

  it('EK-FAC eigenvalues are the exact diagonal of each conv/dense Gauss–Newton block in the Kronecker eigenbasis', () => {
    const { obj, theta, net, ggn } = cnnProblem(5, 2);
    const K = new KroneckerInfluence(net, theta, { method: 'ekfac', damping: 1e-3, batchSize: 2 });
    for (const err of eigenbasisDiagonalErrors(K, net, obj.dim, ggn)) expect(err).toBeLessThan(1e-10);
  });

  // KFC with one example and a layer with T positions: F = Σ_{t,t'} z̃_t z̃_t'ᵀ ⊗ g_t g_t'ᵀ, while
  // K-FAC uses T·(1/T Σ z̃z̃ᵀ) ⊗ (1/T Σ ggᵀ). For T = 1 (the dense layer) they coincide; so the dense
  // block of K-FAC inverts the exact GGN block, as for the MLP.
  it.each(['kfac', 'ekfac'] as const)('%s scores equal (1/n) ∇ℓ_tᵀ (F̂ + ρ)⁻¹ ∇ℓᵢ, the definition (patch path)', (method) => {
    const { obj, theta, net } = cnnProblem(7, 3);
    const rng = new Rng(4);
    const Xt = fromFloat64(Float64Array.from({ length: 3 * 128 }, () => rng.normal()), [3, 128]);
    const Yt = fromFloat64(new Float64Array([1, 0, 0, 0, 0, 1, 0, 1, 0]), [3, 3]);
    const K = new KroneckerInfluence(net, theta, { method, damping: 1e-2, batchSize: 3 });
    const S = K.scores({ X: Xt, Y: Yt });
    const G = obj.perExampleGradients(theta);
    const Gt = new Objective({ ...obj.spec, X: Xt, Y: Yt }).perExampleGradients(theta);
    const want = new Float64Array(3 * 7);
    for (let t = 0; t < 3; t++) {
      const s = K.solve(Gt.slice(t * obj.dim, (t + 1) * obj.dim));
      for (let i = 0; i < 7; i++) {
        let dot = 0;
        for (let q = 0; q < obj.dim; q++) dot += s[q]! * G[i * obj.dim + q]!;
        want[t * 7 + i] = dot / 7;
      }
    }
    expect(maxRelErr(S.values, want)).toBeLessThan(1e-10);
  });
});
