/**
 * Small DOM and formatting helpers shared by the lab's pages.
 *
 * @module
 */
import katex from 'katex';
import { escapeXml } from '../../src/apps/plots/svg.ts';
import type { Jaxpr } from '../../src/index.ts';

export { escapeXml };

/** KaTeX's HTML for a formula (inline, or display with `display`). */
export function tex(source: string, display = false): string {
  return katex.renderToString(source, { displayMode: display, throwOnError: true, output: 'html' });
}

/** The element with this `data-testid` inside `root` (throws, naming it, when it is missing). */
export function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T {
  const e = root.querySelector<T>(`[data-testid="${id}"]`);
  if (!e) throw new Error(`lab: no element with data-testid "${id}"`);
  return e;
}

/** A number for a table cell: short, but never hiding a sign or an exponent. */
export function fmt(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e6 ? Number(v.toPrecision(digits)).toString() : v.toExponential(digits - 1);
}

/** A table as HTML: header cells and rows of already escaped or formatted cells. */
export function table(head: string[], rows: string[][], attrs = ''): string {
  return (
    `<table ${attrs}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`
  );
}

/** A program (makeJaxpr's printout) with its counts: equations, FLOPs, and per primitive. */
export function programHtml(title: string, program: Jaxpr, testId: string): string {
  const c = program.counts();
  const per = Object.entries(c.byPrimitive)
    .map(([name, p]) => `${escapeXml(name)} ×${p.count}${p.flops ? ` (${p.flops} FLOPs)` : ''}`)
    .join(', ');
  return (
    `<div class="program"><h4>${title}</h4>` +
    `<p class="counts" data-testid="${testId}-counts" data-equations="${c.equations}" data-flops="${c.flops}">` +
    `${c.equations} equations, ${c.flops} FLOPs: ${per}</p>` +
    `<pre data-testid="${testId}">${escapeXml(String(program))}</pre></div>`
  );
}

/** Sets a status line (and its class: 'busy', 'ok', 'error'). */
export function status(el: HTMLElement, text: string, kind: 'busy' | 'ok' | 'error' = 'ok'): void {
  el.textContent = text;
  el.className = `status ${kind}`;
}

/** The message of anything thrown. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
