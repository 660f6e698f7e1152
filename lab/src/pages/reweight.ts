/**
 * Page 4, "Learning to Reweight, step by step": the weights of each batch and the look-ahead
 * meta-gradient behind them, on an imbalanced two-dimensional problem (lab/src/l2rw-lab.ts), with
 * the uniformly weighted network trained on the same batches for comparison.
 *
 * @module
 */
import { type MlpParams, metaGradientAutodiff, mlpForward, tensor } from '../../../src/index.ts';
import { lineChart } from '../../../src/apps/plots/svg.ts';
import { type EngineName, describeEngine, gpuAvailability, nextFrame, onEngine, selectedEngine } from '../engine.ts';
import { L2RW_SETTINGS, ReweightRun, type StepRecord, asBatch } from '../l2rw-lab.ts';
import { byTestId, escapeXml, fmt, message, status, tex } from '../ui.ts';

const COLORS = { 0: '#d0632b', 1: '#2a6fb0' } as const;
const BOX = { lo: -4, hi: 4 };

/** The plane: the L2RW network's decision regions, all training points faint, the batch sized by weight. */
function planeSvg(run: ReweightRun, rec: StepRecord | undefined): string {
  const size = 360;
  const map = (v: number) => ((v - BOX.lo) / (BOX.hi - BOX.lo)) * size;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" font-family="system-ui, sans-serif">`];
  // Decision regions on a 36 × 36 grid, from the current L2RW network.
  const g = 36;
  const grid = new Float64Array(2 * g * g);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < g; j++) {
      grid[2 * (i * g + j)] = BOX.lo + ((j + 0.5) * (BOX.hi - BOX.lo)) / g;
      grid[2 * (i * g + j) + 1] = BOX.hi - ((i + 0.5) * (BOX.hi - BOX.lo)) / g;
    }
  const z = mlpForward(run.params, tensor(grid, [g * g, 2]), 'tanh').toFloat64Array();
  const cell = size / g;
  for (let k = 0; k < g * g; k++) {
    const fill = z[k]! > 0 ? '#e3edf8' : '#fbe9df';
    parts.push(`<rect x="${((k % g) * cell).toFixed(1)}" y="${(Math.floor(k / g) * cell).toFixed(1)}" width="${(cell + 0.5).toFixed(1)}" height="${(cell + 0.5).toFixed(1)}" fill="${fill}"/>`);
  }
  const { train, val } = run.data;
  const y = (v: number) => size - map(v);
  for (let i = 0; i < train.n; i++) {
    parts.push(`<circle cx="${map(train.X[2 * i]!).toFixed(1)}" cy="${y(train.X[2 * i + 1]!).toFixed(1)}" r="1.6" fill="${COLORS[train.y[i] as 0 | 1]}" fill-opacity="0.35"/>`);
  }
  for (let i = 0; i < val.n; i++) {
    const cx = map(val.X[2 * i]!);
    const cy = y(val.X[2 * i + 1]!);
    parts.push(`<rect x="${(cx - 4).toFixed(1)}" y="${(cy - 4).toFixed(1)}" width="8" height="8" fill="none" stroke="${COLORS[val.y[i] as 0 | 1]}" stroke-width="2"/>`);
  }
  if (rec) {
    rec.rows.forEach((row, k) => {
      const w = rec.weights[k]!;
      const r = w > 0 ? 3 + 14 * Math.sqrt(w) : 2;
      const c = COLORS[train.y[row] as 0 | 1];
      parts.push(
        `<circle cx="${map(train.X[2 * row]!).toFixed(1)}" cy="${y(train.X[2 * row + 1]!).toFixed(1)}" r="${r.toFixed(1)}" fill="${w > 0 ? c : 'none'}" fill-opacity="0.7" stroke="${c}"><title>row ${row}: weight ${fmt(w)}</title></circle>`,
      );
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Signed bars of the meta-gradient, one per batch example, coloured by class, sorted by value. */
function metaSvg(run: ReweightRun, rec: StepRecord): string {
  const [w, h, pad] = [520, 200, 30];
  const order = rec.rows.map((_, k) => k).sort((a, b) => rec.meta[a]! - rec.meta[b]!);
  const m = Math.max(...Array.from(rec.meta, Math.abs), 1e-300);
  const bw = (w - 2 * pad) / order.length;
  const mid = h / 2;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif">`];
  parts.push(`<line x1="${pad}" y1="${mid}" x2="${w - pad}" y2="${mid}" stroke="#999"/>`);
  parts.push(`<text x="${pad}" y="14" font-size="11">meta-gradient gᵢ per batch example (sorted); max |g| = ${escapeXml(fmt(m))}</text>`);
  order.forEach((k, j) => {
    const g = rec.meta[k]!;
    const len = (Math.abs(g) / m) * (mid - 22);
    const c = COLORS[run.data.train.y[rec.rows[k]!] as 0 | 1];
    parts.push(`<rect x="${(pad + j * bw).toFixed(1)}" y="${(g < 0 ? mid : mid - len).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${len.toFixed(1)}" fill="${c}"><title>row ${rec.rows[k]}: g = ${escapeXml(fmt(g))}, weight ${escapeXml(fmt(rec.weights[k]!))}</title></rect>`);
  });
  parts.push(`<text x="${pad}" y="${h - 6}" font-size="11">bars below the line (g &lt; 0): up-weighting helps the validation loss → positive weight</text>`);
  parts.push('</svg>');
  return parts.join('');
}

export function mountReweight(root: HTMLElement): { recompute: () => void } {
  const s = L2RW_SETTINGS;
  root.innerHTML = `
    <h2>Learning to Reweight, step by step</h2>
    <p>An imbalanced problem in the plane: ${Math.round(100 * s.majorityShare)}% of the ${s.nTrain} training points are
      <span style="color:${COLORS[1]}">blue (label 1)</span>, the rest <span style="color:${COLORS[0]}">orange (label 0)</span>;
      a clean, balanced validation set of ${2 * s.valPerClass} points (squares); a balanced test set. A tanh network
      2→${s.hidden}→1 trains by SGD (batch ${s.batch}, ${tex(`\\alpha = ${s.lr}`)}). Before each step, Learning to Reweight (Ren et al. 2018)
      asks, for every example in the batch, how the validation loss would change after one look-ahead step if that example
      were up-weighted:</p>
    ${tex('g_i = \\frac{\\partial}{\\partial \\varepsilon_i}\\, \\frac1m\\sum_j \\ell^{v}_j\\Big(\\theta - \\alpha \\nabla_\\theta \\sum_i \\varepsilon_i \\ell_i(\\theta)\\Big)\\Big|_{\\varepsilon=0} = -\\alpha\\, \\nabla\\ell^{v}(\\theta)^\\top \\nabla \\ell_i(\\theta),\\qquad w_i = \\frac{\\max(-g_i, 0)}{\\sum_k \\max(-g_k, 0)}', true)}
    <p>The page computes ${tex('g')} with <code>metaGradientAutodiff</code> (reverse-over-reverse through the look-ahead step) and checks it,
      every step, against the library's two other routes (the MLP closed form and per-example gradients by <code>vmap(grad)</code>):
      three routes, one number. A network with uniform weights trains on the same batches for comparison.</p>
    <div class="controls">
      <button data-testid="l2rw-step">Step</button>
      <button data-testid="l2rw-run">Run 25 steps</button>
      <button data-testid="l2rw-reset">Reset</button>
      <span>steps taken: <strong data-testid="l2rw-step-count">0</strong></span>
      <span data-testid="l2rw-status" class="status ok">ready</span>
    </div>
    <p>Computed on: <span data-testid="backend"></span></p>
    <div data-testid="l2rw-numbers"></div>
    <div class="figs"><div data-testid="l2rw-plane"></div><div data-testid="l2rw-meta-plot"></div></div>
    <div class="figs" data-testid="l2rw-history"></div>
  `;
  let run = new ReweightRun();
  const st = byTestId(root, 'l2rw-status');
  let busy = false;

  const render = (rec: StepRecord | undefined, gpuDiff: number | undefined, engine: EngineName) => {
    byTestId(root, 'l2rw-step-count').textContent = String(run.history.length);
    byTestId(root, 'backend').textContent = describeEngine(engine === 'gpu' ? 'gpu' : 'cpu') + (engine === 'gpu' ? ' for the meta-gradient check; training in float64' : '');
    byTestId(root, 'l2rw-plane').innerHTML = planeSvg(run, rec);
    if (!rec) {
      byTestId(root, 'l2rw-numbers').innerHTML = '<p>Press Step.</p>';
      byTestId(root, 'l2rw-meta-plot').innerHTML = '';
      byTestId(root, 'l2rw-history').innerHTML = '';
      return;
    }
    const minority = rec.rows.filter((r) => run.data.train.y[r] === 0).length;
    byTestId(root, 'l2rw-numbers').innerHTML =
      `<p>Step ${rec.step}: the batch holds ${minority} orange of ${rec.rows.length}
        (<span data-testid="l2rw-minority-batch">${fmt(rec.minorityInBatch, 3)}</span>) and they receive
        <span data-testid="l2rw-minority-weight">${fmt(rec.minorityWeight, 3)}</span> of the weight;
        ${rec.weights.filter((w) => w === 0).length} examples get weight 0.
        Largest difference between the three routes: <span data-testid="l2rw-route-diff">${rec.routeDiff.toExponential(2)}</span>
        (max |g| = ${fmt(Math.max(...Array.from(rec.meta, Math.abs)))}).
        ${gpuDiff === undefined ? '' : `On the gpu (float32), max |g_gpu − g_float64| / max |g| = <span data-testid="l2rw-gpu-diff">${gpuDiff.toExponential(2)}</span>.`}
        Balanced test error: L2RW <strong data-testid="l2rw-test-error">${fmt(100 * rec.testErrorL2rw, 3)}%</strong>,
        uniform <strong data-testid="l2rw-test-error-uniform">${fmt(100 * rec.testErrorUniform, 3)}%</strong>.</p>` +
      `<p hidden data-testid="l2rw-batch" data-rows="${JSON.stringify(rec.rows)}"></p>` +
      `<p hidden data-testid="l2rw-meta" data-values="${escapeXml(JSON.stringify(Array.from(rec.meta)))}"></p>` +
      `<p hidden data-testid="l2rw-weights" data-values="${escapeXml(JSON.stringify(Array.from(rec.weights)))}"></p>`;
    byTestId(root, 'l2rw-meta-plot').innerHTML = metaSvg(run, rec);
    const steps = run.history.map((h) => h.step);
    byTestId(root, 'l2rw-history').innerHTML =
      lineChart(
        [
          { name: 'L2RW', x: steps, y: run.history.map((h) => 100 * h.testErrorL2rw) },
          { name: 'uniform', x: steps, y: run.history.map((h) => 100 * h.testErrorUniform) },
        ],
        { title: 'Balanced test error', xLabel: 'step', yLabel: 'test error (%)' },
      ).replace(/<circle [^>]*\/>/g, '') +
      lineChart(
        [
          { name: 'share of batch', x: steps, y: run.history.map((h) => h.minorityInBatch), dashed: true },
          { name: 'share of weight', x: steps, y: run.history.map((h) => h.minorityWeight) },
        ],
        { title: 'The orange minority: share of the batch and of the weight', xLabel: 'step', yLabel: 'share', yRange: [0, 1] },
      ).replace(/<circle [^>]*\/>/g, '');
  };

  const steps = async (count: number) => {
    if (busy) return;
    busy = true;
    try {
      const engine: EngineName = selectedEngine() === 'gpu' && gpuAvailability().available ? 'gpu' : 'cpu';
      let rec: StepRecord | undefined;
      let gpuDiff: number | undefined;
      for (let k = 0; k < count; k++) {
        status(st, `step ${run.history.length + 1}…`, 'busy');
        if (k % 5 === 0) await nextFrame();
        const before: MlpParams = run.params;
        rec = onEngine('cpu', () => run.step());
        if (engine === 'gpu' && k === count - 1) {
          // The same meta-gradient, same parameters and batch, in float32 on the gpu.
          const r = rec;
          const g = onEngine('gpu', () => metaGradientAutodiff(run.loss, before, asBatch(run.data.train, r.rows), asBatch(run.data.val), L2RW_SETTINGS.lr));
          const scale = Math.max(...Array.from(r.meta, Math.abs));
          gpuDiff = Math.max(...Array.from(g, (v, i) => Math.abs(v - r.meta[i]!))) / scale;
        }
      }
      render(rec, gpuDiff, engine);
      status(st, `done: ${run.history.length} steps`, 'ok');
    } catch (e) {
      status(st, `failed: ${message(e)}`, 'error');
      throw e;
    } finally {
      busy = false;
    }
  };
  byTestId(root, 'l2rw-step').addEventListener('click', () => void steps(1));
  byTestId(root, 'l2rw-run').addEventListener('click', () => void steps(25));
  byTestId(root, 'l2rw-reset').addEventListener('click', () => {
    run = new ReweightRun();
    render(undefined, undefined, 'cpu');
    status(st, 'reset', 'ok');
  });
  render(undefined, undefined, 'cpu');
  // Switching the engine changes where the next step's meta-gradient is checked; nothing to redo now.
  return { recompute: () => undefined };
}
