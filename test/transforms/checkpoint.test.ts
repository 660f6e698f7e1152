/**
 * checkpoint (proofs/checkpoint.md): the derivatives of a checkpointed function are those of the
 * function, at every order, and the reverse-mode tape holds fewer nodes and fewer tensors.
 *
 * Tolerance: the checkpointed backward pass applies the same VJP rules to the same float64 values;
 * only the order in which cotangents of a value used in several places are summed can differ, so
 * the results agree to a few ulps: 1e-15 relative to the gradient's norm (with the max-norm
 * per-element reading below) is the claim, checked as ‖a − b‖∞ ≤ 1e-15·‖b‖∞·(a small count of sums).
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor, add, checkpoint, grad, hessian, hvp, jvp, makeJaxpr, matmul, mean, mul, randomNormal, sum, tanh, tensor, vmap,
} from '../../src/index.ts';
import { withTrace } from '../../src/core/trace.ts';
import { ReverseTrace, ReverseTracer } from '../../src/transforms/reverse.ts';
import { maxRelErr } from '../helpers.ts';

const X = randomNormal([8, 5], 1);
const Ws = Array.from({ length: 6 }, (_, i) => randomNormal([5, 5], 10 + i));
// A residual tanh network of 6 blocks: h ← h + tanh(h W_l) · 0.5
const block = (w: Tensor, h: Tensor) => add(h, mul(tensor(0.5), tanh(matmul(h, w))));
const blockCk = checkpoint(block);
const net = (b: typeof block) => (ws: Tensor[]) => mean(mul(ws.reduce((h, w) => b(w, h), X), X));

describe('checkpoint', () => {
  it('grad equals the un-checkpointed gradient to 1e-15 relative', () => {
    const g0 = grad(net(block))(Ws) as Tensor[];
    const g1 = grad(net(blockCk))(Ws) as Tensor[];
    g0.forEach((g, l) => expect(maxRelErr(g1[l]!, g)).toBeLessThanOrEqual(1e-15));
  });

  it('second order: hessian (forward over reverse) and reverse-over-reverse HVPs agree', () => {
    const single = (b: typeof block) => (w: Tensor) => net(b)([w, ...Ws.slice(1)]);
    const H0 = hessian(single(block))(Ws[0]!);
    const H1 = hessian(single(blockCk))(Ws[0]!);
    expect(maxRelErr(H1, H0)).toBeLessThanOrEqual(1e-14); // 25 columns, each a sum over 6 blocks: a few more roundings
    const v = randomNormal([5, 5], 99);
    const r0 = hvp(single(block), Ws[0]!, v, { mode: 'rev-rev' });
    const r1 = hvp(single(blockCk), Ws[0]!, v, { mode: 'rev-rev' });
    expect(maxRelErr(r1, r0)).toBeLessThanOrEqual(1e-14);
  });

  it('is the function itself under jvp, vmap and no transformation', () => {
    const h = randomNormal([8, 5], 2);
    expect(blockCk(Ws[0]!, h).toArray()).toEqual(block(Ws[0]!, h).toArray());
    const t = randomNormal([5, 5], 3);
    expect(jvp((w: Tensor) => blockCk(w, h), [Ws[0]!], [t])[1].toArray()).toEqual(jvp((w: Tensor) => block(w, h), [Ws[0]!], [t])[1].toArray());
    const batch = randomNormal([3, 8, 5], 4);
    expect(vmap((hh: Tensor) => blockCk(Ws[0]!, hh))(batch).toArray()).toEqual(vmap((hh: Tensor) => block(Ws[0]!, hh))(batch).toArray());
  });

  /** The tape of one reverse-mode level after the forward pass: nodes, and distinct tensors it keeps. */
  function tapeOf(loss: (ws: Tensor[]) => Tensor): { nodes: number; tensors: number } {
    const trace = new ReverseTrace();
    withTrace(trace, () => loss(Ws.map((w) => new ReverseTracer(trace, w, true))));
    const kept = new Set<Tensor>();
    for (const node of trace.tape) {
      kept.add(node.output.primal);
      node.inputs.forEach((x) => kept.add(x.primal));
    }
    return { nodes: trace.tape.length, tensors: kept.size };
  }

  it('saves fewer residuals: one tape node per checkpointed block instead of one per primitive', () => {
    const plain = tapeOf(net(block));
    const ck = tapeOf(net(blockCk));
    // Each block is 4 primitives on the tape (matmul, tanh, mul, add; the 0.5 is a constant) and
    // the loss 2 more (mul, mean's sum and its scaling), so the plain tape has ≥ 6·4 nodes.
    expect(plain.nodes).toBeGreaterThanOrEqual(6 * 4);
    expect(ck.nodes).toBe(plain.nodes - 6 * 3); // 6 blocks of 4 nodes became 6 nodes
    // Kept tensors: per block the plain tape also keeps the product h·W, its tanh, the scaled tanh
    // and the constant 0.5 that the mul node holds; the checkpointed one keeps only the activations
    // between blocks (and the weights, and the loss's own).
    expect(ck.tensors).toBeLessThan(plain.tensors);
    expect(plain.tensors - ck.tensors).toBe(6 * 4);
  });

  it('the price is one more forward pass: the program of grad grows by exactly the forward equations', () => {
    const fwd = makeJaxpr(net(block))(Ws).counts().equations;
    const g0 = makeJaxpr(grad(net(block)))(Ws).counts().equations;
    const g1 = makeJaxpr(grad(net(blockCk)))(Ws).counts().equations;
    const lossOnly = makeJaxpr((h: Tensor) => mean(mul(h, X)))(X).counts().equations;
    expect(g1 - g0).toBe(fwd - lossOnly); // every block's forward equations, recomputed once
  });

  it('refuses an f that returns several tensors', () => {
    const bad = checkpoint(((x: Tensor) => [x, x]) as unknown as (x: Tensor) => Tensor);
    expect(() => grad((x: Tensor) => sum(bad(x)))(tensor([1]))).toThrow(/checkpoint: f must return one tensor, got an array of 2 entries/);
  });
});
