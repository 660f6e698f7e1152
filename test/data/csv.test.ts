import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fc, test as fcTest } from '@fast-check/vitest';
import { type CsvData, firstCellAtLeast, formatCsv, largestCell, parseCsv, readCsv, writeCsv } from '../../src/data/csv.ts';

const dir = mkdtempSync(join(tmpdir(), 'unequal-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseCsv: well-formed input', () => {
  it('splits features from the label (last column), row-major', () => {
    const data = parseCsv('a,b,label\n1,2,0\n3.5,-4e-3,1\n');
    expect(data.header).toEqual(['a', 'b', 'label']);
    expect(Array.from(data.X)).toEqual([1, 2, 3.5, -0.004]);
    expect(Array.from(data.y)).toEqual([0, 1]);
    expect(data.n).toBe(2);
    expect(data.d).toBe(2);
  });

  it('gives the same result with CRLF, without a trailing newline, with several, and with a BOM', () => {
    const ref = parseCsv('a,b\n1,2\n3,4\n');
    for (const text of ['a,b\r\n1,2\r\n3,4\r\n', 'a,b\n1,2\n3,4', 'a,b\n1,2\n3,4\n\n\r\n', '\ufeffa,b\n1,2\n3,4\n']) {
      expect(parseCsv(text)).toEqual(ref);
    }
  });

  it('trims spaces around cells and reads quoted header names', () => {
    const data = parseCsv('"x, first","say ""hi""", y \n 1 , 2 ,3\n');
    expect(data.header).toEqual(['x, first', 'say "hi"', 'y']);
    expect(Array.from(data.X)).toEqual([1, 2]);
    expect(Array.from(data.y)).toEqual([3]);
  });
});

describe('parseCsv: every error names the source, line and column', () => {
  const err = (text: string) => () => parseCsv(text, { source: 'train.csv' });

  it('empty input', () => {
    expect(err('')).toThrow('train.csv: the file is empty');
    expect(err('\n\r\n  \n')).toThrow('train.csv: the file is empty');
  });

  it('header without data rows', () => {
    expect(err('a,b\n')).toThrow('train.csv: the file has a header but no data rows');
  });

  it('header with a single column (no feature)', () => {
    expect(err('label\n1\n')).toThrow('train.csv:1: the header has 1 column');
  });

  it('non-numeric cell', () => {
    expect(err('a,b,c\n1,2,3\n4,five,6\n')).toThrow('train.csv:3: column 2 ("b"): "five" is not a number');
  });

  it('empty cell (which Number() would silently read as 0)', () => {
    expect(err('a,b\n1,\n')).toThrow('train.csv:2: column 2 ("b"): empty cell');
    expect(err('a,b\n ,1\n')).toThrow('train.csv:2: column 1 ("a"): empty cell');
  });

  it('NaN, Infinity, hex and overflowing literals', () => {
    expect(err('a,b\nNaN,1\n')).toThrow('train.csv:2: column 1 ("a"): "NaN" is not a number');
    expect(err('a,b\n1,Infinity\n')).toThrow('train.csv:2: column 2 ("b"): "Infinity" is not a number');
    expect(err('a,b\n0x10,1\n')).toThrow('train.csv:2: column 1 ("a"): "0x10" is not a number');
    expect(err('a,b\n1e999,1\n')).toThrow('train.csv:2: column 1 ("a"): 1e999 overflows a float64');
  });

  it('ragged rows: too few and too many cells', () => {
    expect(err('a,b,c\n1,2,3\n1,2\n')).toThrow('train.csv:3: row has 2 cells, expected 3');
    expect(err('a,b,c\n1,2,3,4\n')).toThrow('train.csv:2: row has 4 cells, expected 3');
    expect(err('a,b\n1,2,\n')).toThrow('train.csv:2: row has 3 cells, expected 2');
  });

  it('blank line inside the data, with CRLF line numbers still right', () => {
    expect(err('a,b\r\n1,2\r\n\r\n3,4\r\n')).toThrow('train.csv:3: blank line inside the data');
  });

  it('unterminated or malformed quotes', () => {
    expect(err('"a,b\n1,2\n')).toThrow('train.csv:1: unterminated quoted field');
    expect(err('"a"x,b\n1,2\n')).toThrow('train.csv:1: unexpected character "x" after a closing quote');
  });

  it('defaults the source name to <string>', () => {
    expect(() => parseCsv('a,b\n1,x\n')).toThrow('<string>:2: column 2 ("b")');
  });
});

describe('readCsv / writeCsv', () => {
  it('round-trips a file exactly, including awkward doubles and header names', () => {
    const data: CsvData = {
      header: ['plain', 'with,comma', 'with "quote"', ' padded ', 'label'],
      X: new Float64Array([0.1 + 0.2, -1e-300, 5e-324, 1.7976931348623157e308, -0, 1 / 3, 123456789, -2.5]),
      y: new Float64Array([1, -7.25]),
      n: 2,
      d: 4,
    };
    const path = join(dir, 'round.csv');
    writeCsv(path, data);
    const back = readCsv(path);
    expect(back.header).toEqual(data.header);
    expect(back.n).toBe(2);
    expect(back.d).toBe(4);
    // -0 is written as "0": CSV has no negative zero, and the value is equal.
    expect(Array.from(back.X)).toEqual(Array.from(data.X).map((v) => (Object.is(v, -0) ? 0 : v)));
    expect(Array.from(back.y)).toEqual([1, -7.25]);
  });

  it('writes a header line, one line per row and a trailing newline', () => {
    const path = join(dir, 'small.csv');
    writeCsv(path, { header: ['x', 'y'], X: new Float64Array([0.5, 2]), y: new Float64Array([1, 0]), n: 2, d: 1 });
    expect(readFileSync(path, 'utf8')).toBe('x,y\n0.5,1\n2,0\n');
  });

  it('names the path when a file is missing or malformed', () => {
    const missing = join(dir, 'nope.csv');
    expect(() => readCsv(missing)).toThrow(`${missing}: cannot read the file`);
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'a,b\n1,2\n3\n');
    expect(() => readCsv(bad)).toThrow(`${bad}:3: row has 1 cell, expected 2`);
  });

  it('refuses to format inconsistent shapes or non-finite values', () => {
    const ok = { header: ['x', 'y'], X: new Float64Array([1]), y: new Float64Array([0]), n: 1, d: 1 };
    expect(() => formatCsv({ ...ok, header: ['x'] })).toThrow('header has 1 names, expected d + 1 = 2');
    expect(() => formatCsv({ ...ok, X: new Float64Array(2) })).toThrow('X has 2 entries, expected n·d = 1');
    expect(() => formatCsv({ ...ok, y: new Float64Array(2) })).toThrow('y has 2 entries, expected n = 1');
    expect(() => formatCsv({ ...ok, X: new Float64Array([Number.NaN]) })).toThrow('X[0, 0] is NaN');
    expect(() => formatCsv({ ...ok, y: new Float64Array([Infinity]) })).toThrow('y[0] is Infinity');
  });

  fcTest.prop(
    [
      fc.integer({ min: 1, max: 6 }).chain((d) =>
        fc.record({
          d: fc.constant(d),
          rows: fc.array(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: d + 1, maxLength: d + 1 }), {
            minLength: 1,
            maxLength: 8,
          }),
        }),
      ),
    ],
    { numRuns: 200 },
  )('formatCsv → parseCsv reproduces every finite double', ({ d, rows }) => {
    const n = rows.length;
    const X = new Float64Array(n * d);
    const y = new Float64Array(n);
    rows.forEach((r, i) => {
      r.slice(0, d).forEach((v, j) => (X[i * d + j] = v));
      y[i] = r[d]!;
    });
    const header = [...Array.from({ length: d }, (_, j) => `f${j}`), 'label'];
    const back = parseCsv(formatCsv({ header, X, y, n, d }));
    const plus0 = (a: Float64Array) => Array.from(a, (v) => (Object.is(v, -0) ? 0 : v));
    expect(plus0(back.X)).toEqual(plus0(X));
    expect(plus0(back.y)).toEqual(plus0(y));
  });
});

describe('locating cells: what overflowed, and values too large to use', () => {
  const data = parseCsv('a,b,label\n1,-2,0\n3,1e200,1\n-5e300,0,1\n', { source: 'x.csv' });

  it('largestCell finds the largest magnitude (labels included), over all rows or the given ones', () => {
    expect(largestCell(data)).toEqual({ row: 2, line: 4, column: 0, name: 'a', value: -5e300 });
    expect(largestCell(data, [0])).toEqual({ row: 0, line: 2, column: 1, name: 'b', value: -2 });
    expect(largestCell(parseCsv('a,y\n0,7\n'))).toEqual({ row: 0, line: 2, column: 1, name: 'y', value: 7 });
  });

  it('firstCellAtLeast finds the first cell at or above a magnitude, row by row, or null', () => {
    expect(firstCellAtLeast(data, 1e150)).toEqual({ row: 1, line: 3, column: 1, name: 'b', value: 1e200 });
    expect(firstCellAtLeast(data, 1e301)).toBeNull();
    expect(firstCellAtLeast(data, 5e300)?.value).toBe(-5e300);
  });
});
