/**
 * makeJaxpr: the recorded program of a function and of its transformations. The strongest check is
 * the round trip — replaying the recorded equations (evalJaxpr) gives what calling f gives — and it
 * is run on f, grad(f), the forward-over-reverse HVP and vmap(grad(f)). The cost claim "an HVP
 * costs about two gradients" is checked on the FLOP counts of the recorded programs.
 */
import { describe, expect, it } from 'vitest';
import {
  type Jaxpr, type Tensor,
  evalJaxpr, grad, jvp, makeJaxpr, matmul, mean, mul, ones, randomNormal, sin, softplus, sum, tanh, tensor,
  treeFlatten, vmap, add, reshape, transpose,
} from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

const names = (j: Jaxpr) => j.equations.map((e) => e.primitive.name);

describe('makeJaxpr', () => {
  const f = (x: Tensor) => sum(mul(sin(x), x));
  const x = tensor([0.5, -1, 2]);

  it('records the program of sum(sin(x)·x) one equation a line', () => {
    const j = makeJaxpr(f)(x);
    expect(names(j)).toEqual(['sin', 'mul', 'sum']);
    expect(j.invars.map((v) => v.shape)).toEqual([[3]]);
    expect(String(j)).toBe(
      [
        '{ lambda ; a:f64[3]. let',
        '    b:f64[3] = sin a',
        '    c:f64[3] = mul b a',
        '    d:f64[] = sum[axes=[0]] c',
        '  in (d) }',
      ].join('\n'),
    );
    const json = j.toJSON();
    expect(json.inputs).toEqual([{ name: 'a', shape: [3] }]);
    expect(json.equations[2]).toEqual({ primitive: 'sum', inputs: ['c'], params: { axes: [0] }, output: { name: 'd', shape: [] } });
    expect(json.outputs).toEqual(['d']);
    expect(JSON.parse(JSON.stringify(j))).toEqual(json);
    // counts: sin 3, mul 3, sum 3 (its input size)
    expect(j.counts()).toEqual({
      equations: 3,
      flops: 9,
      byPrimitive: { mul: { count: 1, flops: 3 }, sin: { count: 1, flops: 3 }, sum: { count: 1, flops: 3 } },
    });
  });

  it("grad's program contains the VJP rules' primitives (cos for sin) and replays to the gradient", () => {
    const j = makeJaxpr(grad(f))(x);
    expect(names(j)).toContain('cos');
    expect(names(j).filter((n) => n === 'sin')).toHaveLength(1); // forward pass, once
    expectClose(evalJaxpr(j, x), grad(f)(x) as Tensor);
    // the program is a function of its input: evaluate it elsewhere too
    const x2 = tensor([3, 0.1, -2]);
    expectClose(evalJaxpr(j, x2), grad(f)(x2) as Tensor);
  });

  it('jvp(grad(f)) shows the JVP of the VJP rules: sin (from the JVP of cos) and neg appear', () => {
    const v = tensor([1, 2, -1]);
    const hvpF = (y: Tensor) => jvp(grad(f), [y], [v])[1];
    const j = makeJaxpr(hvpF)(x);
    expect(names(j)).toEqual(expect.arrayContaining(['sin', 'cos', 'neg']));
    expectClose(evalJaxpr(j, x), hvpF(x));
  });

  it('vmap(grad(f)) records batched primitives on the stacked shapes', () => {
    const xs = tensor([[0.5, -1, 2], [1, 2, 3]]);
    const j = makeJaxpr(vmap(grad(f)))(xs);
    expect(j.equations.find((e) => e.primitive.name === 'cos')!.output.shape).toEqual([2, 3]);
    expect(j.toJSON().equations.find((e) => e.primitive === 'sum')!.params).toEqual({ axes: [1] });
    expectClose(evalJaxpr(j, xs), vmap(grad(f))(xs));
  });

  it('captured constants: a scalar is an inline literal, a larger tensor a constant variable', () => {
    const c = tensor([10, 20, 30]);
    const g = (y: Tensor) => mean(mul(y, c));
    const j = makeJaxpr(g)(x);
    expect(String(j)).toBe(
      [
        '{ lambda a:f64[3] ; b:f64[3]. let',
        '    c:f64[3] = mul b a',
        '    d:f64[] = sum[axes=[0]] c',
        '    e:f64[] = div d 3.0',
        '  in (e) }',
      ].join('\n'),
    );
    expect(j.toJSON().consts).toEqual([{ name: 'a', shape: [3], value: [10, 20, 30] }]);
    expect(j.toJSON().equations[2]!.inputs).toEqual(['d', { literal: 3 }]);
    expectClose(evalJaxpr(j, x), g(x));
    // Work on constants alone is done at once (level 0), not recorded: the cotangent of a linear
    // function does not depend on its input, so grad's program returns a constant.
    const lin = makeJaxpr(grad((y: Tensor) => sum(mul(y, c))))(x);
    expect(lin.outputs).toEqual([lin.constvars.at(-1)]);
    expectClose(evalJaxpr(lin, x), c);
  });

  it('pytree arguments and results round-trip with their structure', () => {
    const params = { w: tensor([[1, 2], [3, 4]]), b: [tensor([0.5, -0.5])] };
    const g = (p: typeof params, s: Tensor) => ({ y: add(matmul(p.w, s), p.b[0]!), n: 3 });
    const s = tensor([1, -1]);
    const j = makeJaxpr(g)(params, s);
    expect(j.invars.map((v) => v.shape)).toEqual([[2, 2], [2], [2]]);
    const out = evalJaxpr<{ y: Tensor; n: Tensor }>(j, params, s);
    expectClose(out.y, g(params, s).y);
    expect(out.n.item()).toBe(3); // a constant output is a literal
    expect(() => evalJaxpr(j, params)).toThrow(/different structure/);
    expect(() => evalJaxpr(j, { ...params, w: ones([3, 2]) }, s)).toThrow(/input 0 has shape \[3, 2\].*\[2, 2\]/);
  });

  it('the replayed program is differentiable again: grad(evalJaxpr(makeJaxpr(f))) = grad(f)', () => {
    const j = makeJaxpr(f)(x);
    expectClose(grad((y: Tensor) => evalJaxpr(j, y))(x) as Tensor, grad(f)(x) as Tensor);
  });

  it('clear errors: an escaped tracer, reading values while tracing, non-tensor outputs', () => {
    let leaked: Tensor | undefined;
    makeJaxpr((y: Tensor) => {
      leaked = sin(y);
      return leaked;
    })(x);
    expect(() => sin(leaked!)).toThrow(/sin: a makeJaxpr tracer of shape \[3\] was used after its transformation returned/);
    expect(() => leaked!.toArray()).toThrow(/makeJaxpr: cannot read the values of a traced variable of shape \[3\]/);
    expect(() => makeJaxpr((y: Tensor) => sin(y).item() as never)(tensor(1))).toThrow(/cannot read the values/);
    expect(() => makeJaxpr(() => 'a string' as never)(x)).toThrow(/makeJaxpr output: expected a Tensor, a number/);
    expect(() => makeJaxpr(() => undefined as never)(x)).toThrow(/f returned undefined/);
    expect(() => makeJaxpr((y: Tensor) => ({ y, bad: new Map() }) as never)(x)).toThrow(/makeJaxpr output\.bad.*Map/);
  });

  it('FLOP conventions: matmul 2·m·k·n, reductions their input size, data movement 0', () => {
    const j = makeJaxpr((a: Tensor, b: Tensor) => sum(matmul(a, b)))(ones([2, 3]), ones([3, 4]));
    expect(j.counts().byPrimitive).toEqual({ matmul: { count: 1, flops: 48 }, sum: { count: 1, flops: 8 } });
    const g = makeJaxpr(grad((a: Tensor) => sum(sin(matmul(a, ones([3, 4]))))))(ones([2, 3])).counts().byPrimitive;
    expect(g.matmul).toEqual({ count: 2, flops: 96 }); // the forward product and the one of its VJP rule
    expect(g.cos).toEqual({ count: 1, flops: 8 });
    const moves = makeJaxpr((a: Tensor) => reshape(transpose(a), [6]))(ones([2, 3])).counts();
    expect(moves.flops).toBe(0);
    expect(moves.equations).toBe(2);
  });
});

describe('an HVP costs about two gradients', () => {
  // A two-layer MLP's mean softplus loss on fixed data, parameters as a pytree.
  const X = randomNormal([64, 10], 1);
  const y = randomNormal([64, 1], 2);
  const params = { W1: randomNormal([10, 32], 3, 0, 0.3), W2: randomNormal([32, 1], 4, 0, 0.3) };
  const v = { W1: randomNormal([10, 32], 5), W2: randomNormal([32, 1], 6) };
  type P = typeof params;
  const loss = (p: P) => mean(softplus(mul(matmul(tanh(matmul(X, p.W1)), p.W2), y)));
  const gradProgram = makeJaxpr(grad(loss))(params);
  const hvpF = (p: P) => jvp(grad(loss), [p], [v])[1] as P;
  const hvpProgram = makeJaxpr(hvpF)(params);

  it('the programs replay to the gradient and the HVP', () => {
    const leaves = (t: P) => treeFlatten(t).leaves as Tensor[];
    leaves(evalJaxpr<P>(gradProgram, params)).forEach((g, i) => expectClose(g, leaves(grad(loss)(params) as P)[i]!));
    leaves(evalJaxpr<P>(hvpProgram, params)).forEach((h, i) => expectClose(h, leaves(hvpF(params))[i]!));
  });

  it('FLOPs(HVP program) / FLOPs(gradient program) lies in [1.5, 4] (measured 2.26)', () => {
    const g = gradProgram.counts();
    const h = hvpProgram.counts();
    const ratio = h.flops / g.flops;
    // Measured: 2.26 (234,082 / 103,681 FLOPs; 76 / 30 equations). Forward-over-reverse carries
    // a tangent through every equation of the gradient program. The matrix products dominate
    // (91% of the gradient's FLOPs): a product with one constant operand (X·W1, Xᵀ·δ) costs 2×
    // (one product of doubled width, primal and tangent together), a product of two perturbed
    // operands 3× (the primal and the two terms of the product rule), so the matmul ratio lies in
    // [2, 3] (measured 2.13). Elementwise rules cost a small multiple of their primal. So the
    // ratio sits just above 2; [1.5, 4] would still hold with every product perturbed on both
    // sides (3×) but fails if the HVP recomputed the gradient program more than about 3 times.
    expect(ratio).toBeGreaterThanOrEqual(1.5);
    expect(ratio).toBeLessThanOrEqual(4);
    const matmulRatio = h.byPrimitive.matmul!.flops / g.byPrimitive.matmul!.flops;
    expect(matmulRatio).toBeGreaterThanOrEqual(2);
    expect(matmulRatio).toBeLessThanOrEqual(3);
  });
});
