// @ts-check
/**
 * A TypeDoc plugin that typesets the `$…$` and `$$…$$` math of the guides, the proofs and the API
 * comments with KaTeX at build time, and ships KaTeX's stylesheet and fonts with the site, so the
 * pages render offline (no CDN, no script in the browser).
 *
 * Markdown would mangle TeX (`_`, `*`, `\` and `|` all mean something to it), so the math is cut
 * out before markdown-it runs and put back, typeset, after it: a high-priority listener on
 * TypeDoc's markdown event replaces each formula by an inert placeholder word, TypeDoc's own
 * listener renders the Markdown, and a low-priority listener replaces the placeholders by KaTeX's
 * HTML. Code is left alone: fenced blocks, indented code and inline code spans are skipped, so a
 * `$` in code (template literals, shell prompts) is never math. A formula in a heading is typeset
 * in place instead (a placeholder there would leak into the page's table of contents and anchor).
 *
 * Rules for what counts as math (those of pandoc): `$$…$$` is display math and may span lines;
 * `$…$` is inline math when the opening `$` is not followed by a space, the closing `$` is not
 * preceded by a space nor followed by a digit, and no blank line lies between; `\$` is a literal
 * dollar. A TeX error is a TypeDoc warning naming the formula, so `npm run docs` stays at zero
 * warnings only while every formula typesets.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import katex from 'katex';
import { JSX, MarkdownEvent, RendererEvent } from 'typedoc';

const require = createRequire(import.meta.url);
/** KaTeX's dist folder (katex.min.css and fonts/). */
export const KATEX_DIST = dirname(require.resolve('katex/dist/katex.min.css'));
/** Where the stylesheet and fonts go, relative to the site's root. */
export const ASSET_DIR = 'assets/katex';

const PLACEHOLDER = (i) => `KATEXMATHPLACEHOLDER${i}X`;
const PLACEHOLDER_RE = /KATEXMATHPLACEHOLDER(\d+)X/g;

/**
 * Typesets one formula. Errors are reported through `onError` (and the source is kept, escaped)
 * rather than thrown, so one bad formula does not stop the whole site.
 * @param {string} tex
 * @param {boolean} display
 * @param {(message: string) => void} onError
 * @param {'html' | 'htmlAndMathml'} [output]
 * @returns {string}
 */
export function typeset(tex, display, onError, output = 'htmlAndMathml') {
  // `\*` is how Markdown sources written for GitHub keep a `*` in math from starting emphasis;
  // TeX has no such command, so it means `*`.
  tex = tex.replace(/\\\*/g, '*');
  try {
    return katex.renderToString(tex, { displayMode: display, throwOnError: true, strict: false, output });
  } catch (e) {
    onError(`KaTeX could not typeset ${display ? '$$' : '$'}${tex}${display ? '$$' : '$'}: ${e instanceof Error ? e.message : String(e)}`);
    return `<code>${tex.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code>`;
  }
}

/** A fence line: up to 3 spaces, then 3+ backticks or tildes. */
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Splits Markdown into prose and code: fenced blocks and indented code blocks (4+ spaces after a
 * blank line, outside lists) are code; everything else is prose.
 * @param {string} markdown
 * @returns {{ code: boolean, text: string }[]}
 */
function segments(markdown) {
  const lines = markdown.split('\n');
  /** @type {{ code: boolean, text: string }[]} */
  const out = [];
  const push = (code, line) => {
    const last = out[out.length - 1];
    if (last && last.code === code) last.text += '\n' + line;
    else out.push({ code, text: line });
  };
  let fence = null;
  let prevBlank = true;
  let inList = false;
  for (const line of lines) {
    if (fence) {
      push(true, line);
      const close = line.trim();
      if (close.startsWith(fence) && /^[`~]+$/.test(close)) fence = null;
      continue;
    }
    const open = FENCE.exec(line);
    if (open) {
      fence = open[1];
      push(true, line);
      prevBlank = false;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s/.test(line)) inList = true;
    else if (!line.trim() && prevBlank) inList = false;
    const indentedCode = !inList && /^( {4}|\t)/.test(line) && (prevBlank || (out.length > 0 && out[out.length - 1].code && line.trim() !== ''));
    push(indentedCode, line);
    prevBlank = !line.trim();
  }
  return out;
}

/**
 * Finds the end of inline math opened at `i` (the `$`), or -1.
 * @param {string} s
 * @param {number} i
 */
function inlineEnd(s, i) {
  if (i + 1 >= s.length || /\s/.test(s[i + 1])) return -1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') {
      j++;
      continue;
    }
    if (c === '\n' && s[j + 1] === '\n') return -1; // a blank line ends the paragraph
    if (c === '$') {
      if (/\s/.test(s[j - 1]) || /[0-9]/.test(s[j + 1] ?? '')) return -1;
      return j;
    }
  }
  return -1;
}

/**
 * Replaces the math of one prose segment, calling `emit(tex, display, inHeading)` for each formula
 * and splicing in what it returns. Inline code spans are copied unchanged.
 * @param {string} s
 * @param {(tex: string, display: boolean, inHeading: boolean) => string} emit
 */
function replaceMath(s, emit) {
  let out = '';
  let i = 0;
  let lineStart = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\n') {
      lineStart = i + 1;
      out += c;
      i++;
      continue;
    }
    if (c === '\\' && s[i + 1] === '$') {
      out += '\\$';
      i += 2;
      continue;
    }
    if (c === '`') {
      let n = 0;
      while (s[i + n] === '`') n++;
      const ticks = '`'.repeat(n);
      let j = s.indexOf(ticks, i + n);
      while (j >= 0 && s[j + n] === '`') j = s.indexOf(ticks, j + n + 1); // a longer run does not close
      if (j < 0) {
        out += ticks;
        i += n;
        continue;
      }
      out += s.slice(i, j + n);
      i = j + n;
      continue;
    }
    if (c === '$') {
      const inHeading = /^ {0,3}#{1,6}\s/.test(s.slice(lineStart, i + 1) + ' ');
      if (s[i + 1] === '$') {
        const j = s.indexOf('$$', i + 2);
        if (j > i + 2) {
          out += emit(s.slice(i + 2, j).trim(), true, inHeading);
          i = j + 2;
          continue;
        }
      } else {
        const j = inlineEnd(s, i);
        if (j > 0) {
          out += emit(s.slice(i + 1, j), false, inHeading);
          i = j + 1;
          continue;
        }
      }
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * Cuts the math out of Markdown: returns the text with each formula replaced by a placeholder word
 * (typeset in place inside headings) and the typeset HTML of each placeholder, in order.
 * @param {string} markdown
 * @param {(message: string) => void} [onError]
 * @returns {{ text: string, pieces: string[] }}
 */
export function protectMath(markdown, onError = (m) => { throw new Error(m); }) {
  /** @type {string[]} */
  const pieces = [];
  const text = segments(markdown)
    .map((seg) =>
      seg.code
        ? seg.text
        : replaceMath(seg.text, (tex, display, inHeading) => {
            // In a heading, inline HTML keeps the table of contents free of placeholders (it reads
            // only the text tokens); HTML output alone, so no TeX annotation meets Markdown.
            if (inHeading) return typeset(tex, false, onError, 'html');
            pieces.push(typeset(tex, display, onError));
            // Display math stands alone in its paragraph; surrounding blank lines keep it there.
            return display ? `\n\n${PLACEHOLDER(pieces.length - 1)}\n\n` : PLACEHOLDER(pieces.length - 1);
          }),
    )
    .join('\n');
  return { text, pieces };
}

/**
 * Puts the typeset math back into rendered HTML.
 * @param {string} html
 * @param {string[]} pieces
 */
export function restoreMath(html, pieces) {
  return html
    .replace(new RegExp(`<p>${PLACEHOLDER_RE.source}</p>`, 'g'), (_m, i) => pieces[Number(i)])
    .replace(PLACEHOLDER_RE, (_m, i) => pieces[Number(i)]);
}

/**
 * The plugin's entry point (TypeDoc calls it with the application).
 * @param {import('typedoc').Application} app
 */
export function load(app) {
  /** @type {WeakMap<object, string[]>} */
  const pending = new WeakMap();
  app.renderer.on(
    MarkdownEvent.PARSE,
    (event) => {
      const { text, pieces } = protectMath(event.parsedText, (m) => app.logger.warn(/** @type {any} */ (m)));
      if (pieces.length) pending.set(event, pieces);
      event.parsedText = text;
    },
    1000, // before TypeDoc's markdown-it listener (priority 0)
  );
  app.renderer.on(
    MarkdownEvent.PARSE,
    (event) => {
      const pieces = pending.get(event);
      if (pieces) event.parsedText = restoreMath(event.parsedText, pieces);
    },
    -1000, // after it
  );
  app.renderer.hooks.on('head.end', (context) =>
    JSX.createElement('link', { rel: 'stylesheet', href: context.relativeURL(`${ASSET_DIR}/katex.min.css`) }),
  );
  app.renderer.on(RendererEvent.END, (event) => {
    const target = join(event.outputDirectory, ASSET_DIR);
    mkdirSync(target, { recursive: true });
    cpSync(join(KATEX_DIST, 'katex.min.css'), join(target, 'katex.min.css'));
    cpSync(join(KATEX_DIST, 'fonts'), join(target, 'fonts'), { recursive: true });
  });
}
