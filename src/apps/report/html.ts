/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG, no scripts, no network).
 *
 * @module
 */
import { escapeXml } from '../plots/svg.ts';

/** A table cell: text is escaped; numbers are formatted by the caller. */
export type Cell = string | number;

/** An HTML table with a header row; numbers are right-aligned. */
export function table(header: string[], rows: Cell[][], caption?: string): string {
  const cell = (c: Cell, tag: 'td' | 'th') =>
    `<${tag}${typeof c === 'number' ? ' class="num"' : ''}>${escapeXml(typeof c === 'number' ? fmt(c) : c)}</${tag}>`;
  return [
    '<table>',
    caption ? `<caption>${escapeXml(caption)}</caption>` : '',
    `<thead><tr>${header.map((h) => cell(h, 'th')).join('')}</tr></thead>`,
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => cell(c, 'td')).join('')}</tr>`).join('')}</tbody>`,
    '</table>',
  ].join('');
}

/** A number for a table: 4 significant digits, exponent form outside [1e-3, 1e5). */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** One section of the report. */
export interface Section {
  id: string;
  title: string;
  /** Trusted HTML (built with the helpers here and in ../plots/svg.ts). */
  body: string;
  /** Set when the section could not be produced: the reason is shown instead of results. */
  missing?: string;
}

/** Escaped paragraph. */
export const p = (text: string): string => `<p>${escapeXml(text)}</p>`;

/** Builds the whole page. */
export function page(title: string, intro: string, sections: Section[], footer: string): string {
  const nav = sections.map((s) => `<li><a href="#${s.id}">${escapeXml(s.title)}</a>${s.missing ? ' <span class="missing">(missing)</span>' : ''}</li>`).join('');
  const body = sections
    .map(
      (s) =>
        `<section id="${s.id}"><h2>${escapeXml(s.title)}</h2>${
          s.missing ? `<div class="missing-box"><strong>Not produced.</strong> ${escapeXml(s.missing)}</div>` : ''
        }${s.body}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; }
.missing { color: #a33; }
.missing-box { background: #fff3f0; border: 1px solid #e4b9ae; padding: 0.6em 0.9em; margin: 1em 0; }
.ok { color: #2a7a2a; font-weight: bold; }
.bad { color: #a33; font-weight: bold; }
code { background: #f5f5f5; padding: 0 0.2em; }
footer { margin-top: 3em; font-size: 0.85em; color: #666; }
</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
${intro}
<ul>${nav}</ul>
${body}
<footer>${footer}</footer>
</body>
</html>
`;
}
