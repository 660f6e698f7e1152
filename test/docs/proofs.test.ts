/**
 * Claims made in proofs/primitive-rules.md and proofs/hvp.md that the property tests in
 * test/core cannot reach: conventions at non-differentiable points (a finite difference means
 * nothing there), the reason for pow's double select, and that the adjoint identity really rejects
 * a wrong VJP. Each expectation is an exact value the derivation predicts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  abs, customVjp, equal, grad, hessian, hvp, jvp, log, matmul, max, maximum, minimum, mul, pow, sum, tensor,
  transpose, vjp, where,
} from '../../src/index.ts';
import { expectClose, inner } from '../helpers.ts';
import { REPO } from './doc-blocks.ts';

describe('ties', () => {
  it('maximum splits the derivative equally at a tie, so maximum(x, x) has derivative 1', () => {
    const [ga, gb] = grad((a: Tensor, b: Tensor) => maximum(a, b), { argnums: [0, 1] })(tensor(2), tensor(2)) as Tensor[];
    expect(ga!.item()).toBe(0.5);
    expect(gb!.item()).toBe(0.5);
    expect((grad((x: Tensor) => maximum(x, x))(tensor(-1.5)) as Tensor).item()).toBe(1);
    expect(jvp((x: Tensor) => minimum(x, x), [tensor(0.3)], [tensor(1)])[1].item()).toBe(1);
  });

  it('max over an axis shares the cotangent equally among tied maximisers, weights summing to 1', () => {
    const x = tensor([[1, 3, 3, 0], [2, 2, 2, -1]]);
    const g = grad((z: Tensor) => sum(mul(tensor([10, 1]), max(z, 1))))(x) as Tensor;
    expectClose(g, [0, 5, 5, 0, 1 / 3, 1 / 3, 1 / 3, 0], { atol: 1e-15 });
  });

  it('JVP and VJP stay adjoint at ties (they use the same weights)', () => {
    const f = (z: Tensor) => max(z, 1);
    const x = tensor([[4, 4, 1], [0, 7, 7]]);
    const t = tensor([[0.3, -1.1, 2], [5, 0.25, -0.5]]);
    const u = tensor([1.7, -0.4]);
    const [, Jt] = jvp(f, [x], [t]);
    const [, pullback] = vjp(f, x);
    const [JTu] = pullback(u) as Tensor[];
    expectClose(inner(u, Jt), inner(JTu!, t), { atol: 1e-14 });
    // and JVP at a tie is the average of the tied tangents, not their max
    expectClose(Jt, [(0.3 - 1.1) / 2, (0.25 - 0.5) / 2], { atol: 1e-15 });
  });

  it('max has zero second derivative (its tie weights are constants to outer traces)', () => {
    expectClose(hessian((z: Tensor) => max(z))(tensor([1, 5, 2])), new Float64Array(9), { atol: 0 });
  });
});

describe('abs at zero', () => {
  it('uses sign(0) = 0: derivative 0 at 0, ±1 elsewhere', () => {
    expectClose(grad((x: Tensor) => sum(abs(x)))(tensor([0, -2, 3])) as Tensor, [0, -1, 1], { atol: 0 });
  });
});

describe('pow at a zero base', () => {
  const b = tensor([2, 3]);
  it('∂/∂b 0^b = 0 (the limit of a^b·log a), finite at every order', () => {
    const f = (bb: Tensor) => sum(pow(tensor([0, 2]), bb));
    expectClose(grad(f)(b) as Tensor, [0, 8 * Math.log(2)], { rtol: 1e-15 });
    // second derivative in b: a^b (log a)² — 0 at a = 0
    expectClose(hessian(f)(b), [0, 0, 0, 8 * Math.log(2) ** 2], { rtol: 1e-15, atol: 0 });
  });

  it('the mixed derivative ∂²/∂a∂b a^b = a^(b−1)(b log a + 1) is finite at a = 0 in both orders', () => {
    const f = (a: Tensor, bb: Tensor) => sum(pow(a, bb));
    const a = tensor([0, 1.5]);
    const want = [0, 1.5 ** 2 * (3 * Math.log(1.5) + 1)];
    const revRev = grad((aa: Tensor) => sum(grad(f, { argnums: 1 })(aa, b) as Tensor))(a) as Tensor;
    const fwdRev = jvp((aa: Tensor) => grad(f, { argnums: 1 })(aa, b) as Tensor, [a], [tensor([1, 1])])[1];
    expectClose(revRev, want, { rtol: 1e-14 });
    expectClose(fwdRev, want, { rtol: 1e-14 });
  });

  it('a single select would not do: the naive rule gives NaN in reverse mode at a = 0', () => {
    // y · select(a = 0, 0, log a): the value is right, but log's VJP divides the masked cotangent by a.
    const naive = (a: Tensor) => sum(mul(pow(a, 2), where(equal(a, 0), 0, log(a))));
    const g = (grad(naive)(tensor([0, 1])) as Tensor).toFloat64Array();
    expect(Number.isNaN(g[0]!)).toBe(true);
    expect(g[1]).toBe(1);
  });
});

describe('the adjoint identity detects a wrong VJP', () => {
  const M = tensor([[1, 2], [0, 3]]);
  // Forward mode differentiates f itself (the JVP is right); bwd is wrong on purpose: M u, not Mᵀ u.
  const wrong = customVjp(
    (x) => matmul(M, x),
    (x) => [matmul(M, x), null],
    (_r: null, ct) => [matmul(M, ct)],
  );
  const right = customVjp(
    (x) => matmul(M, x),
    (x) => [matmul(M, x), null],
    (_r: null, ct) => [matmul(transpose(M), ct)],
  );
  const gap = (f: (x: Tensor) => Tensor) => {
    const x = tensor([0.5, -1]);
    const t = tensor([1, 2]);
    const u = tensor([-3, 1]);
    const [, Jt] = jvp(f, [x], [t]);
    const [JTu] = vjp(f, x)[1](u) as Tensor[];
    return inner(u, Jt) - inner(JTu!, t);
  };
  it('the transposed rule satisfies ⟨u, J t⟩ = ⟨Jᵀ u, t⟩ and the untransposed one violates it', () => {
    expect(gap(right)).toBe(0);
    expect(Math.abs(gap(wrong))).toBeGreaterThan(1);
  });
});

describe('perturbation confusion (proofs/hvp.md §4)', () => {
  it('d/dx [x · d/dy (x + y)] = 1 with the inner derivative at y = 1, and the HVP routes agree on x ↦ x·∇(x·y)', () => {
    const inner1 = (x: Tensor) => (y: Tensor) => sum(mul(x, y));
    // g(x) = x · ∂/∂y (x·y) = x², so g'(x) = 2x: only correct if the inner grad sees x as a constant.
    const g = (x: Tensor) => mul(x, grad(inner1(x))(tensor(1)) as Tensor);
    expectClose(grad(g)(tensor(3)) as Tensor, 6, { atol: 0 });
    expectClose(hvp((x: Tensor) => g(x), tensor(3), tensor(1)), 2, { atol: 0 });
    expectClose(hvp((x: Tensor) => g(x), tensor(3), tensor(1), { mode: 'rev-rev' }), 2, { atol: 0 });
  });
});

/**
 * Every proof names the tests that check its claims: `test/….test.ts` › "describe › test name" (or
 * `test/….test.ts > describe > test name`). Each named file must exist, and each name — split at
 * › or >, with "…" and `<placeholders>` standing for elided text — must appear in that file, so renaming or
 * deleting a test without updating the proof fails here.
 */
describe('the proofs name tests that exist', () => {
  const PROOFS = join(REPO, 'proofs');
  const norm = (t: string) => t.replace(/[’‘]/g, "'").replace(/\s+/g, ' ');
  const proofs = readdirSync(PROOFS).filter((f) => f.endsWith('.md') && f !== 'README.md').sort();

  /** [file, names] for every test reference in a proof's text. */
  function references(text: string): { file: string; names: string[] }[] {
    const t = norm(text);
    const out: { file: string; names: string[] }[] = [];
    // `test/x.test.ts > a > b` (the path and the names inside one code span)
    for (const m of t.matchAll(/`(test\/[^`\s]+\.ts)((?: > [^`]+)?)`/g)) {
      const names = m[2] ? [m[2].slice(3).split(' > ').join(' › ')] : [];
      // `file` followed by › "name", "name" … up to the next reference or the end of the paragraph
      const after = t.slice(m.index! + m[0].length);
      const stop = after.search(/`test\/|\*\*Checked by|^- /);
      const tail = stop < 0 ? after : after.slice(0, stop);
      if (!m[2] && /^\s*›/.test(tail)) for (const q of tail.matchAll(/"([^"]+)"/g)) names.push(q[1]!);
      out.push({ file: m[1]!, names });
    }
    return out;
  }

  it.each(proofs)('%s names at least one test, and every test it names exists', (proof) => {
    const text = readFileSync(join(PROOFS, proof), 'utf8');
    // Split paragraphs so a quoted phrase in later prose is not taken for a test name.
    const refs = text.split(/\n\s*\n|\n(?=- )/).flatMap(references);
    expect(refs.length, `${proof} names no test file`).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const { file, names } of refs) {
      const path = join(REPO, file);
      if (!existsSync(path)) {
        missing.push(`${file} does not exist`);
        continue;
      }
      const source = norm(readFileSync(path, 'utf8'));
      for (const name of names) {
        for (const part of name.split(' › ')) {
          for (const fragment of part.split(/…|<[^<>]+>/).map((f) => f.trim()).filter((f) => f.length > 0)) {
            if (!source.includes(fragment)) missing.push(`${file} has no test named "${fragment}" (from "${name}")`);
          }
        }
      }
    }
    expect(missing, missing.join('\n')).toEqual([]);
  });
});
