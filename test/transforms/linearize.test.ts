/**
 * linearize and linearTranspose (proofs/linearize-and-transpose.md). linearize must agree with jvp
 * and record only the linear (tangent) part of the JVP; linearTranspose must satisfy the adjoint
 * identity ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ and so reproduce vjp: reverse mode is the transpose of forward mode.
 *
 * Tolerances: every route computes the same sums of the same float64 products in possibly different
 * orders, so agreement is to rounding, ~1e-15 relative per operation; 1e-12 leaves room for the few
 * dozen operations of these functions and for cancellation in the inner products.
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor, add, eye, grad, jacrev, jvp, linearTranspose, linearize, makeJaxpr, matmul, mul, randomNormal, reshape,
  mean, sin, softmaxCrossEntropy, sum, tanh, tensor, vdot, vjp, vmap, zeros, concat, slice, exp,
  abs, conv2d, cos, div, erf, gelu, log, log1p, logSumExp, max, maxPool2d, maximum, pow, relu, sigmoid, softplus, sqrt, take, transpose,
  where, greater, neg, sub, pad,
} from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

const X = randomNormal([6, 4], 1);
const Y = tensor([0, 2, 1, 1, 0, 2].map((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)))); // one-hot targets
// A two-layer tanh network with pytree parameters and a softmax cross-entropy: non-trivial nonlinearity.
type P = { W1: Tensor; W2: Tensor };
const f = (p: P) => mean(softmaxCrossEntropy(matmul(tanh(matmul(X, p.W1)), p.W2), Y));
const p0: P = { W1: randomNormal([4, 5], 2), W2: randomNormal([5, 3], 3) };
const v: P = { W1: randomNormal([4, 5], 4), W2: randomNormal([5, 3], 5) };
// A vector-valued map R^{4×5} → R^{6×5}, for the adjoint identity with a non-scalar output.
const g = (w: Tensor) => mul(sin(matmul(X, w)), exp(matmul(X, w)));
const w0 = randomNormal([4, 5], 8);

const dot = (a: P, b: P) => vdot(a.W1, b.W1).item() + vdot(a.W2, b.W2).item();

describe('linearize', () => {
  it('returns f(x) and a function equal to jvp(f, [x], [v])', () => {
    const [y, fJvp] = linearize(f, p0);
    const [y2, dy] = jvp(f, [p0], [v]);
    expect(y.item()).toBe(y2.item()); // the same primal operations in the same order: bit-equal
    expectClose(fJvp(v), dy, { rtol: 1e-12, atol: 1e-14 });
  });

  it('records only the tangent part: fewer FLOPs than the whole JVP, and no nonlinear primitive', () => {
    const [, fJvp] = linearize(g, w0);
    const lin = fJvp.jaxpr.counts();
    const whole = makeJaxpr((t: Tensor) => jvp(g, [w0], [t])[1])(w0).counts();
    const full = makeJaxpr((x: Tensor, t: Tensor) => jvp(g, [x], [t])[1])(w0, w0).counts();
    // With a concrete primal even makeJaxpr of jvp evaluates the primal eagerly; only with the primal
    // abstract too does the program contain sin, exp and the primal products.
    expect(Object.keys(lin.byPrimitive).sort()).toEqual(['add', 'matmul', 'mul']);
    expect(full.byPrimitive.sin?.count).toBe(1);
    expect(lin.flops).toBeLessThan(full.flops);
    expect(whole.flops).toBeGreaterThanOrEqual(lin.flops);
  });

  it('the recorded map is linear: J(a·u + b·v) = a·J u + b·J v', () => {
    const [, fJvp] = linearize(g, w0);
    const a = 0.7;
    const b = -1.3;
    const du = randomNormal([4, 5], 9);
    const dv = randomNormal([4, 5], 10);
    const lhs = fJvp(add(mul(tensor(a), du), mul(tensor(b), dv)));
    const rhs = add(mul(tensor(a), fJvp(du)), mul(tensor(b), fJvp(dv)));
    expectClose(lhs, rhs, { rtol: 1e-12, atol: 1e-13 });
  });

  it('composes with outer transformations: grad and vmap through linearize', () => {
    // d/dx ⟨1, J_sin(x) v⟩ = d/dx Σ cos(x)·v = −sin(x)·v; the residual cos x is an outer tracer.
    const v = tensor([1, 2]);
    const x = tensor([0.3, 0.7]);
    const g = grad((xx: Tensor) => sum(linearize(sin, xx)[1](v)))(x) as Tensor;
    expectClose(g, [-Math.sin(0.3), -2 * Math.sin(0.7)], { rtol: 1e-15, atol: 0 });
    const b = vmap((xx: Tensor) => linearize(sin, xx)[1](tensor(1)))(x);
    expectClose(b, [Math.cos(0.3), Math.cos(0.7)], { rtol: 1e-15, atol: 0 });
  });

  it('a tangent of the wrong shape is refused with both shapes named', () => {
    const [, fJvp] = linearize(g, w0);
    expect(() => fJvp(zeros([5, 4]))).toThrow(/tangent 0 has shape \[5, 4\] but its primal has shape \[4, 5\]/);
  });

  it('an output that does not depend on the input has a zero tangent', () => {
    const [y, fJvp] = linearize((x: Tensor) => [sum(x), tensor(3)] as [Tensor, Tensor], tensor([1, 2]));
    expect(y[1].item()).toBe(3);
    const [d0, d1] = fJvp(tensor([1, 1]));
    expect(d0.item()).toBe(2);
    expect(d1.item()).toBe(0);
  });
});

describe('linearTranspose', () => {
  it('satisfies the adjoint identity ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for a map R^{4×5} → R^{6×5}', () => {
    const [, fJvp] = linearize(g, w0);
    const fT = linearTranspose(fJvp, w0);
    for (let seed = 20; seed < 25; seed++) {
      const dv = randomNormal([4, 5], seed);
      const ct = randomNormal([6, 5], seed + 100);
      const lhs = vdot(ct, fJvp(dv)).item();
      const rhs = vdot(fT(ct)[0] as Tensor, dv).item();
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
    }
  });

  it('transposing linearize gives vjp (pytree parameters): reverse mode is transposed forward mode', () => {
    const [, fJvp] = linearize(f, p0);
    const [[fromTranspose]] = [linearTranspose(fJvp, p0)(tensor(1))] as [P[]];
    const fromVjp = grad(f)(p0) as P;
    expectClose(fromTranspose!.W1, fromVjp.W1, { rtol: 1e-12, atol: 1e-14 });
    expectClose(fromTranspose!.W2, fromVjp.W2, { rtol: 1e-12, atol: 1e-14 });
    // and the adjoint identity on the pytree
    const fT = linearTranspose(fJvp, p0);
    const lhs = 0.9 * fJvp(v).item();
    const rhs = dot(fT(tensor(0.9))[0] as P, v);
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * (1 + Math.abs(lhs)));
  });

  it('the transpose of the transpose is the original map', () => {
    const [, fJvp] = linearize(g, w0);
    const fT = (ct: Tensor) => linearTranspose(fJvp, w0)(ct)[0] as Tensor;
    const fTT = linearTranspose(fT, zeros([6, 5]));
    const dv = randomNormal([4, 5], 30);
    expectClose(fTT(dv)[0] as Tensor, fJvp(dv), { rtol: 1e-12, atol: 1e-13 });
  });

  it('the transposed map is made of primitives: vmap of it over a basis is jacrev, and it traces', () => {
    const [, fJvp] = linearize(g, w0);
    const fT = linearTranspose(fJvp, w0);
    const basis = reshape(eye(30), [30, 6, 5]);
    const rows = vmap((ct: Tensor) => fT(ct)[0] as Tensor)(basis);
    expectClose(reshape(rows, [6, 5, 4, 5]), jacrev(g)(w0), { rtol: 1e-12, atol: 1e-13 });
    const program = makeJaxpr((ct: Tensor) => fT(ct)[0] as Tensor)(zeros([6, 5]));
    // the transpose of `matmul X t` is `matmul Xᵀ ct`: the program holds matmuls and no sin or exp
    expect(program.counts().byPrimitive.matmul!.count).toBeGreaterThan(0);
    expect(program.counts().byPrimitive.sin).toBeUndefined();
  });

  it('handles the data-movement primitives (concat, slice, pad through slice\'s transpose)', () => {
    const lin = (a: Tensor, b: Tensor) => mul(tensor([1, 2, 3, 4, 5]), concat([slice(a, [1], [2]), b], 0));
    const T = linearTranspose(lin, zeros([4]), zeros([3]));
    const ct = tensor([1, -1, 2, 0.5, 3]);
    const [ca, cb] = T(ct) as Tensor[];
    const [, pull] = vjp(lin, tensor([9, 8, 7, 6]), tensor([5, 4, 3]));
    const [ea, eb] = pull(ct) as Tensor[];
    expect(ca!.toArray()).toEqual(ea!.toArray());
    expect(cb!.toArray()).toEqual(eb!.toArray());
  });

  it('transposes the program of linearize through every differentiable primitive (each VJP rule at a zero linear input)', () => {
    // Each primitive's JVP rule appears in the linear program, and its transpose is the VJP rule
    // of the primitive that rule emitted: this checks all of them against vjp at once.
    const x = tensor([[0.3, 1.2, 2.0], [0.7, 1.5, 0.4]]);
    const img = reshape(tensor(Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i))), [1, 2, 4, 4]);
    const kern = reshape(tensor(Array.from({ length: 3 * 2 * 9 }, (_, i) => Math.cos(i))), [3, 2, 3, 3]);
    const h = (x: Tensor, k: Tensor) => {
      const u = add(exp(x), log(x));
      const a = mul(sin(u), cos(x));
      const b = div(tanh(a), add(sqrt(x), log1p(x)));
      const c = pow(x, tensor(1.5));
      const e = maximum(erf(b), c);
      const m = sum(mul(transpose(e), take(transpose(x), [2, 0, 1], 0)));
      const r = add(sum(relu(sub(x, tensor(1)))), sum(gelu(neg(x))));
      const q = add(sum(abs(sub(x, tensor(1)))), sum(where(greater(x, 1), softplus(x), sigmoid(x))));
      const l = add(sum(logSumExp(x, 1)), sum(max(pad(x, [[1, 0], [0, 2]]), 0)));
      const conv = sum(maxPool2d(conv2d(img, k, { padding: 'same' }), { size: 2 }));
      const mm = sum(matmul(x, transpose(exp(x))));
      const s = concat([reshape(add(add(add(m, mm), r), add(q, l)), [1]), reshape(conv, [1])], 0);
      return mul(s, slice(reshape(x, [6]), [1], [2]));
    };
    const [, hJvp] = linearize(h, x, kern);
    const used = new Set(hJvp.jaxpr.equations.map((e) => e.primitive.name));
    for (const p of ['tanhGrad', 'reluGrad', 'matmul', 'conv', 'take', 'pad', 'select', 'div']) expect(used, p).toContain(p);
    const hT = linearTranspose(hJvp, x, kern);
    const [, pull] = vjp(h, x, kern);
    const ct = tensor([0.8, -1.1]);
    const [tx, tk] = hT(ct) as Tensor[];
    const [vx, vk] = pull(ct) as Tensor[];
    expectClose(tx!, vx!, { rtol: 1e-12, atol: 1e-13 });
    expectClose(tk!, vk!, { rtol: 1e-12, atol: 1e-13 });
  });

  it('a hand-written linear function made of listed primitives is checked and transposed', () => {
    const A = tensor([[1, 2], [3, 4], [5, 6]]);
    const g2 = (v: Tensor) => concat([matmul(A, v), neg(slice(v, [0, 0], [1, 1]))], 0);
    const T = linearTranspose(g2, zeros([2, 1]));
    const ct = tensor([[1], [0], [2], [3]]);
    const [, pull] = vjp(g2, zeros([2, 1]));
    expect((T(ct)[0] as Tensor).toArray()).toEqual((pull(ct)[0] as Tensor).toArray());
  });

  it('refuses a function that is not linear, naming the primitive', () => {
    expect(() => linearTranspose((x: Tensor) => sin(x), zeros([3]))).toThrow(/not linear in its inputs: equation 0 applies 'sin'/);
    expect(() => linearTranspose((x: Tensor) => mul(x, x), zeros([3]))).toThrow(/applies 'mul' to 2 input\(s\)/);
    expect(() => linearTranspose((x: Tensor) => add(x, tensor([1, 1, 1])), zeros([3]))).toThrow(/affine, not linear: equation 0 \('add'\) combines/);
    expect(() => linearTranspose((x: Tensor) => add(x, tensor([0, 0, 0])), zeros([3]))).not.toThrow(); // adding zero is linear
    expect(() => linearTranspose((x: Tensor) => [x, tensor([1, 0])], zeros([3]))).toThrow(/output 1 \(shape \[2\]\) is a nonzero constant: the function is affine/);
  });
});
