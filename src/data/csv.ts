/**
 * Numeric CSV files: a header row, then one example per line, features first and the label last.
 *
 * This is the on-ramp for a user's own data (the `unequal` CLI reads it), so its errors must say
 * exactly where the file is wrong: the file, the 1-based line number, and the column (by header
 * name and 1-based index). Anything that is not a plain decimal number is rejected rather than
 * coerced: `Number("")` is 0 and `Number("0x1f")` is 31 in JavaScript, and silently training on
 * a blank cell read as zero is the kind of bug that survives for months.
 *
 * @module
 */

import { readFileSync, writeFileSync } from 'node:fs';

/** A dense numeric dataset: `X` is row-major `n × d`, `y` holds one label per row. */
export interface CsvData {
  /** Column names, `d` feature names followed by the label's name. */
  header: string[];
  /** Features, row-major: feature `j` of row `i` is `X[i * d + j]`. */
  X: Float64Array;
  /** Labels (the last column). */
  y: Float64Array;
  /** Number of rows (examples). */
  n: number;
  /** Number of feature columns (the label is not counted). */
  d: number;
}

/** Options for {@link parseCsv}. */
export interface ParseCsvOptions {
  /** Name used in error messages (a file path, usually). Defaults to `"<string>"`. */
  source?: string;
}

/**
 * A plain decimal number: optional sign, digits with an optional fraction, optional exponent.
 * Deliberately excludes `NaN`, `Infinity`, hex/binary literals and the empty string, all of which
 * `Number()` would accept.
 */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Reads `text` as a plain decimal number, the grammar of every CSV cell (and of the CLI's numeric
 * flags, so that a value means the same on the command line as in a data file): optional sign,
 * digits with an optional fraction, optional exponent, nothing around it. Returns NaN when `text`
 * is anything else (`0x1f`, `NaN`, `Infinity`, `''`, `' 1'`), and ±Infinity when it overflows a
 * float64 (`1e999`).
 *
 * @example
 * ```ts
 * parseDecimal('-1.5e-3'); // -0.0015
 * parseDecimal('0x1f');    // NaN, where Number('0x1f') is 31
 * parseDecimal('1e999');   // Infinity
 * ```
 */
export function parseDecimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

/**
 * Splits one CSV line into fields (RFC 4180 quoting: `"a,b"` is one field and `""` inside quotes
 * is a literal quote). Quoted fields may not span lines; numeric data never needs that, and
 * header names with newlines would be unprintable anyway.
 */
function splitLine(line: string, where: () => string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`${where()}: unterminated quoted field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          value += line[i++];
        }
      }
      if (i < line.length && line[i] !== ',') {
        throw new Error(`${where()}: unexpected character ${JSON.stringify(line[i])} after a closing quote`);
      }
      fields.push(value);
    } else {
      const end = line.indexOf(',', i);
      // Unquoted fields are trimmed; quoting is how a header name keeps its spaces.
      fields.push((end === -1 ? line.slice(i) : line.slice(i, end)).trim());
      i = end === -1 ? line.length : end;
    }
    if (i >= line.length) return fields;
    i++; // skip the comma; a trailing comma yields a final empty field, as in RFC 4180
    if (i === line.length) {
      fields.push('');
      return fields;
    }
  }
}

/**
 * Parses numeric CSV text with a header row; the last column is the label.
 *
 * Accepts `\n` and `\r\n` line endings, a UTF-8 byte-order mark and trailing blank lines. Throws an
 * `Error` naming the source, line and column for: an empty input, a header with fewer than two
 * columns, no data rows, a row with the wrong number of cells (including a blank line in the
 * middle), and any cell that is not a finite decimal number.
 *
 * @param text the CSV contents.
 * @param options `source` names the input in error messages.
 * @returns the header, the `n × d` feature matrix (row-major) and the labels.
 *
 * @example
 * ```ts
 * const data = parseCsv('x1,x2,label\n1,2,0\n3,4,1\n');
 * // data.header → ['x1', 'x2', 'label']
 * // data.X → Float64Array [1, 2, 3, 4], data.y → Float64Array [0, 1], data.n → 2, data.d → 2
 * parseCsv('a,b\n1,oops\n', { source: 'train.csv' });
 * // throws: train.csv:2: column 2 ("b"): "oops" is not a number
 * ```
 */
export function parseCsv(text: string, options: ParseCsvOptions = {}): CsvData {
  const source = options.source ?? '<string>';
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // BOM written by spreadsheet exports
  const lines = text.split(/\r?\n/);
  // Tolerate any number of trailing newlines / blank lines, but nothing blank before data ends.
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length === 0) throw new Error(`${source}: the file is empty (expected a header row)`);

  const header = splitLine(lines[0]!, () => `${source}:1`);
  if (header.length < 2) {
    throw new Error(
      `${source}:1: the header has ${header.length} column; need at least one feature and a label (last column)`,
    );
  }
  const n = lines.length - 1;
  if (n === 0) throw new Error(`${source}: the file has a header but no data rows`);
  const d = header.length - 1;
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);

  for (let r = 0; r < n; r++) {
    const lineNo = r + 2; // 1-based, and the header is line 1
    const line = lines[r + 1]!;
    const where = () => `${source}:${lineNo}`;
    if (line.trim() === '') {
      throw new Error(`${where()}: blank line inside the data (expected ${header.length} cells)`);
    }
    const cells = splitLine(line, where);
    if (cells.length !== header.length) {
      throw new Error(
        `${where()}: row has ${cells.length} cell${cells.length === 1 ? '' : 's'}, expected ${header.length} (as in the header)`,
      );
    }
    for (let c = 0; c < cells.length; c++) {
      const cell = cells[c]!;
      const v = parseDecimal(cell);
      if (Number.isNaN(v)) {
        const what = cell === '' ? 'empty cell' : `${JSON.stringify(cell)} is not a number`;
        throw new Error(`${where()}: column ${c + 1} (${JSON.stringify(header[c])}): ${what}`);
      }
      if (!Number.isFinite(v)) {
        // Only reachable by overflow, e.g. 1e999.
        throw new Error(`${where()}: column ${c + 1} (${JSON.stringify(header[c])}): ${cell} overflows a float64`);
      }
      if (c < d) X[r * d + c] = v;
      else y[r] = v;
    }
  }
  return { header, X, y, n, d };
}

/**
 * Reads and parses a numeric CSV file (see {@link parseCsv}); errors name the path.
 *
 * @param path the file to read (UTF-8).
 *
 * @example
 * ```ts
 * const { X, y, n, d } = readCsv('data/train.csv');
 * ```
 */
export function readCsv(path: string): CsvData {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: cannot read the file (${(e as Error).message})`);
  }
  return parseCsv(text, { source: path });
}

/** One cell of a {@link CsvData}: where it is and its value. */
export interface CsvCell {
  /** 0-based data row (the header is not a row). */
  row: number;
  /** 1-based line in the file (the header is line 1, so this is `row + 2`). */
  line: number;
  /** 0-based column; `d` is the label. */
  column: number;
  /** The column's header name. */
  name: string;
  /** The value. */
  value: number;
}

/**
 * The cell of largest magnitude (first on ties), over all rows or only `rows`: the likely input
 * when a computation on the data overflows.
 *
 * @example
 * ```ts
 * largestCell(parseCsv('a,y\n1,0\n-7,1\n')); // { row: 1, line: 3, column: 0, name: 'a', value: -7 }
 * ```
 */
export function largestCell(data: CsvData, rows?: readonly number[]): CsvCell | null {
  let best: CsvCell | null = null;
  for (const row of rows ?? Array.from({ length: data.n }, (_, i) => i)) {
    for (let column = 0; column <= data.d; column++) {
      const value = column < data.d ? data.X[row * data.d + column]! : data.y[row]!;
      if (!best || Math.abs(value) > Math.abs(best.value)) best = { row, line: row + 2, column, name: data.header[column] ?? `column ${column + 1}`, value };
    }
  }
  return best;
}

/**
 * The first cell (row by row) whose magnitude is at least `limit`, or null: for refusing values a
 * computation cannot hold, e.g. those whose squares overflow a float64 (|v| ≥ 1.34e154).
 *
 * @example
 * ```ts
 * firstCellAtLeast(parseCsv('a,y\n1,0\n1e200,1\n'), 1e150); // { row: 1, line: 3, column: 0, name: 'a', value: 1e200 }
 * ```
 */
export function firstCellAtLeast(data: CsvData, limit: number): CsvCell | null {
  for (let row = 0; row < data.n; row++) {
    for (let column = 0; column <= data.d; column++) {
      const value = column < data.d ? data.X[row * data.d + column]! : data.y[row]!;
      if (Math.abs(value) >= limit) return { row, line: row + 2, column, name: data.header[column] ?? `column ${column + 1}`, value };
    }
  }
  return null;
}

/** Quotes a header name only when CSV requires it. */
function quoteField(s: string): string {
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Formats a dataset as CSV text (header row, label last, `\n` line endings, trailing newline).
 *
 * Numbers are written with `String(v)`, the shortest decimal that reads back to the same double,
 * so `parseCsv(formatCsv(data))` reproduces `X` and `y` bit for bit.
 *
 * @param data the dataset; `header.length` must be `d + 1`, `X.length` `n·d`, `y.length` `n`.
 *
 * @example
 * ```ts
 * formatCsv({ header: ['x', 'y'], X: new Float64Array([0.5, 2]), y: new Float64Array([1, 0]), n: 2, d: 1 });
 * // → 'x,y\n0.5,1\n2,0\n'
 * ```
 */
export function formatCsv(data: CsvData): string {
  const { header, X, y, n, d } = data;
  if (header.length !== d + 1) throw new Error(`formatCsv: header has ${header.length} names, expected d + 1 = ${d + 1}`);
  if (X.length !== n * d) throw new Error(`formatCsv: X has ${X.length} entries, expected n·d = ${n * d}`);
  if (y.length !== n) throw new Error(`formatCsv: y has ${y.length} entries, expected n = ${n}`);
  const out: string[] = [header.map(quoteField).join(',')];
  const row: string[] = new Array(d + 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = X[i * d + j]!;
      if (!Number.isFinite(v)) throw new Error(`formatCsv: X[${i}, ${j}] is ${v}, which CSV readers cannot round-trip`);
      row[j] = String(v);
    }
    if (!Number.isFinite(y[i]!)) throw new Error(`formatCsv: y[${i}] is ${y[i]}`);
    row[d] = String(y[i]);
    out.push(row.join(','));
  }
  return out.join('\n') + '\n';
}

/**
 * Writes a dataset to a CSV file that {@link readCsv} reads back exactly.
 *
 * @param path the destination (overwritten).
 * @param data the dataset, as returned by {@link parseCsv}.
 *
 * @example
 * ```ts
 * writeCsv('/tmp/copy.csv', readCsv('data/train.csv')); // an exact copy, normalised to \n endings
 * ```
 */
export function writeCsv(path: string, data: CsvData): void {
  writeFileSync(path, formatCsv(data), 'utf8');
}
