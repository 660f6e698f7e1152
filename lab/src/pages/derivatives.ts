/**
 * Page 1, "Derivatives of your function": f and its first four derivatives at a point by nested
 * `grad`, plotted over an interval, the primitive programs of grad(f) and jvp(grad(f)), and the
 * perturbation-confusion example with the fix the library uses (levels on the trace stack).
 *
 * @module
 */
import { type Tensor, add, grad, jvp, makeJaxpr, mul, sum, tensor } from '../../../src/index.ts';
import { lineChart } from '../../../src/apps/plots/svg.ts';
import { ParseError, parse, show, toFunction } from '../parser.ts';
import { type EngineName, describeEngine, gpuAvailability, onEngine, relDiff, selectedEngine } from '../engine.ts';
import { byTestId, escapeXml, fmt, message, programHtml, table, tex } from '../ui.ts';

const ORDERS = 4;

/** f and its first four derivatives at x0, by nesting grad: [f, f′, f″, f‴, f⁗]. */
export function derivativesAt(f: (x: Tensor) => Tensor, x0: number): number[] {
  const out: number[] = [];
  let g = f;
  for (let k = 0; k <= ORDERS; k++) {
    out.push(g(tensor(x0)).item());
    g = grad(g);
  }
  return out;
}

/**
 * f and its derivatives on a grid. f acts elementwise, so ∂/∂xᵢ Σⱼ f(xⱼ) = f′(xᵢ): one gradient of
 * the sum gives the derivative at every grid point at once (and nesting it, the higher ones).
 */
export function curves(f: (x: Tensor) => Tensor, xs: number[]): number[][] {
  const out: number[][] = [];
  let g = f;
  for (let k = 0; k <= ORDERS; k++) {
    out.push(Array.from(g(tensor(xs)).toFloat64Array()));
    const prev = g;
    g = grad((x: Tensor) => sum(prev(x)));
  }
  return out;
}

/** A y range that keeps poles (1/x at 0) from flattening the plot: the 5–95% quantiles, widened. */
function robustRange(values: number[]): [number, number] | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length < 2) return undefined;
  const lo = v[Math.floor(0.05 * (v.length - 1))]!;
  const hi = v[Math.ceil(0.95 * (v.length - 1))]!;
  const pad = Math.max(hi - lo, 1e-9) * 0.6;
  const full: [number, number] = [v[0]!, v[v.length - 1]!];
  const clipped: [number, number] = [lo - pad, hi + pad];
  return full[0] >= clipped[0] && full[1] <= clipped[1] ? undefined : clipped;
}

const NAMES = ['f', "f′", 'f″', 'f‴', 'f⁗'];

export function mountDerivatives(root: HTMLElement): { recompute: () => void } {
  root.innerHTML = `
    <h2>Derivatives of your function</h2>
    <p>Type a function of ${tex('x')}. The lab parses it (numbers, ${tex('x')}, <code>pi</code>, <code>e</code>,
      <code>+ - * / ^</code>, and sin, cos, tan, exp, log, log1p, sqrt, tanh, abs, erf, sigmoid, softplus, relu, square),
      builds it from the library's ops, and differentiates it by nesting <code>grad</code>:
      ${tex("f^{(k)} = \\texttt{grad}(f^{(k-1)})")}, so ${tex('f^{(4)}')} is <code>grad(grad(grad(grad(f))))</code>.
      Every derivative rule is itself written with primitives, which is why the nesting works to any order.</p>
    <div class="controls">
      <label>f(x) = <input data-testid="expr" size="32" value="sin(x) * x" spellcheck="false"></label>
      <label>at x = <input data-testid="point" size="10" value="0.7"></label>
      <label>plot from <input data-testid="from" size="5" value="-4"></label>
      <label>to <input data-testid="to" size="5" value="4"></label>
      <button data-testid="compute">Compute</button>
    </div>
    <div data-testid="parse-error" class="error" hidden></div>
    <p class="understood">Parsed as: <code data-testid="parsed"></code></p>
    <p>Computed on: <span data-testid="backend"></span></p>
    <div data-testid="derivative-table"></div>
    <div class="figs" data-testid="plot"></div>
    <h3>The programs the transformations build</h3>
    <p><code>makeJaxpr</code> records the primitives a function applies, one equation a line. The
      gradient's program holds the forward pass and then the backward pass (each primitive's VJP rule, written in
      primitives). The Hessian-vector product ${tex("\\texttt{jvp}(\\texttt{grad}\\,f)(x; v) = f''(x)\\,v")} pushes a
      tangent through that whole program: about twice its work, which the counts show.</p>
    <div class="side-by-side" data-testid="programs"></div>
    <h3>Perturbation confusion, and its fix</h3>
    <div data-testid="confusion"></div>
  `;
  const exprIn = byTestId<HTMLInputElement>(root, 'expr');
  const pointIn = byTestId<HTMLInputElement>(root, 'point');
  const fromIn = byTestId<HTMLInputElement>(root, 'from');
  const toIn = byTestId<HTMLInputElement>(root, 'to');
  const errorBox = byTestId(root, 'parse-error');

  const showError = (text: string, html?: string) => {
    errorBox.hidden = false;
    errorBox.innerHTML = html ?? escapeXml(text);
  };

  const recompute = () => {
    errorBox.hidden = true;
    const src = exprIn.value;
    let f: (x: Tensor) => Tensor;
    try {
      const tree = parse(src);
      byTestId(root, 'parsed').textContent = show(tree);
      f = toFunction(tree);
    } catch (e) {
      if (e instanceof ParseError) {
        const caret = `${escapeXml(src)}\n${' '.repeat(e.position)}^`;
        showError(e.message, `Parse error ${escapeXml(e.message)}<pre>${caret}</pre>`);
      } else showError(message(e));
      return;
    }
    const x0 = Number(pointIn.value);
    if (pointIn.value.trim() === '' || !Number.isFinite(x0)) {
      showError(`the point must be a finite number, got '${pointIn.value}'`);
      return;
    }
    const a = Number(fromIn.value);
    const b = Number(toIn.value);
    if (!(Number.isFinite(a) && Number.isFinite(b) && a < b)) {
      showError(`the plot interval needs two numbers with from < to, got [${fromIn.value}, ${toIn.value}]`);
      return;
    }
    const engine: EngineName = selectedEngine() === 'gpu' && gpuAvailability().available ? 'gpu' : 'cpu';
    try {
      const f64 = onEngine('cpu', () => derivativesAt(f, x0));
      const values = engine === 'gpu' ? onEngine('gpu', () => derivativesAt(f, x0)) : f64;
      byTestId(root, 'backend').textContent = describeEngine(engine);
      const head = ['', 'value at x = ' + escapeXml(String(x0))];
      if (engine === 'gpu') head.push('float64 (cpu)', '|gpu − float64| / |float64|');
      const rows = values.map((v, k) => {
        const id = k === 0 ? 'f' : `d${k}`;
        const cells = [k === 0 ? tex('f(x)') : tex(`f^{(${k})}(x)`), `<span class="num" data-testid="${id}">${String(v)}</span>`];
        if (engine === 'gpu') cells.push(`<span class="num" data-testid="${id}-f64">${String(f64[k])}</span>`, `<span data-testid="diff-${id}">${relDiff(v, f64[k]!).toExponential(2)}</span>`);
        return cells;
      });
      byTestId(root, 'derivative-table').innerHTML = table(head, rows, 'class="values"');

      const n = 161;
      const xs = Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
      const ys = onEngine(engine, () => curves(f, xs));
      const range = robustRange(ys.flat());
      byTestId(root, 'plot').innerHTML = lineChart(
        ys.map((y, k) => ({ name: NAMES[k]!, x: xs, y, width: k === 0 ? 2.5 : 1.5, dashed: false })),
        { title: `f(x) = ${src} and its first four derivatives`, subtitle: `nested grad on ${describeEngine(engine)}`, xLabel: 'x', yLabel: 'value', yRange: range },
      ).replace(/<circle [^>]*\/>/g, '');

      const x = tensor(x0);
      const gradProgram = makeJaxpr(grad(f))(x);
      const hvpProgram = makeJaxpr((p: Tensor, v: Tensor) => jvp(grad(f), [p], [v])[1])(x, tensor(1));
      byTestId(root, 'programs').innerHTML =
        programHtml('grad(f)', gradProgram, 'program') + programHtml('jvp(grad(f)): the Hessian-vector product', hvpProgram, 'program-hvp');
    } catch (e) {
      showError(`could not compute: ${message(e)}`);
    }
  };

  for (const input of [exprIn, pointIn, fromIn, toIn]) {
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') recompute();
    });
  }
  byTestId(root, 'compute').addEventListener('click', recompute);
  byTestId(root, 'confusion').innerHTML = confusionHtml();
  recompute();
  return { recompute };
}

/**
 * The classic example (Siskind & Pearlmutter 2005): d/dx [x · d/dy (x + y)] at x = y = 1 is 1. An
 * implementation with one untagged infinitesimal gets 2. The untagged dual numbers below exist
 * only to show that wrong answer; the right one comes from the library, in all four nestings.
 */
export function confusion(): { untagged: number; library: Record<string, number> } {
  type Dual = { a: number; b: number };
  const dual = (a: number, b = 0): Dual => ({ a, b });
  const plus = (p: Dual, q: Dual) => dual(p.a + q.a, p.b + q.b);
  const times = (p: Dual, q: Dual) => dual(p.a * q.a, p.a * q.b + p.b * q.a);
  const d = (g: (x: Dual) => Dual) => (at: number) => g(dual(at, 1)).b;
  const untagged = d((x) => times(x, dual(d((y) => plus(x, y))(1))))(1);

  const inner = (x: Tensor) => (y: Tensor) => add(x, y);
  const one = tensor(1);
  const library = {
    'grad of grad': grad((x: Tensor) => mul(x, grad(inner(x))(one)))(one).item(),
    'jvp of jvp': jvp((x: Tensor) => mul(x, jvp(inner(x), [one], [one])[1]), [one], [one])[1].item(),
    'grad of jvp': grad((x: Tensor) => mul(x, jvp(inner(x), [one], [one])[1]))(one).item(),
    'jvp of grad': jvp((x: Tensor) => mul(x, grad(inner(x))(one)), [one], [one])[1].item(),
  };
  return { untagged, library };
}

function confusionHtml(): string {
  const c = confusion();
  return `
    <p>${tex('\\frac{d}{dx}\\Big[x\\cdot \\frac{d}{dy}(x+y)\\Big|_{y=1}\\Big]_{x=1} = 1', true)}
    The inner derivative is 1 for every ${tex('x')}, so the whole is ${tex('\\frac{d}{dx}x = 1')}. Dual numbers with a
    single, untagged ${tex('\\varepsilon')} get it wrong: the outer derivative seeds ${tex('x = 1 + \\varepsilon')}, the inner one
    seeds ${tex('y = 1 + \\varepsilon')} with <em>the same</em> ${tex('\\varepsilon')}, forms ${tex('x + y = 2 + 2\\varepsilon')} and
    reads off 2.</p>
    <pre>const d = (g) => (at) => g(dual(at, 1)).b;      // one ε for every derivative
d((x) => times(x, dual(d((y) => plus(x, y))(1))))(1)  // = ${c.untagged}</pre>
    <p>Untagged dual numbers: <strong data-testid="confusion-untagged">${c.untagged}</strong> (wrong).</p>
    <p>The fix: every transformation call gets its own <em>level</em> on the trace stack, and a value from an outer level
      is a constant to an inner one (formally ${tex('\\mathbb{R}[\\varepsilon_1][\\varepsilon_2]')} with
      ${tex('\\varepsilon_1\\varepsilon_2 \\ne 0')}). The library, in every nesting of forward and reverse mode:</p>
    ${table(
      ['nesting', 'result'],
      Object.entries(c.library).map(([k, v]) => [escapeXml(k), `<span data-testid="confusion-${k.replace(/ /g, '-')}">${fmt(v)}</span>`]),
    )}
    <p>proofs/hvp.md §4 derives why levels suffice; docs/guides/second-order-from-scratch.md walks through the trace stack.</p>`;
}
