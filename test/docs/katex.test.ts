/**
 * The docs site typesets math (docs/katex-plugin.mjs, loaded by typedoc.json): every `$…$` and
 * `$$…$$` of the guides, the proofs and the docs front page becomes KaTeX HTML, code is never
 * touched, and no raw math is left in the text. The pipeline is the plugin's own two halves around
 * markdown-it with TypeDoc's default options ({ html: true, linkify: true }), which is what
 * `npm run docs` runs; building the whole site takes about a minute, so it is not repeated here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KATEX_DIST, protectMath, restoreMath, typeset } from '../../docs/katex-plugin.mjs';
import { REPO } from './doc-blocks.ts';

const require = createRequire(import.meta.url);
const MarkdownIt = require('markdown-it') as (options: object) => { render(markdown: string): string };
const md = MarkdownIt({ html: true, linkify: true });

/** Markdown → HTML as the site renders it; throws on any TeX error. */
function render(markdown: string): string {
  const { text, pieces } = protectMath(markdown);
  return restoreMath(md.render(text), pieces);
}

/** The text of the HTML outside <code>, <pre> and KaTeX's own markup, entities decoded. */
function proseText(html: string): string {
  let s = html.replace(/<pre[\s\S]*?<\/pre>/g, ' ').replace(/<code[\s\S]*?<\/code>/g, ' ');
  // Drop every KaTeX element (typeset math, with its hidden TeX annotation) by matching nested spans.
  let at: number;
  while ((at = s.search(/<span class="katex(-display)?"/)) >= 0) {
    let depth = 0;
    let i = at;
    const tag = /<(\/?)span\b[^>]*>/g;
    tag.lastIndex = at;
    for (let m = tag.exec(s); m; m = tag.exec(s)) {
      depth += m[1] ? -1 : 1;
      if (depth === 0) {
        i = m.index + m[0].length;
        break;
      }
    }
    s = s.slice(0, at) + ' ' + s.slice(i);
  }
  return s.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"');
}

describe('protectMath and restoreMath', () => {
  it('typesets inline and display math, also across lines and inside tables', () => {
    const html = render(['Inline $x^2_i$ and', '', '$$', '\\frac{a}{b}', '$$', '', '| a | b |', '|---|---|', '| $\\|x\\|$ | 2 |'].join('\n'));
    expect(html.match(/class="katex"/g)).toHaveLength(3);
    expect(html).toContain('class="katex-display"');
    expect(html).toContain('<table>'); // the |…| inside math did not split the row
    expect(html.match(/<td>/g)).toHaveLength(2);
    expect(proseText(html)).not.toContain('$');
  });

  it('leaves code alone: fences, indented code and inline code spans keep their dollars', () => {
    const source = ['```ts', 'const s = `${a}$ and $b$`;', '```', '', 'A span `$not math$` here.', '', '    $indented code$', ''].join('\n');
    const { text, pieces } = protectMath(source);
    expect(pieces).toEqual([]);
    expect(text).toBe(source);
  });

  it('does not take prices, escaped dollars or spaced dollars for math', () => {
    for (const s of ['costs $5 and $6', 'an escaped \\$x\\$ stays', 'a $ b $ c']) {
      expect(protectMath(s).pieces, s).toEqual([]);
    }
  });

  it('typesets math in a heading in place, so the table of contents sees no placeholder', () => {
    const { text, pieces } = protectMath('## 1. Both routes compute $Hv$\n');
    expect(pieces).toEqual([]);
    expect(text).toContain('class="katex"');
    expect(text).not.toMatch(/KATEXMATHPLACEHOLDER/);
  });

  it('reports a TeX error with the formula instead of printing it raw', () => {
    const errors: string[] = [];
    const out = typeset('\\frac{1', false, (m) => errors.push(m));
    expect(errors[0]).toMatch(/KaTeX could not typeset \$\\frac\{1\$/);
    expect(out).toMatch(/^<code>/);
  });

  it('reads GitHub-style \\* in math as *', () => {
    const errors: string[] = [];
    expect(typeset('x_{i^\\*}', false, (m) => errors.push(m))).toContain('∗');
    expect(errors).toEqual([]);
  });
});

describe('every guide, proof and the docs front page', () => {
  const files = [
    ...readdirSync(join(REPO, 'docs', 'guides')).filter((f) => f.endsWith('.md')).map((f) => `docs/guides/${f}`),
    ...readdirSync(join(REPO, 'proofs')).filter((f) => f.endsWith('.md')).map((f) => `proofs/${f}`),
    'docs/README.md',
  ];
  it.each(files)('%s: all math typesets and no raw $ math is left outside code', (file) => {
    const markdown = readFileSync(join(REPO, file), 'utf8');
    const html = render(markdown); // throws on a TeX error
    const text = proseText(html);
    const stray = text.split('\n').filter((l) => /\$/.test(l));
    expect(stray, `${file}: raw $ left in the rendered text`).toEqual([]);
    expect(html).not.toMatch(/KATEXMATHPLACEHOLDER|katex-error/);
  });

  it('the proofs really contain math, and it is typeset (not a vacuous pass)', () => {
    const html = render(readFileSync(join(REPO, 'proofs', 'lissa.md'), 'utf8'));
    expect((html.match(/class="katex"/g) ?? []).length).toBeGreaterThan(50);
  });

  it('KaTeX\'s stylesheet and fonts exist where the plugin copies them from', () => {
    expect(existsSync(join(KATEX_DIST, 'katex.min.css'))).toBe(true);
    const css = readFileSync(join(KATEX_DIST, 'katex.min.css'), 'utf8');
    for (const font of css.match(/fonts\/[A-Za-z0-9_-]+\.woff2/g) ?? []) expect(existsSync(join(KATEX_DIST, font)), font).toBe(true);
    expect(css).not.toMatch(/url\(https?:/); // nothing fetched from the network
  });
});
