/**
 * The four properties every differentiable operation must have, as one reusable suite: the
 * primitives (test/core/primitives.test.ts) and the convolution composites (test/ops/conv.test.ts)
 * both run it.
 *
 * - JVP = a central finite difference of f along all arguments at once;
 * - the VJP is the adjoint of the JVP: ⟨u, J t⟩ = ⟨Jᵀ u, t⟩;
 * - HVP forward-over-reverse = reverse-over-reverse = hessian·v ≈ a finite difference of the gradient;
 * - vmap(f) = f on each slice, stacked, with every argument batched and with the later ones shared.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { type Tensor, add, grad, hessian, hvp, jvp, matmul, mul, reshape, stack, sub, sum, vjp, vmap } from '../src/index.ts';
import { centralDifference, expectClose, inner, maxAbs, seededTensor } from './helpers.ts';

/** An operation under test: a function of one or more tensors. */
export interface RuleCase {
  name: string;
  f: (...xs: Tensor[]) => Tensor;
}

/** How a suite draws arguments for its cases. */
export interface RuleSuite<C extends RuleCase, T> {
  /** fast-check input from which `draw` builds the arguments (a seed, perhaps with sizes). */
  input: fc.Arbitrary<T>;
  /** The arguments of case `c` for `input`; `offset` varies the values (vmap draws several slices). */
  draw(c: C, input: T, offset: number): Tensor[];
  /** The seed in `input`, from which the tangents, cotangents and weights are drawn. */
  seed(input: T): number;
  /** False for arguments too close to a kink or tie for a finite difference to mean anything. */
  smooth?(c: C, xs: Tensor[]): boolean;
  /** Runs per property (the HVP property, which builds a Hessian, runs half as many). */
  runs: number;
  /** Largest batch the vmap property draws. */
  maxBatch: number;
  /** Appended to each case's name in the report. */
  suffix?: string;
}

/** Replaces argument i of xs. */
const withArg = (xs: Tensor[], i: number, x: Tensor) => xs.map((y, j) => (j === i ? x : y));

/**
 * Declares the four properties for every case, one `describe` per case.
 *
 * @example
 * ```ts
 * describeRuleProperties([{ name: 'exp', f: exp }], {
 *   input: fc.integer({ min: 1, max: 1e9 }),
 *   draw: (c, seed, offset) => [seededTensor([3], seed + offset)],
 *   seed: (seed) => seed,
 *   runs: 12,
 *   maxBatch: 4,
 * });
 * ```
 */
export function describeRuleProperties<C extends RuleCase, T>(cases: C[], suite: RuleSuite<C, T>): void {
  const smooth = (c: C, xs: Tensor[]) => !suite.smooth || suite.smooth(c, xs);
  describe.each(cases)(`$name${suite.suffix ?? ''}`, (c) => {
    it('JVP matches a central finite difference', () => {
      fc.assert(
        fc.property(suite.input, (input) => {
          const xs = suite.draw(c, input, 0);
          fc.pre(smooth(c, xs));
          const seed = suite.seed(input);
          const ts = xs.map((x, i) => seededTensor([...x.shape], seed + 31 * i + 1));
          const [, tangent] = jvp(c.f, xs, ts);
          // The difference quotient along all arguments at once: F(s) = f(xs + s·ts).
          const h = 1e-5;
          const plus = c.f(...xs.map((x, i) => add(x, mul(h, ts[i]!)))).toFloat64Array();
          const minus = c.f(...xs.map((x, i) => sub(x, mul(h, ts[i]!)))).toFloat64Array();
          const fd = plus.map((p, k) => (p - minus[k]!) / (2 * h));
          // Truncation h²/6·|f'''| ≤ ~1e-8 on these domains, rounding ε|f|/h ≈ 1e-11.
          expectClose(tangent, fd, { rtol: 1e-6, atol: 1e-6, what: `${c.name} JVP` });
        }),
        { numRuns: suite.runs },
      );
    });

    it('VJP is the adjoint of the JVP: ⟨u, J t⟩ = ⟨Jᵀ u, t⟩', () => {
      fc.assert(
        fc.property(suite.input, (input) => {
          const xs = suite.draw(c, input, 0);
          const seed = suite.seed(input);
          const ts = xs.map((x, i) => seededTensor([...x.shape], seed + 31 * i + 1));
          const [y, tangent] = jvp(c.f, xs, ts);
          const u = seededTensor([...y.shape], seed + 5);
          const cts = vjp(c.f, ...xs)[1](u) as Tensor[];
          const lhs = inner(u, tangent);
          const rhs = cts.reduce((s, ct, i) => s + inner(ct, ts[i]!), 0);
          // Both sides are the same sum of products in a different order: rounding only.
          const scale = 1 + maxAbs(u) * maxAbs(tangent) * u.size + cts.reduce((s, ct, i) => s + maxAbs(ct) * maxAbs(ts[i]!) * ct.size, 0);
          expectClose(lhs, rhs, { rtol: 0, atol: 1e-12 * scale, what: `${c.name} adjoint` });
        }),
        { numRuns: suite.runs },
      );
    });

    it('HVP: forward-over-reverse = reverse-over-reverse = hessian·v ≈ finite difference of the gradient', () => {
      fc.assert(
        fc.property(suite.input, (input) => {
          const xs = suite.draw(c, input, 0);
          fc.pre(smooth(c, xs));
          const seed = suite.seed(input);
          const weights = seededTensor([...c.f(...xs).shape], seed + 11);
          // A scalar function of each argument in turn: g(x) = ⟨w, f(…, x, …)⟩.
          xs.forEach((x, i) => {
            const g = (z: Tensor) => sum(mul(weights, c.f(...withArg(xs, i, z))));
            const v = seededTensor([...x.shape], seed + 13 + i);
            const fwdRev = hvp(g, x, v);
            const revRev = hvp(g, x, v, { mode: 'rev-rev' });
            const H = hessian(g)(x);
            const Hv = matmul(reshape(H, [x.size, x.size]), reshape(v, [x.size]));
            const scale = 1 + maxAbs(fwdRev);
            expectClose(revRev, fwdRev, { rtol: 1e-9, atol: 1e-12 * scale, what: `${c.name} arg ${i} rev-rev vs fwd-rev` });
            expectClose(Hv, reshape(fwdRev, [x.size]), { rtol: 1e-9, atol: 1e-12 * scale, what: `${c.name} arg ${i} hessian·v` });
            const fd = centralDifference((z) => grad(g)(z) as Tensor, x, v);
            expectClose(fwdRev, fd, { rtol: 1e-5, atol: 1e-5, what: `${c.name} arg ${i} HVP vs FD of gradient` });
          });
        }),
        { numRuns: Math.ceil(suite.runs / 2) },
      );
    });

    it('vmap(f) equals f on each slice, stacked (batched and shared arguments)', () => {
      fc.assert(
        fc.property(suite.input, fc.integer({ min: 1, max: suite.maxBatch }), (input, B) => {
          const slices = Array.from({ length: B }, (_, k) => suite.draw(c, input, 1000 * k));
          const nargs = slices[0]!.length;
          // Map every argument, then (for functions of several arguments) share all but the first.
          const patterns: (0 | null)[][] = nargs === 1 ? [[0]] : [Array(nargs).fill(0), [0, ...Array(nargs - 1).fill(null)]];
          for (const axes of patterns) {
            const args = axes.map((ax, i) => (ax === 0 ? stack(slices.map((s) => s[i]!)) : slices[0]![i]!));
            const batched = vmap(c.f, axes)(...args);
            const expected = stack(slices.map((s) => c.f(...s.map((x, i) => (axes[i] === 0 ? x : slices[0]![i]!)))));
            expectClose(batched, expected, { rtol: 1e-12, atol: 1e-14, what: `${c.name} vmap ${JSON.stringify(axes)}` });
          }
        }),
        { numRuns: suite.runs },
      );
    });
  });
}
