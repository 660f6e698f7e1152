/**
 * The flag parser every entry point shares: strict parsing, and numbers read with the CSV reader's
 * grammar, so a value means the same on the command line as in a data file.
 */
import { describe, expect, it } from 'vitest';
import { parseFlags, UsageError } from '../../src/apps/cli/flags.ts';
import { parseCsv } from '../../src/data/csv.ts';

const spec = { x: { type: 'string' }, on: { type: 'boolean' } } as const;
const flags = (...argv: string[]) => parseFlags('demo', argv, spec);

describe('parseFlags', () => {
  it('accepts and refuses exactly the numbers the CSV reader does', () => {
    for (const text of ['1', '-0.5', '+2.', '.25', '1e1', '1E-3', '0x1', '0b1', 'NaN', 'Infinity', '', ' 1', '1_0', '1e999']) {
      let csv: number | string;
      try {
        csv = parseCsv(`a,b\n"${text}",0\n`).X[0]!;
      } catch {
        csv = 'refused';
      }
      let flag: number | string;
      try {
        flag = flags(`--x=${text}`).number('x');
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        flag = 'refused';
      }
      expect(flag, `'${text}'`).toBe(csv);
    }
  });

  it('checks ranges and integers, naming the flag and the value', () => {
    expect(flags('--x', '0.5').number('x', { min: 0, max: 1 })).toBe(0.5);
    expect(flags('--x', '1.9').number('x', { min: 0, below: 2 })).toBe(1.9);
    expect(() => flags('--x', '2').number('x', { min: 0, below: 2 })).toThrow("--x: '2' must be a number ≥ 0 and < 2");
    expect(() => flags('--x', '0').number('x', { above: 0 })).toThrow("--x: '0' must be a number > 0");
    expect(() => flags('--x', '2').number('x', { min: 0, max: 1 })).toThrow("--x: '2' must be a number ≥ 0 and ≤ 1");
    expect(flags('--x', '1e1').integer('x', { min: 0 })).toBe(10);
    expect(() => flags('--x', '1.5').integer('x', { min: 0, max: 9 })).toThrow("--x: '1.5' must be an integer in 0..9");
    expect(flags().integer('x', { default: 3 })).toBe(3);
    expect(flags().optionalNumber('x')).toBeUndefined();
    expect(() => flags().number('x')).toThrow('--x is required (see demo --help)');
    expect(flags('--x', '3,1').integerList('x', { min: 0 })).toEqual([3, 1]);
    expect(() => flags('--x', '3,-1').integerList('x', { min: 0 })).toThrow("--x: '-1' must be an integer ≥ 0");
  });

  it('checks choices', () => {
    expect(flags('--x', 'b').choice('x', ['a', 'b'])).toBe('b');
    expect(flags().choice('x', ['a', 'b'], 'a')).toBe('a');
    expect(() => flags('--x', 'c').choice('x', ['a', 'b'])).toThrow("--x: 'c' is not one of a, b");
    expect(() => flags().choice('x', ['a', 'b'])).toThrow('--x is required: one of a, b');
    expect(flags('--x', 'a, b').choiceList('x', ['a', 'b'])).toEqual(['a', 'b']);
    expect(() => flags('--x', 'a,z').choiceList('x', ['a', 'b'])).toThrow("--x: unknown 'z'; choose from a, b");
  });

  it('refuses unknown, repeated and malformed flags and stray words', () => {
    expect(() => flags('--y', '1')).toThrow(/Unknown option '--y'.*\(see demo --help\)/);
    expect(() => flags('--x', '1', '--x', '2')).toThrow('--x is given more than once');
    expect(() => flags('--on=yes')).toThrow(UsageError);
    expect(() => flags('--x')).toThrow(UsageError);
    expect(() => flags('word')).toThrow(UsageError);
    expect(parseFlags('demo', ['a', '--on', 'b'], spec, { positionals: true }).positionals).toEqual(['a', 'b']);
    expect(flags('--on').boolean('on')).toBe(true);
  });
});
