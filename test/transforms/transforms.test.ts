/**
 * The transformations and how they nest: higher derivatives against closed forms, every pairing of
 * forward and reverse mode agreeing, perturbation confusion, pytrees, vmap axes, custom VJPs.
 * proofs/hvp.md derives why these identities hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  add, customVjp, exp, eye, grad, hessian, hvp, jacfwd, jacrev, jvp, log, matmul, mean, mul, ones, pow, sigmoid,
  sin, softplus, sqrt, stack, sub, sum, tanh, tensor, treeFlatten, valueAndGrad, vjp, vmap, bceWithLogits, zeros,
  randomNormal, cos, div, setDebugNans,
} from '../../src/index.ts';
import { expectClose, seededTensor } from '../helpers.ts';
import { gemm } from '../../src/prims/index.ts';

type Scalar = (x: Tensor) => Tensor;

/** The n-th derivative of a scalar function by n nested `grad`s. */
function nthGrad(f: Scalar, n: number): Scalar {
  let g = f;
  for (let i = 0; i < n; i++) {
    const inner = g;
    g = (x) => grad(inner)(x) as Tensor;
  }
  return g;
}

/** The n-th derivative by n nested `jvp`s with unit tangents. */
function nthJvp(f: Scalar, n: number): Scalar {
  let g = f;
  for (let i = 0; i < n; i++) {
    const inner = g;
    g = (x) => jvp(inner, [x], [tensor(1)])[1];
  }
  return g;
}

/** Alternating forward and reverse: jvp(grad(jvp(grad(…)))). */
function nthMixed(f: Scalar, n: number): Scalar {
  let g = f;
  for (let i = 0; i < n; i++) {
    const inner = g;
    g = i % 2 === 0 ? (x) => grad(inner)(x) as Tensor : (x) => jvp(inner, [x], [tensor(1)])[1];
  }
  return g;
}

// Closed forms, derived by hand (proofs/hvp.md lists them): t = tanh x, s = 1 − t², σ = sigmoid x.
const closedForms: { name: string; f: Scalar; derivs: ((x: number) => number)[]; domain: [number, number] }[] = [
  {
    name: 'tanh',
    f: tanh,
    domain: [-2, 2],
    derivs: [
      (x) => 1 - Math.tanh(x) ** 2,
      (x) => { const t = Math.tanh(x); return -2 * t * (1 - t * t); },
      (x) => { const t = Math.tanh(x), s = 1 - t * t; return -2 * s * (1 - 3 * t * t); },
      (x) => { const t = Math.tanh(x), s = 1 - t * t; return 8 * t * s * (2 - 3 * t * t); },
    ],
  },
  { name: 'exp', f: exp, domain: [-2, 2], derivs: [Math.exp, Math.exp, Math.exp, Math.exp] },
  { name: 'sin', f: sin, domain: [-3, 3], derivs: [Math.cos, (x) => -Math.sin(x), (x) => -Math.cos(x), Math.sin] },
  {
    name: 'log',
    f: log,
    domain: [0.3, 3],
    derivs: [(x) => 1 / x, (x) => -1 / x ** 2, (x) => 2 / x ** 3, (x) => -6 / x ** 4],
  },
  {
    name: 'sqrt',
    f: sqrt,
    domain: [0.3, 3],
    derivs: [(x) => 0.5 * x ** -0.5, (x) => -0.25 * x ** -1.5, (x) => 0.375 * x ** -2.5, (x) => -0.9375 * x ** -3.5],
  },
  {
    name: 'sigmoid',
    f: sigmoid,
    domain: [-4, 4],
    derivs: [
      (x) => { const s = 1 / (1 + Math.exp(-x)); return s * (1 - s); },
      (x) => { const s = 1 / (1 + Math.exp(-x)); return s * (1 - s) * (1 - 2 * s); },
      (x) => { const s = 1 / (1 + Math.exp(-x)); return s * (1 - s) * (1 - 6 * s + 6 * s * s); },
    ],
  },
  { name: 'x³ via pow', f: (x) => pow(x, 3), domain: [-2, 2], derivs: [(x) => 3 * x * x, (x) => 6 * x, () => 6, () => 0] },
];

describe('higher derivatives of elementary functions match closed forms', () => {
  describe.each(closedForms)('$name', ({ f, derivs, domain }) => {
    it.each(derivs.map((d, i) => ({ order: i + 1, d })))('order $order by grad, jvp and mixed nesting', ({ order, d }) => {
      fc.assert(
        fc.property(fc.double({ min: domain[0], max: domain[1], noNaN: true }), (x) => {
          const want = d(x);
          // Only rounding separates these from the closed form: a few ulps per nesting level.
          const tol = { rtol: 1e-12, atol: 1e-12 * (1 + Math.abs(want)) };
          expectClose(nthGrad(f, order)(tensor(x)), want, { ...tol, what: `grad^${order}` });
          expectClose(nthJvp(f, order)(tensor(x)), want, { ...tol, what: `jvp^${order}` });
          expectClose(nthMixed(f, order)(tensor(x)), want, { ...tol, what: `mixed^${order}` });
        }),
        { numRuns: 20 },
      );
    });
  });
});

describe('perturbation confusion', () => {
  it('d/dx [x · d/dy (x + y)] = 1 at x = y = 1 (not 2), in every mode', () => {
    // Siskind & Pearlmutter's example: the inner derivative must not see x's perturbation.
    const inner = (x: Tensor) => (y: Tensor) => add(x, y);
    const byGrad = grad((x: Tensor) => mul(x, grad(inner(x))(tensor(1)) as Tensor))(tensor(1)) as Tensor;
    const byJvp = jvp((x: Tensor) => mul(x, jvp(inner(x), [tensor(1)], [tensor(1)])[1]), [tensor(1)], [tensor(1)])[1];
    const mixedA = grad((x: Tensor) => mul(x, jvp(inner(x), [tensor(1)], [tensor(1)])[1]))(tensor(1)) as Tensor;
    const mixedB = jvp((x: Tensor) => mul(x, grad(inner(x))(tensor(1)) as Tensor), [tensor(1)], [tensor(1)])[1];
    for (const r of [byGrad, byJvp, mixedA, mixedB]) expect(r.item()).toBe(1);
  });

  it('nested derivatives of the same function keep their own perturbations: d/dx [x · d/dy (x·y)] = 2x', () => {
    const f = (x: Tensor) => mul(x, grad((y: Tensor) => mul(x, y))(tensor(5)) as Tensor); // = x²
    expectClose(grad(f)(tensor(3)), 6, { atol: 0 });
  });

  it('a tracer that escapes its transformation is reported, not silently used', () => {
    let leaked: Tensor | null = null;
    grad((x: Tensor) => {
      leaked = x;
      return mul(x, x);
    })(tensor(2));
    expect(() => add(leaked!, 1)).toThrow(/escaped/);
  });
});

describe('forward and reverse mode agree', () => {
  const f = (x: Tensor) => sum(mul(tanh(matmul(seededTensor([3, 4], 1), x)), sin(x.shape[0] === 4 ? slice3(x) : x)));
  const slice3 = (x: Tensor) => matmul(seededTensor([3, 4], 2), x);
  it('jacfwd = jacrev, and hessian = jacrev(jacrev) = jacfwd(jacfwd), symmetric', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
        const x = seededTensor([4], seed);
        const g = (z: Tensor) => grad(f)(z) as Tensor;
        expectClose(jacfwd(g)(x), jacrev(g)(x), { rtol: 1e-12, atol: 1e-13 });
        const H = hessian(f)(x);
        expectClose(jacrev(jacrev(f))(x) as Tensor, H, { rtol: 1e-12, atol: 1e-13 });
        expectClose(jacfwd(jacfwd(f))(x), H, { rtol: 1e-12, atol: 1e-13 });
        expectClose(H, transposeOf(H), { rtol: 1e-12, atol: 1e-13, what: 'symmetry' });
      }),
      { numRuns: 10 },
    );
  });
  it('jacrev of a vector function has shape [...out, ...in]', () => {
    const J = jacrev((x: Tensor) => stack([sum(x), sum(mul(x, x))]))(zeros([2, 3]));
    expect(J.shape).toEqual([2, 2, 3]);
    expectClose(J, [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0], { atol: 0 });
  });
});

function transposeOf(H: Tensor): Tensor {
  const n = H.shape[0]!;
  const v = H.toFloat64Array();
  return tensor(Float64Array.from({ length: n * n }, (_, k) => v[(k % n) * n + Math.floor(k / n)]!), [n, n]);
}

describe('joint evaluation', () => {
  it("matmul's joint JVP (one constant operand) equals the product with the tangent", () => {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      for (const n of [1, 2, 3, 5]) {
        const A = seededTensor(tA ? [4, 3] : [3, 4], 31 + n); // op(A) is 3 × 4
        const B = seededTensor(tB ? [n, 4] : [4, n], 37 + n); // op(B) is 4 × n
        const dA = seededTensor([...A.shape], 41 + n);
        const dB = seededTensor([...B.shape], 43 + n);
        const [y1, t1] = jvp((b: Tensor) => gemm(A, b, tA, tB), [B], [dB]);
        expectClose(y1, gemm(A, B, tA, tB), { rtol: 1e-14, atol: 1e-15 });
        expectClose(t1, gemm(A, dB, tA, tB), { rtol: 1e-14, atol: 1e-15 });
        const [y2, t2] = jvp((a: Tensor) => gemm(a, B, tA, tB), [A], [dA]);
        expectClose(y2, gemm(A, B, tA, tB), { rtol: 1e-14, atol: 1e-15 });
        expectClose(t2, gemm(dA, B, tA, tB), { rtol: 1e-14, atol: 1e-15 });
      }
    }
  });
});

describe('hvp', () => {
  it('forward-over-reverse and reverse-over-reverse agree with hessian·v on a logistic loss with L2', () => {
    const X = randomNormal([30, 5], 3);
    const y = tensor(Array.from({ length: 30 }, (_, i) => i % 2));
    const loss = (w: Tensor) => add(mean(bceWithLogits(matmul(X, w), y)), mul(0.05, sum(mul(w, w))));
    const w = seededTensor([5], 4);
    const v = seededTensor([5], 5);
    const Hv = matmul(hessian(loss)(w), v);
    expectClose(hvp(loss, w, v), Hv, { rtol: 1e-12, atol: 1e-14 });
    expectClose(hvp(loss, w, v, { mode: 'rev-rev' }), Hv, { rtol: 1e-12, atol: 1e-14 });
  });
  it('works on a pytree of parameters and returns the same structure', () => {
    const loss = (p: { w: Tensor; b: Tensor }) => sum(mul(exp(mul(p.w, p.b)), p.w));
    const p = { w: tensor([0.3, -0.2]), b: tensor(0.7) };
    const v = { w: tensor([1, 2]), b: tensor(-1) };
    const a = hvp(loss, p, v);
    const b = hvp(loss, p, v, { mode: 'rev-rev' });
    expect(Object.keys(a)).toEqual(['w', 'b']);
    expectClose(a.w, b.w, { rtol: 1e-12 });
    expectClose(a.b, b.b, { rtol: 1e-12 });
  });
  it('rejects an unknown mode, naming it', () => {
    expect(() => hvp((x: Tensor) => sum(x), tensor([1]), tensor([1]), { mode: 'fwd-fwd' as 'fwd-rev' })).toThrow(/fwd-fwd/);
  });
});

describe('vmap', () => {
  const perExampleLoss = (w: Tensor, x: Tensor, y: Tensor) => bceWithLogits(matmul(x, w), y);
  it('vmap(grad) gives per-sample gradients equal to a loop of grads', () => {
    const X = seededTensor([6, 3], 7);
    const Y = tensor([0, 1, 1, 0, 1, 0]);
    const w = seededTensor([3], 8);
    const G = vmap(grad(perExampleLoss), [null, 0, 0])(w, X, Y) as Tensor;
    const loop = stack(Array.from({ length: 6 }, (_, i) => grad(perExampleLoss)(w, rowOf(X, i), tensor(Y.toFloat64Array()[i]!)) as Tensor));
    expectClose(G, loop, { rtol: 1e-14, atol: 1e-15 });
    // and their mean is the gradient of the mean loss
    expectClose(mean(G, 0), grad((ww: Tensor) => mean(bceWithLogits(matmul(X, ww), Y)))(w) as Tensor, { rtol: 1e-13, atol: 1e-15 });
  });
  it('inAxes other than 0 and outAxes move the mapped axis', () => {
    const A = seededTensor([3, 4], 9);
    const colSums = vmap((c: Tensor) => sum(c), 1)(A);
    expectClose(colSums, sumAxis0(A));
    const outer = vmap((c: Tensor) => mul(c, 2), 1, { outAxes: 1 })(A);
    expectClose(outer, mul(A, 2));
  });
  it('nests: vmap(vmap(f)) = f elementwise, and jacobians of vmapped functions work', () => {
    const A = seededTensor([2, 3], 10);
    expectClose(vmap(vmap((x: Tensor) => mul(x, x)))(A), mul(A, A));
    const J = jacfwd(vmap((x: Tensor) => sin(x)))(tensor([0.1, 0.2]));
    expectClose(J, [Math.cos(0.1), 0, 0, Math.cos(0.2)], { rtol: 1e-15, atol: 1e-16 });
  });
  it('vmap of hvp: Hessian-vector products for a batch of directions equal the Hessian times each', () => {
    const f = (x: Tensor) => sum(mul(exp(x), cos(x)));
    const x = tensor([0.1, -0.4, 0.7]);
    const V = seededTensor([4, 3], 11);
    const batched = vmap((v: Tensor) => hvp(f, x, v))(V);
    const H = hessian(f)(x);
    expectClose(batched, matmul(V, H), { rtol: 1e-13, atol: 1e-14 });
  });
  it('errors name the problem: inconsistent sizes, bad inAxes, no mapped argument', () => {
    expect(() => vmap((a: Tensor, b: Tensor) => add(a, b))(zeros([3]), zeros([4]))).toThrow(/inconsistent sizes.*size 3.*size 4/);
    expect(() => vmap((a: Tensor) => a, 2)(zeros([3, 2]))).toThrow(/axis 2 is out of range/);
    expect(() => vmap((a: Tensor) => a, [0, 0])(zeros([3]))).toThrow(/inAxes has 2 entries.*1 arguments/);
    expect(() => vmap((a: Tensor) => a, null)(zeros([3]))).toThrow(/no argument is mapped/);
  });
});

function rowOf(X: Tensor, i: number): Tensor {
  const d = X.shape[1]!;
  return tensor(X.toFloat64Array().slice(i * d, (i + 1) * d), [d]);
}
function sumAxis0(A: Tensor): Tensor {
  const [n, m] = A.shape as [number, number];
  const v = A.toFloat64Array();
  return tensor(Float64Array.from({ length: m }, (_, j) => { let s = 0; for (let i = 0; i < n; i++) s += v[i * m + j]!; return s; }), [m]);
}

describe('grad, valueAndGrad, vjp: options, pytrees and errors', () => {
  it('argnums selects arguments; a list gives a list', () => {
    const f = (a: Tensor, b: Tensor) => sum(mul(a, mul(b, b)));
    const [ga, gb] = grad(f, { argnums: [0, 1] })(tensor([1, 2]), tensor([3, 4])) as Tensor[];
    expectClose(ga!, [9, 16], { atol: 0 });
    expectClose(gb!, [6, 16], { atol: 0 });
    expectClose(grad(f, { argnums: 1 })(tensor([1, 2]), tensor([3, 4])) as Tensor, [6, 16], { atol: 0 });
  });
  it('differentiates a pytree of parameters and returns the same structure', () => {
    const params = { layers: [{ W: tensor([[1, 2]]), b: tensor([0.5]) }], scale: tensor(2) };
    const loss = (p: typeof params) => sum(mul(p.scale, add(matmul(p.layers[0]!.W, tensor([1, 1])), p.layers[0]!.b)));
    const [value, g] = valueAndGrad(loss)(params);
    expect((value as Tensor).item()).toBe(7);
    expectClose(g.layers[0].W, [[2, 2]].flat(), { atol: 0 });
    expectClose(g.layers[0].b, [2], { atol: 0 });
    expectClose(g.scale, 3.5, { atol: 0 });
    expect(treeFlatten(g).leaves.length).toBe(3);
  });
  it('hasAux returns auxiliary data untouched', () => {
    const [g, aux] = grad((x: Tensor) => [sum(mul(x, x)), { note: mul(x, 10) }], { hasAux: true })(tensor([1, 2])) as [Tensor, { note: Tensor }];
    expectClose(g, [2, 4], { atol: 0 });
    expectClose(aux.note, [10, 20], { atol: 0 });
  });
  it('reductions accept numpy positional axes and a JAX-style options object alike', () => {
    const x = tensor([[1, 2], [3, 4]]);
    expectClose(sum(x, { axis: 0 }), [4, 6], { atol: 0 });
    expect(sum(x, { axis: 1, keepdims: true }).shape).toEqual([2, 1]);
    expect(mean(x, { axis: [0, 1], keepdims: true }).shape).toEqual([1, 1]);
    expectClose(mean(x, { axis: 1 }), [1.5, 3.5], { atol: 0 });
  });
  it('plain numbers are accepted wherever tensors are', () => {
    expect((grad((x: Tensor) => mul(x, x))(3) as Tensor).item()).toBe(6);
    expect(add(1, 2).item()).toBe(3);
  });
  it('a non-scalar output given to grad is an error naming the shape', () => {
    expect(() => grad((x: Tensor) => mul(x, 2))(tensor([1, 2]))).toThrow(/scalar.*\[2\]/);
  });
  it('bad argnums is an error naming the argument count', () => {
    expect(() => grad((x: Tensor) => sum(x), { argnums: 2 })(tensor([1]))).toThrow(/argnums.*argument 2.*1 argument/);
  });
  it('a function that ignores its input has zero gradient, with the input shape', () => {
    expectClose(grad(() => tensor(3))(zeros([2, 2])) as Tensor, [0, 0, 0, 0], { atol: 0 });
  });
  it('vjp pullback can be reused and checks cotangent shapes', () => {
    const [y, pb] = vjp((x: Tensor) => mul(x, x), tensor([1, 2, 3]));
    expectClose(y, [1, 4, 9], { atol: 0 });
    expectClose(pb(ones([3]))[0] as Tensor, [2, 4, 6], { atol: 0 });
    expectClose(pb(tensor([1, 0, 0]))[0] as Tensor, [2, 0, 0], { atol: 0 });
    expect(() => pb(ones([2]))).toThrow(/cotangent 0 has shape \[2\].*\[3\]/);
  });
  it('jvp checks that tangents match primals', () => {
    expect(() => jvp((x: Tensor) => x, [tensor([1, 2])], [tensor([1])])).toThrow(/tangent 0 has shape \[1\].*\[2\]/);
  });
  it('jacrev and jacfwd of a pytree output say that f must return one tensor, what it returned, and what to do', () => {
    const pair = (x: Tensor) => [x, mul(x, 2)] as unknown as Tensor;
    const obj = (x: Tensor) => ({ a: x, b: x }) as unknown as Tensor;
    expect(() => jacrev(pair)(tensor([1, 2]))).toThrow(/^jacrev: f must return a single tensor, got an array of 2 entries.*stack or concat.*once per output/);
    expect(() => jacfwd(obj)(tensor([1, 2]))).toThrow(/^jacfwd: f must return a single tensor, got an object with keys a, b/);
  });
  it('a cyclic pytree is an error naming the path of the cycle', () => {
    const params: Record<string, unknown> = { w: tensor([1, 2]) };
    params.self = params;
    expect(() => grad((p: typeof params) => sum(p.w as Tensor))(params)).toThrow(/^vjp primals\[0\]\.self: the pytree contains a cycle: this object is vjp primals\[0\] itself/);
    // a node shared by two branches is not a cycle
    const shared = { w: tensor([1, 2]) };
    const g = grad((p: { a: typeof shared; b: typeof shared }) => sum(mul(p.a.w, p.b.w)))({ a: shared, b: shared });
    expectClose(g.a.w, [1, 2], { atol: 0 });
  });
  it('a 10,000-deep pytree is an error naming the depth limit, not a stack overflow', () => {
    const root: unknown[] = [];
    let node = root;
    for (let i = 0; i < 10_000; i++) {
      const next: unknown[] = [];
      node.push(next);
      node = next;
    }
    node.push(tensor(1));
    expect(() => jvp((t: unknown) => t as Tensor, [root as never], [root as never])).toThrow(/^jvp primals\[0\]\[0\].*: the pytree is nested more than 1000 levels deep/);
    expect(() => treeFlatten(root as never)).toThrow(/more than 1000 levels/);
    // a tree just inside the limit still works
    const ok: unknown[] = [];
    let n = ok;
    for (let i = 0; i < 998; i++) {
      const next: unknown[] = [];
      n.push(next);
      n = next;
    }
    n.push(tensor(3));
    expect(treeFlatten(ok as never).leaves.length).toBe(1);
  });
  it('shape errors name the operation and the shapes', () => {
    expect(() => add(zeros([2, 3]), zeros([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => matmul(zeros([2, 3]), zeros([2, 3]))).toThrow(/matmul.*\[2, 3\].*\[2, 3\].*inner dimensions 3 and 2/);
  });
});

describe('setDebugNans', () => {
  it('names the primitive that turns finite inputs into NaN, forward or in a backward pass', () => {
    setDebugNans(true);
    try {
      expect(() => log(tensor([-1, 2]))).toThrow(/log produced NaN from inputs without NaN \(input shapes \[2\]\)/);
      // d/dx [sqrt(x)·0] at 0: sqrt's rule computes ct / (2·sqrt(x)) = 0 / 0, a NaN born in the
      // backward pass, at the div of sqrt's derivative rule
      expect(() => grad((x: Tensor) => mul(sqrt(x), 0))(tensor(0))).toThrow(/div produced NaN/);
      expect(grad((x: Tensor) => mul(x, x))(tensor(3)) as Tensor).toBeDefined(); // clean code is unaffected
    } finally {
      setDebugNans(false);
    }
    expect(Number.isNaN(log(tensor([-1])).item())).toBe(true); // off again: NaN propagates as in IEEE
  });
});

describe('customVjp', () => {
  // log(1 + eˣ) with its derivative σ(x) supplied directly.
  const sp = customVjp(
    (x) => softplus(x),
    (x) => [softplus(x), sigmoid(x)],
    (s: Tensor, ct) => [mul(ct, s)],
  );
  it('uses the custom rule in reverse mode and agrees with autodiff', () => {
    const x = tensor([-3, 0, 2]);
    expectClose(grad((z: Tensor) => sum(sp(z)))(x) as Tensor, grad((z: Tensor) => sum(softplus(z)))(x) as Tensor, { rtol: 1e-15 });
  });
  it('the custom backward pass is itself differentiable (second order through the rule)', () => {
    const x = tensor([-1, 0.5]);
    const h = grad((z: Tensor) => sum(grad((w: Tensor) => sum(sp(w)))(z) as Tensor))(x) as Tensor;
    const s = x.toFloat64Array().map((v) => 1 / (1 + Math.exp(-v)));
    expectClose(h, s.map((v) => v * (1 - v)), { rtol: 1e-14 });
  });
  it("JAX's two-step form customVjp(f).defvjp(fwd, bwd) behaves the same", () => {
    const f = customVjp((x: Tensor) => mul(x, x));
    expect((grad((x: Tensor) => f(x))(tensor(3)) as Tensor).item()).toBe(6); // before defvjp: plain f
    f.defvjp((x) => [mul(x, x), x], (x: Tensor, ct) => [mul(ct, mul(x, 10))]);
    expect((grad((x: Tensor) => f(x))(tensor(3)) as Tensor).item()).toBe(30); // the rule, deliberately 5× off
  });
  it('the rule is really used: a deliberately different bwd changes the gradient', () => {
    const twice = customVjp((x) => mul(x, 1), (x) => [mul(x, 1), null], (_r: null, ct) => [mul(ct, 2)]);
    expect((grad((x: Tensor) => twice(x))(tensor(1)) as Tensor).item()).toBe(2);
    // forward mode differentiates f itself
    expect(jvp((x: Tensor) => twice(x), [tensor(1)], [tensor(1)])[1].item()).toBe(1);
  });
});

describe('composition with division and identity matrices', () => {
  it('grad of a quotient and eye-based Jacobians are exact', () => {
    expectClose(grad((x: Tensor) => div(1, x))(tensor(4)) as Tensor, -1 / 16, { atol: 0 });
    expectClose(jacrev((x: Tensor) => matmul(eye(3), x))(tensor([1, 2, 3])), eye(3), { atol: 0 });
    expectClose(jacfwd((x: Tensor) => sub(x, 1))(tensor([1, 2])), eye(2), { atol: 0 });
  });
});
