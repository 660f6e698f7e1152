/**
 * The apps' one SVG module: small, dependency-free charts for the `npm start` report, the
 * experiment scripts and `unequal reweight --svg`. A scatter plot with the identity line, a line
 * chart (logarithmic or categorical axes, error bars), a grouped bar chart, overlaid histograms and
 * a digit image. Each returns one self-contained `<svg>` string (inline styles only, no scripts or
 * links), so a report is a single HTML file and a figure a single file.
 *
 * @module
 */

/**
 * Escapes text for HTML and SVG content and attribute values.
 *
 * @example
 * ```ts
 * escapeXml('a < b & "c"'); // 'a &lt; b &amp; &quot;c&quot;'
 * ```
 */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A compact number for an axis label: up to 3 significant digits, exponent form when tiny or huge.
 *
 * @example
 * ```ts
 * formatTick(0.000012); // '1.2e-5'
 * formatTick(0.25);     // '0.25'
 * ```
 */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) {
    const [m, e] = v.toExponential(1).split('e');
    return `${m!.replace(/\.0$/, '')}e${Number(e)}`;
  }
  return String(Number(v.toPrecision(3)));
}

/**
 * About `count` evenly spaced "round" values (1, 2 or 5 times a power of ten apart) covering
 * [lo, hi].
 *
 * @example
 * ```ts
 * niceTicks(0, 1); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 * ```
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  // Integer multiples of the step, rounded, so that 3 × 0.2 prints as 0.6.
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)) + 0);
  return ticks;
}

/** Plot geometry shared by the charts. */
interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}
const FRAME: Frame = { width: 520, height: 380, left: 70, right: 20, top: 34, bottom: 56 };

interface Axis {
  lo: number;
  hi: number;
  log: boolean;
  /** Maps a data value to a pixel coordinate. */
  map(v: number): number;
  ticks: number[];
  /** The label of a tick (default {@link formatTick}). */
  format?: (v: number) => string;
}

/** The words around every chart: the title, an optional second line under it, and the axis labels. */
export interface ChartLabels {
  title: string;
  /** A smaller second line under the title (the setting, say). */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
}

/** The frame with room for a subtitle when there is one. */
function withSubtitle(f: Frame, subtitle: string | undefined): Frame {
  return subtitle ? { ...f, top: f.top + 16, height: f.height + 16 } : f;
}

function makeAxis(values: number[], from: number, to: number, log: boolean, padFraction = 0.05, includeZero = false): Axis {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (includeZero && !log) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (log) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const pad = (hi - lo) * padFraction;
  if (!(includeZero && lo === 0)) lo -= pad;
  hi += pad;
  const map = (v: number) => {
    const t = ((log ? Math.log10(v) : v) - lo) / (hi - lo);
    return from + t * (to - from);
  };
  const ticks = log
    ? Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, i) => 10 ** (Math.ceil(lo) + i))
    : niceTicks(lo, hi);
  return { lo, hi, log, map, ticks };
}

function axesSvg(f: Frame, x: Axis, y: Axis, labels: ChartLabels): string {
  const { title, subtitle, xLabel, yLabel } = labels;
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  const y1 = f.top;
  const parts: string[] = [];
  parts.push(`<rect x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" fill="#fff" stroke="#999"/>`);
  const skipEvery = (n: number) => Math.max(1, Math.ceil(n / 8));
  x.ticks.forEach((t, i) => {
    const px = x.map(t);
    if (px < x0 - 0.5 || px > x1 + 0.5) return;
    parts.push(`<line x1="${px.toFixed(1)}" y1="${y1}" x2="${px.toFixed(1)}" y2="${y0}" stroke="#eee"/>`);
    if (i % skipEvery(x.ticks.length) === 0) {
      parts.push(`<text x="${px.toFixed(1)}" y="${y0 + 16}" text-anchor="middle" font-size="11">${escapeXml((x.format ?? formatTick)(t))}</text>`);
    }
  });
  y.ticks.forEach((t, i) => {
    const py = y.map(t);
    if (py > y0 + 0.5 || py < y1 - 0.5) return;
    parts.push(`<line x1="${x0}" y1="${py.toFixed(1)}" x2="${x1}" y2="${py.toFixed(1)}" stroke="#eee"/>`);
    if (i % skipEvery(y.ticks.length) === 0) {
      parts.push(`<text x="${x0 - 6}" y="${(py + 4).toFixed(1)}" text-anchor="end" font-size="11">${escapeXml((y.format ?? formatTick)(t))}</text>`);
    }
  });
  parts.push(`<text x="${(x0 + x1) / 2}" y="${f.height - 14}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`);
  parts.push(
    `<text transform="translate(16 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yLabel)}</text>`,
  );
  parts.push(`<text x="${f.width / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
  if (subtitle) parts.push(`<text x="${f.width / 2}" y="37" text-anchor="middle" font-size="11" fill="#555">${escapeXml(subtitle)}</text>`);
  return parts.join('');
}

/** One entry of a legend: a line (dashed or not) or a filled square, and the name. */
interface LegendItem {
  name: string;
  color: string;
  swatch: 'line' | 'square';
  dashed?: boolean;
  /** Fill opacity of a square swatch (default 1). */
  opacity?: number;
}

/** The legend in the right margin of `f`, one item per 18 px from the top of the plot. */
function legendSvg(f: Frame, items: LegendItem[]): string {
  const lx = f.width - f.right + 12;
  return items
    .map((item, k) => {
      const ly = f.top + 14 + 18 * k;
      const swatch =
        item.swatch === 'line'
          ? `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 18}" y2="${ly - 4}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="5 4"' : ''}/>`
          : `<rect x="${lx}" y="${ly - 10}" width="14" height="10" fill="${item.color}"${item.opacity === undefined ? '' : ` fill-opacity="${item.opacity}"`}/>`;
      return `${swatch}<text x="${lx + (item.swatch === 'line' ? 24 : 20)}" y="${ly}" font-size="11">${escapeXml(item.name)}</text>`;
    })
    .join('');
}

function svgOpen(f: Frame, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeXml(label)}" font-family="system-ui, sans-serif">`;
}

/** Options for {@link scatterPlot}. */
export interface ScatterOptions extends ChartLabels {
  /** Draw the line y = x (for "predicted vs actual"). */
  identity?: boolean;
}

/**
 * A scatter plot of (x[i], y[i]), optionally with the identity line; non-finite points are left out.
 *
 * @example
 * ```ts
 * scatterPlot([0.1, 0.2], [0.12, 0.19], { title: 'Predicted vs actual', xLabel: 'predicted', yLabel: 'actual', identity: true });
 * ```
 */
export function scatterPlot(xs: ArrayLike<number>, ys: ArrayLike<number>, opts: ScatterOptions): string {
  const f = withSubtitle(FRAME, opts.subtitle);
  const xv = Array.from(xs);
  const yv = Array.from(ys);
  if (xv.length !== yv.length) throw new Error(`scatterPlot: ${xv.length} x values but ${yv.length} y values`);
  // With an identity line both axes share one range, so y = x is the diagonal.
  const both = [...xv, ...yv];
  const x = makeAxis(opts.identity ? both : xv, f.left, f.width - f.right, false);
  const y = makeAxis(opts.identity ? both : yv, f.height - f.bottom, f.top, false);
  const parts = [svgOpen(f, opts.title), axesSvg(f, x, y, opts)];
  if (opts.identity) {
    const lo = Math.max(x.lo, y.lo);
    const hi = Math.min(x.hi, y.hi);
    parts.push(
      `<line x1="${x.map(lo).toFixed(1)}" y1="${y.map(lo).toFixed(1)}" x2="${x.map(hi).toFixed(1)}" y2="${y.map(hi).toFixed(1)}" stroke="#c33" stroke-dasharray="5 4"/>`,
    );
  }
  for (let i = 0; i < xv.length; i++) {
    if (!Number.isFinite(xv[i]!) || !Number.isFinite(yv[i]!)) continue;
    parts.push(`<circle cx="${x.map(xv[i]!).toFixed(1)}" cy="${y.map(yv[i]!).toFixed(1)}" r="3" fill="#2a6fb0" fill-opacity="0.65"/>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

/** One series of a {@link lineChart}. */
export interface Series {
  name: string;
  x: number[];
  y: number[];
  /** Error half-widths: a bar from y − e to y + e at each point. */
  errors?: number[];
  color?: string;
  /** Line width in pixels (default 2). */
  width?: number;
  /** Dashed line, no markers. */
  dashed?: boolean;
}

/** Options for {@link lineChart}. */
export interface LineOptions extends ChartLabels {
  logX?: boolean;
  logY?: boolean;
  /** Categorical x axis: ticks at these values with these labels instead of numbers. */
  xTicks?: { value: number; label: string }[];
  /** A fixed y range [lo, hi] (linear axis); values beyond it are drawn at its edge. */
  yRange?: [number, number];
}

const PALETTE = ['#2a6fb0', '#d0632b', '#3a9a4a', '#8e44ad', '#c0392b', '#7f8c8d', '#b7950b'];

/**
 * A line chart of several series, with a legend; log axes drop non-positive values.
 *
 * @example
 * ```ts
 * lineChart([{ name: 'CG', x: [1, 2, 3], y: [1, 1e-3, 1e-7] }], { title: 'CG', xLabel: 'iteration', yLabel: 'residual', logY: true });
 * ```
 */
export function lineChart(series: Series[], opts: LineOptions): string {
  const f = withSubtitle({ ...FRAME, right: 150 }, opts.subtitle);
  const x = makeAxis(series.flatMap((s) => s.x), f.left, f.width - f.right, !!opts.logX, 0.03);
  if (opts.xTicks) {
    const labels = new Map(opts.xTicks.map((t) => [t.value, t.label]));
    x.ticks = opts.xTicks.map((t) => t.value);
    x.format = (v) => labels.get(v) ?? formatTick(v);
  }
  const range = opts.yRange;
  const y = range ? fixedAxis(range, f.height - f.bottom, f.top) : makeAxis(series.flatMap((s) => s.y), f.height - f.bottom, f.top, !!opts.logY, 0.05);
  const yAt = (v: number) => y.map(range ? Math.min(Math.max(v, range[0]), range[1]) : v);
  const parts = [svgOpen(f, opts.title), axesSvg(f, x, y, opts)];
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    const pts = s.x
      .map((xv, i) => ({ a: xv, b: s.y[i]!, e: s.errors?.[i] }))
      .filter(({ a, b }) => Number.isFinite(a) && Number.isFinite(b) && (!opts.logX || a > 0) && (!opts.logY || b > 0));
    if (pts.length) {
      const d = pts.map(({ a, b }, i) => `${i ? 'L' : 'M'}${x.map(a).toFixed(1)} ${yAt(b).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
      for (const { a, b, e } of pts) {
        const px = x.map(a).toFixed(1);
        if (e !== undefined && Number.isFinite(e) && e > 0) {
          parts.push(`<line x1="${px}" y1="${yAt(b - e).toFixed(1)}" x2="${px}" y2="${yAt(b + e).toFixed(1)}" stroke="${color}"/>`);
        }
        if (!s.dashed) parts.push(`<circle cx="${px}" cy="${yAt(b).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
  });
  parts.push(legendSvg(f, series.map((s, k) => ({ name: s.name, color: s.color ?? PALETTE[k % PALETTE.length]!, swatch: 'line', dashed: s.dashed }))));
  parts.push('</svg>');
  return parts.join('');
}

/** A linear axis over exactly [lo, hi], no padding. */
function fixedAxis([lo, hi]: [number, number], from: number, to: number): Axis {
  return { lo, hi, log: false, map: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks: niceTicks(lo, hi) };
}

/** Options for {@link barChart}. */
export interface BarOptions {
  title: string;
  yLabel: string;
  /** Names of the bars within each group (the legend). */
  seriesNames: string[];
}

/**
 * Grouped bars: `values[g][s]` is bar `s` of group `g`, with an optional error half-width in
 * `errors[g][s]`. The value axis starts at zero.
 *
 * @example
 * ```ts
 * barChart(['uniform', 'l2rw'], [[50], [20]], { title: 'Test error', yLabel: '%', seriesNames: ['mean'] }, [[0], [9]]);
 * ```
 */
export function barChart(groups: string[], values: number[][], opts: BarOptions, errors?: number[][]): string {
  const legend = opts.seriesNames.length > 1;
  // Labels wider than their group (about 6.5 px per character at 11 px) are drawn slanted.
  const longest = Math.max(0, ...groups.map((g) => g.length));
  const slant = longest * 6.5 > (FRAME.width - FRAME.left - (legend ? 150 : FRAME.right)) / Math.max(1, groups.length);
  const f = { ...FRAME, right: legend ? 150 : FRAME.right, bottom: slant ? 24 + longest * 4.2 : FRAME.bottom, height: FRAME.height + (slant ? longest * 4.2 - 32 : 0) };
  const flat = values.flatMap((row, g) => row.map((v, s) => v + (errors?.[g]?.[s] ?? 0)));
  const y = makeAxis([0, ...flat], f.height - f.bottom, f.top, false, 0.05, true);
  const x0 = f.left;
  const x1 = f.width - f.right;
  const parts = [svgOpen(f, opts.title)];
  const xAxis: Axis = { lo: 0, hi: 1, log: false, map: (v) => v, ticks: [] };
  parts.push(axesSvg(f, xAxis, y, { title: opts.title, xLabel: '', yLabel: opts.yLabel }));
  const groupWidth = (x1 - x0) / Math.max(1, groups.length);
  const nSeries = Math.max(1, opts.seriesNames.length);
  const barWidth = (groupWidth * 0.8) / nSeries;
  groups.forEach((g, gi) => {
    const gx = x0 + gi * groupWidth + groupWidth * 0.1;
    values[gi]!.forEach((v, s) => {
      if (!Number.isFinite(v)) return;
      const bx = gx + s * barWidth;
      const top = y.map(Math.max(v, 0));
      const base = y.map(0);
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${Math.max(0, base - top).toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}"><title>${escapeXml(`${g} · ${opts.seriesNames[s] ?? ''}: ${formatTick(v)}`)}</title></rect>`,
      );
      const e = errors?.[gi]?.[s];
      if (e !== undefined && Number.isFinite(e) && e > 0) {
        const cx = bx + (barWidth - 2) / 2;
        parts.push(`<line x1="${cx.toFixed(1)}" y1="${y.map(v - e).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${y.map(v + e).toFixed(1)}" stroke="#222"/>`);
      }
    });
    const lx = gx + groupWidth * 0.4;
    const ly = f.height - f.bottom + 16;
    parts.push(
      slant
        ? `<text transform="translate(${lx.toFixed(1)} ${ly - 4}) rotate(-40)" text-anchor="end" font-size="11">${escapeXml(g)}</text>`
        : `<text x="${lx.toFixed(1)}" y="${ly}" text-anchor="middle" font-size="11">${escapeXml(g)}</text>`,
    );
  });
  if (legend) parts.push(legendSvg(f, opts.seriesNames.map((name, s) => ({ name, color: PALETTE[s % PALETTE.length]!, swatch: 'square' }))));
  parts.push('</svg>');
  return parts.join('');
}

/** One histogram of a {@link histogramChart}: `counts[k]` values fell in [edges[k], edges[k + 1]). */
export interface HistogramSeries {
  name: string;
  edges: number[];
  counts: number[];
  color?: string;
}

/**
 * Histograms drawn over one another, half transparent, on a shared numeric x axis, with a legend
 * (clean against flipped samples' weights, say). The count axis starts at zero.
 *
 * @example
 * ```ts
 * histogramChart(
 *   [{ name: 'clean', edges: [0, 1, 2], counts: [1, 3] }, { name: 'flipped', edges: [0, 1, 2], counts: [3, 1] }],
 *   { title: 'weights', xLabel: 'weight', yLabel: 'samples' },
 * );
 * ```
 */
export function histogramChart(series: HistogramSeries[], opts: ChartLabels): string {
  const f = withSubtitle({ ...FRAME, right: 150 }, opts.subtitle);
  const x = makeAxis(series.flatMap((h) => h.edges), f.left, f.width - f.right, false, 0);
  const y = makeAxis([0, ...series.flatMap((h) => h.counts)], f.height - f.bottom, f.top, false, 0.05, true);
  const parts = [svgOpen(f, opts.title), axesSvg(f, x, y, opts)];
  const colors = series.map((h, k) => h.color ?? PALETTE[k % PALETTE.length]!);
  series.forEach((h, k) => {
    h.counts.forEach((c, i) => {
      const x0 = x.map(h.edges[i]!);
      const x1 = x.map(h.edges[i + 1]!);
      const top = y.map(c);
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(0, x1 - x0 - 1).toFixed(1)}" height="${Math.max(0, y.map(0) - top).toFixed(1)}" fill="${colors[k]}" fill-opacity="0.55"/>`,
      );
    });
  });
  parts.push(legendSvg(f, series.map((h, k) => ({ name: h.name, color: colors[k]!, swatch: 'square', opacity: 0.55 }))));
  parts.push('</svg>');
  return parts.join('');
}

/**
 * A 28 × 28 grey-scale digit (intensities in [0, 1], row-major) as a small SVG, dark ink on white,
 * with a caption of up to two lines underneath. Only inked pixels are drawn.
 *
 * @example
 * ```ts
 * digitImage(loadMnist().images.subarray(0, 784), ['a "5"', 'training row 0']);
 * ```
 */
export function digitImage(pixels: ArrayLike<number>, caption: string[], scale = 3): string {
  const side = Math.round(Math.sqrt(pixels.length));
  if (side * side !== pixels.length) throw new Error(`digitImage: ${pixels.length} pixels do not form a square`);
  const size = side * scale;
  const height = size + 14 * caption.length + 4;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size + 8} ${height}" width="${size + 8}" height="${height}" font-family="system-ui, sans-serif">`,
    `<rect x="3.5" y="0.5" width="${size + 1}" height="${size + 1}" fill="#fff" stroke="#bbb"/>`,
  ];
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const v = pixels[r * side + c]!;
      if (v <= 0.02) continue;
      const shade = Math.round(255 * (1 - Math.min(1, v)));
      parts.push(`<rect x="${4 + c * scale}" y="${1 + r * scale}" width="${scale}" height="${scale}" fill="rgb(${shade},${shade},${shade})"/>`);
    }
  }
  caption.forEach((line, i) => {
    parts.push(`<text x="${(size + 8) / 2}" y="${size + 14 + 14 * i}" text-anchor="middle" font-size="10">${escapeXml(line)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
