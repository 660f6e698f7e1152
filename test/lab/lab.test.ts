/**
 * The lab in a real browser: `buildLab` + `serveLab` (what `npm run lab` runs), Debian's Chromium
 * driven by playwright-core, each page's numbers checked against the library computed here in
 * Node, and no console or page errors anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, cos, grad, mul, sin, tensor } from '../../src/index.ts';
import { type Lab, numberOf, startLab } from './harness.ts';

let lab: Lab;
beforeAll(async () => {
  lab = await startLab();
}, 120_000);
afterAll(async () => {
  await lab?.close();
});

/** |a − b| ≤ tol · max(|b|, 1). */
function expectRel(a: number, b: number, tol: number, what: string): void {
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(tol * Math.max(Math.abs(b), 1));
}

describe('lab page 1: derivatives of your function', () => {
  it('d1..d4 of sin(x)·x at 0.7 match nested grad in Node (1e-12) and the closed forms; the program is grad(f)', async () => {
    const { page, errors } = await lab.open('derivatives');
    await page.getByTestId('expr').fill('sin(x) * x');
    await page.getByTestId('point').fill('0.7');
    await page.getByTestId('point').press('Enter');
    // Node: the same function written with the library's ops directly (not through the lab's parser).
    let g = (x: Tensor) => mul(sin(x), x);
    const x = 0.7;
    // Closed forms of (x sin x)^(k): sin+x cos, 2cos−x sin, −3sin−x cos, −4cos+x sin.
    const [s, c] = [Math.sin(x), Math.cos(x)];
    const closed = [s + x * c, 2 * c - x * s, -3 * s - x * c, -4 * c + x * s];
    for (let k = 1; k <= 4; k++) {
      g = grad(g);
      const shown = await numberOf(page, `d${k}`);
      // The page's text is String(value): the shortest decimal that round-trips, so a float64 result
      // comes back exactly; 1e-12 relative allows a different operation order, nothing more.
      expectRel(shown, g(tensor(x)).item(), 1e-12, `d${k} vs nested grad in Node`);
      expectRel(shown, closed[k - 1]!, 1e-12, `d${k} vs closed form`);
    }
    const program = await page.getByTestId('program').textContent();
    expect(program).toMatch(/^\{ lambda ; a:f64\[\]\. let/);
    expect(program).toContain('= sin a');
    expect(program).toContain('= cos a'); // sin's VJP rule: the backward pass is in the program
    const counts = page.getByTestId('program-counts');
    const hvpCounts = page.getByTestId('program-hvp-counts');
    const gradFlops = Number(await counts.getAttribute('data-flops'));
    const hvpFlops = Number(await hvpCounts.getAttribute('data-flops'));
    // jvp(grad f) pushes a tangent through grad's whole program: between 2 and 4 times its work.
    expect(hvpFlops / gradFlops).toBeGreaterThanOrEqual(2);
    expect(hvpFlops / gradFlops).toBeLessThanOrEqual(4);
    // Perturbation confusion: untagged dual numbers say 2, the library says 1 in all four nestings.
    expect(await numberOf(page, 'confusion-untagged')).toBe(2);
    for (const n of ['grad-of-grad', 'jvp-of-jvp', 'grad-of-jvp', 'jvp-of-grad']) expect(await numberOf(page, `confusion-${n}`)).toBe(1);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a parse error is shown inline with its position, and a new expression recomputes on Enter', async () => {
    const { page, errors } = await lab.open('derivatives');
    await page.getByTestId('expr').fill('sin(x');
    await page.getByTestId('expr').press('Enter');
    await expect.poll(() => page.getByTestId('parse-error').isVisible()).toBe(true);
    expect(await page.getByTestId('parse-error').textContent()).toContain("at position 6: expected ')'");
    await page.getByTestId('expr').fill('x^3 - 2*x');
    await page.getByTestId('point').fill('-1.5');
    await page.getByTestId('point').press('Enter');
    await expect.poll(() => page.getByTestId('parse-error').isVisible()).toBe(false);
    // (x³ − 2x)′ = 3x² − 2, ″ = 6x, ‴ = 6, ⁗ = 0 at x = −1.5; pow's rules give these to rounding.
    expectRel(await numberOf(page, 'd1'), 3 * 2.25 - 2, 1e-12, 'd1');
    expectRel(await numberOf(page, 'd2'), -9, 1e-12, 'd2');
    expectRel(await numberOf(page, 'd3'), 6, 1e-12, 'd3');
    expect(Math.abs(await numberOf(page, 'd4'))).toBeLessThan(1e-12);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('the WebGL2 toggle computes on gpu.js and reports a float32-sized difference from float64', async () => {
    const { page, errors } = await lab.open('derivatives');
    await page.getByTestId('engine').selectOption('gpu');
    await expect.poll(() => page.getByTestId('backend').textContent()).toContain('gpu.js webgl2');
    const x = 0.7;
    let g = (t: Tensor) => mul(sin(t), t);
    for (let k = 1; k <= 4; k++) {
      g = grad(g);
      const want = g(tensor(x)).item();
      const onGpu = await numberOf(page, `d${k}`);
      const diff = await numberOf(page, `diff-d${k}`);
      expectRel(await numberOf(page, `d${k}-f64`), want, 1e-12, `d${k} float64 column`);
      // float32: a few ulps (6e-8) of each of ~20 primitives, and SwiftShader's sin/cos are good to
      // ~1e-6 relative; 1e-3 bounds that with margin, while a nonzero difference proves it is not float64.
      expectRel(onGpu, want, 1e-3, `d${k} on the gpu`);
      expect(diff).toBeGreaterThan(0);
      expect(diff).toBeLessThan(1e-3);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});
