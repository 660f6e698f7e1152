/**
 * Page 2, "Hessian-vector products": on the lab's trained MNIST 1-vs-7 logistic regression, H·v
 * by forward-over-reverse (jvp of grad) and by reverse-over-reverse (grad of ⟨grad, v⟩), their
 * programs and timings, against the closed form and a finite-difference sweep: the `npm start`
 * report's panel 4 (src/apps/report/sanity.ts), computed live in the page.
 *
 * @module
 */
import { type Tensor, Rng, add, bceWithLogits, grad, hvp, makeJaxpr, matmul, mean, mul, sum, tensor } from '../../../src/index.ts';
import { lineChart } from '../../../src/apps/plots/svg.ts';
import { type LogregProblem, type SanityResult, SANITY_OBJECTIVE, closedFormHvp, secondOrderSanity } from '../../../src/apps/report/sanity.ts';
import { type EngineName, describeEngine, gpuAvailability, nextFrame, onEngine, selectedEngine } from '../engine.ts';
import { fetchDigits, trainDigits } from '../mnist-model.ts';
import { byTestId, escapeXml, fmt, message, programHtml, status, table, tex } from '../ui.ts';

/** λ of the model on this page (the influence explorer's default). */
export const HVP_L2 = 0.05;
/** Seed of the direction v. */
export const HVP_SEED = 7;

interface Params {
  [key: string]: Tensor;
  w: Tensor;
  b: Tensor;
}

/** The objective R(w, b) = (1/n) Σᵢ bce(xᵢ·w + b, yᵢ) + (λ/2)‖w‖², the one the sanity panel uses. */
export function logregObjective(pr: LogregProblem): (p: Params) => Tensor {
  const X = tensor(pr.X, [pr.n, pr.d]);
  const y = tensor(pr.y, [pr.n]);
  return (p) => add(mean(bceWithLogits(add(matmul(X, p.w), p.b), y)), mul(pr.l2 / 2, sum(mul(p.w, p.w))));
}

/** The unit direction v (seeded standard normal, normalised), split into the params' leaves. */
export function direction(d: number, seed = HVP_SEED): Float64Array {
  const rng = new Rng(seed);
  const v = Float64Array.from({ length: d + 1 }, () => rng.normal());
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const split = (flat: Float64Array, d: number): Params => ({ w: tensor(flat.slice(0, d), [d]), b: tensor(flat[d]!) });
const join = (p: Params): Float64Array => {
  const w = p.w.toFloat64Array();
  const out = new Float64Array(w.length + 1);
  out.set(w);
  out[w.length] = p.b.item();
  return out;
};
const relNorm = (a: Float64Array, b: Float64Array) => Math.hypot(...a.map((x, i) => x - b[i]!)) / Math.hypot(...b);

/** H·v by both routes on `engine`, flat [w; b]. */
export function hvpRoutes(pr: LogregProblem, v: Float64Array, engine: EngineName = 'cpu'): { fwdRev: Float64Array; revRev: Float64Array } {
  return onEngine(engine, () => {
    const R = logregObjective(pr);
    const theta = split(Float64Array.from([...pr.w, pr.b]), pr.d);
    const vt = split(v, pr.d);
    return { fwdRev: join(hvp(R, theta, vt)), revRev: join(hvp(R, theta, vt, { mode: 'rev-rev' })) };
  });
}

export function mountHvp(root: HTMLElement): { recompute: () => Promise<void> } {
  root.innerHTML = `
    <h2>Hessian-vector products</h2>
    <p>The model: L2-regularised logistic regression on the lab's real MNIST 1s and 7s, trained by Newton's method,
      ${escapeXml(SANITY_OBJECTIVE)}. Its Hessian is ${tex('(d+1)\\times(d+1)')} with ${tex('d = 784')}, but neither route forms it:</p>
    <ul>
      <li><strong>forward-over-reverse</strong> (Pearlmutter's R-operator, the default of <code>hvp</code>):
        ${tex('Hv = \\partial_\\varepsilon\\, \\nabla R(\\theta + \\varepsilon v)\\big|_{\\varepsilon=0}')}, a <code>jvp</code> of <code>grad</code>;</li>
      <li><strong>reverse-over-reverse</strong>: ${tex('Hv = \\nabla_\\theta \\langle \\nabla R(\\theta), v\\rangle')}, a <code>grad</code> of <code>grad</code>.</li>
    </ul>
    <p>Both are checked against the closed form ${tex('Hv = \\tfrac1n \\tilde X^\\top D \\tilde X v + \\lambda [v_w; 0]')},
      ${tex('D = \\operatorname{diag}(\\sigma_i(1-\\sigma_i))')}, written as plain loops that share no code with the engine, and against central
      finite differences ${tex('(\\nabla R(\\theta + hv) - \\nabla R(\\theta - hv))/2h')} over a sweep of ${tex('h')}.</p>
    <p><button data-testid="hvp-run">Recompute</button> <span data-testid="hvp-status" class="status busy">training…</span></p>
    <p>Computed on: <span data-testid="backend"></span></p>
    <div data-testid="hvp-results"></div>
    <div class="figs" data-testid="hvp-plot"></div>
    <h3>The programs of the gradient and of the two routes</h3>
    <div class="side-by-side" data-testid="hvp-programs"></div>
  `;
  const st = byTestId(root, 'hvp-status');
  const recompute = async () => {
    status(st, 'loading the digits and training (Newton)…', 'busy');
    await nextFrame();
    try {
      const { train } = await fetchDigits();
      const m = trainDigits(train, HVP_L2);
      const d = train.d;
      const pr: LogregProblem = { X: train.X, y: train.y, n: train.n, d, w: m.theta.slice(0, d), b: m.theta[d]!, l2: HVP_L2 };
      status(st, 'computing H·v four ways and timing them…', 'busy');
      await nextFrame();
      const sanity: SanityResult = onEngine('cpu', () => secondOrderSanity(pr));
      const v = direction(d);
      const routes = hvpRoutes(pr, v);
      const closed = closedFormHvp(pr, v.subarray(0, d), v[d]!);
      const engine: EngineName = selectedEngine() === 'gpu' && gpuAvailability().available ? 'gpu' : 'cpu';
      byTestId(root, 'backend').textContent = describeEngine(engine);
      let gpuRows: string[][] = [];
      if (engine === 'gpu') {
        const t0 = performance.now();
        const g = hvpRoutes(pr, v, 'gpu');
        const ms = performance.now() - t0;
        gpuRows = [
          [
            'forward-over-reverse on the gpu (float32)',
            `<span data-testid="hvp-gpu-relerr">${relNorm(g.fwdRev, closed).toExponential(2)}</span>`,
            `${fmt(ms)} (both routes, first call compiles kernels)`,
            '',
          ],
          ['reverse-over-reverse on the gpu (float32)', `<span data-testid="hvp-gpu-relerr-rev">${relNorm(g.revRev, closed).toExponential(2)}</span>`, '', ''],
        ];
      }
      const [fwd, rev] = sanity.routes;
      byTestId(root, 'hvp-results').innerHTML =
        `<p>n = ${train.n} digits, d = ${d} pixels + intercept, λ = ${HVP_L2}; Newton: ${m.iterations} steps to ‖∇R‖ = ${m.gradNorm.toExponential(1)}
          in ${m.seconds.toFixed(2)} s (in this page).</p>` +
        table(
          ['route', '‖Hv − closed form‖ / ‖closed form‖', 'median time (ms)', 'time / gradient'],
          [
            ['forward-over-reverse (jvp of grad)', `<span data-testid="hvp-relerr-fwd">${fwd!.relErrClosedForm.toExponential(2)}</span>`, fmt(fwd!.ms), `<span data-testid="hvp-ratio-fwd">${fmt(fwd!.ms / sanity.gradientMs, 3)}</span>`],
            ['reverse-over-reverse (grad of ⟨grad, v⟩)', `<span data-testid="hvp-relerr-rev">${rev!.relErrClosedForm.toExponential(2)}</span>`, fmt(rev!.ms), fmt(rev!.ms / sanity.gradientMs, 3)],
            ['gradient (for scale)', '', fmt(sanity.gradientMs), '1'],
            [`best central finite difference (h = ${sanity.bestFd.h})`, `<span data-testid="hvp-best-fd">${sanity.bestFd.relErr.toExponential(2)}</span>`, '', ''],
            ...gpuRows,
          ],
        ) +
        `<p>Between the routes: ‖fwd-rev − rev-rev‖ / ‖fwd-rev‖ = <span data-testid="hvp-between">${sanity.relErrBetweenRoutes.toExponential(2)}</span>.
          Times are medians of 9 rounds measured round-robin in this page (the engine runs on one thread here).</p>` +
        `<p>H·v for the direction v (seeded normal, unit length), first entries:
          <code data-testid="hv-head" data-values="${escapeXml(JSON.stringify(Array.from(routes.fwdRev.subarray(0, 4))))}">${Array.from(routes.fwdRev.subarray(0, 4), (x) => fmt(x, 6)).join(', ')}, …</code>;
          the intercept's entry <code data-testid="hv-last" data-value="${routes.fwdRev[d]}">${fmt(routes.fwdRev[d]!, 6)}</code>;
          relative differences from the closed form: fwd-rev ${relNorm(routes.fwdRev, closed).toExponential(2)},
          rev-rev ${relNorm(routes.revRev, closed).toExponential(2)}.</p>`;
      byTestId(root, 'hvp-plot').innerHTML = lineChart(
        [
          { name: 'central FD', x: sanity.fdSweep.map((e) => e.h), y: sanity.fdSweep.map((e) => e.relErr) },
          { name: 'fwd-rev HVP', x: sanity.fdSweep.map((e) => e.h), y: sanity.fdSweep.map(() => Math.max(fwd!.relErrClosedForm, 1e-17)), dashed: true },
          { name: 'rev-rev HVP', x: sanity.fdSweep.map((e) => e.h), y: sanity.fdSweep.map(() => Math.max(rev!.relErrClosedForm, 1e-17)), dashed: true },
        ],
        { title: 'Relative error of H·v against the closed form', xLabel: 'finite-difference step h', yLabel: '‖error‖ / ‖Hv‖', logX: true, logY: true },
      );
      // The programs, traced on the same problem: the data enter as constants.
      const R = logregObjective(pr);
      const theta = split(Float64Array.from([...pr.w, pr.b]), d);
      const vt = split(v, d);
      const gradP = makeJaxpr(grad(R))(theta);
      const fwdP = makeJaxpr((p: Params, u: Params) => hvp(R, p, u))(theta, vt);
      const revP = makeJaxpr((p: Params, u: Params) => hvp(R, p, u, { mode: 'rev-rev' }))(theta, vt);
      const g = gradP.counts().flops;
      byTestId(root, 'hvp-programs').innerHTML =
        `<p style="flex-basis:100%">FLOPs relative to the gradient: forward-over-reverse
          <strong data-testid="flops-ratio-fwd">${fmt(fwdP.counts().flops / g, 3)}</strong>,
          reverse-over-reverse <strong data-testid="flops-ratio-rev">${fmt(revP.counts().flops / g, 3)}</strong>
          (proofs/hvp.md: "about two to three gradients").</p>` +
        programHtml('grad(R)', gradP, 'program-grad') +
        programHtml('hvp(R, θ, v): jvp of grad', fwdP, 'program-fwdrev') +
        programHtml("hvp(R, θ, v, { mode: 'rev-rev' }): grad of ⟨grad, v⟩", revP, 'program-revrev');
      status(st, 'done', 'ok');
    } catch (e) {
      status(st, `failed: ${message(e)}`, 'error');
      throw e;
    }
  };
  byTestId(root, 'hvp-run').addEventListener('click', () => void recompute());
  void recompute();
  return { recompute };
}
