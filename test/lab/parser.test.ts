/**
 * The lab's expression parser (lab/src/parser.ts): precedence and associativity, unary minus,
 * errors that name their position, and rejection of everything outside the grammar (the page
 * never evaluates the input as JavaScript, so nothing but the grammar may get through).
 */
import { describe, expect, it } from 'vitest';
import { ParseError, parse, show, toFunction } from '../../lab/src/parser.ts';
import { cos, exp, grad, mul, sin, tensor } from '../../src/index.ts';

const shown = (s: string) => show(parse(s));
const value = (s: string, x: number) => toFunction(parse(s))(tensor(x)).item();
function errorOf(s: string): ParseError {
  try {
    parse(s);
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error(`'${s}' parsed, but should not have`);
}

describe('lab expression parser: precedence', () => {
  it('* and / bind tighter than + and -, and both associate to the left', () => {
    expect(shown('1 + 2 * x')).toBe('(1 + (2 * x))');
    expect(shown('x - 1 - 2')).toBe('((x - 1) - 2)');
    expect(shown('x / 2 / 4')).toBe('((x / 2) / 4)');
    expect(shown('(1 + 2) * x')).toBe('((1 + 2) * x)');
  });
  it('^ (and its spelling **) binds tightest and associates to the right', () => {
    expect(shown('2 ^ 3 ^ x')).toBe('(2 ^ (3 ^ x))');
    expect(shown('2 * x ** 2')).toBe('(2 * (x ^ 2))');
    // 2^3^2 = 2^9 = 512, not (2^3)^2 = 64.
    expect(value('2^3^2 + 0*x', 1)).toBe(512);
  });
  it('unary minus: -x^2 is -(x^2) and 2^-1 is 2^(-1), as in mathematics', () => {
    expect(shown('-x^2')).toBe('(-(x ^ 2))');
    expect(value('-x^2', 3)).toBe(-9);
    expect(shown('2^-x')).toBe('(2 ^ (-x))');
    expect(value('2^-1 + 0*x', 0)).toBe(0.5);
    expect(shown('--x')).toBe('(-(-x))');
    expect(shown('x * -x')).toBe('(x * (-x))');
    expect(shown('+x')).toBe('x');
  });
  it('numbers, constants and functions', () => {
    expect(shown('1.5e-3 * x')).toBe('(0.0015 * x)');
    expect(shown('.5 + x')).toBe('(0.5 + x)');
    expect(value('pi + 0*x', 0)).toBe(Math.PI);
    expect(value('e^x', 1)).toBeCloseTo(Math.E, 15);
    expect(shown('sin(cos(x))')).toBe('sin(cos(x))');
  });
});

describe('lab expression parser: the function it builds', () => {
  it('is the library function it names, and nested grad differentiates it', () => {
    // sin(x)·exp(-x/2) written with the library's ops directly, compared at a few points.
    const f = toFunction(parse('sin(x) * exp(-x / 2)'));
    const direct = (x: ReturnType<typeof tensor>) => mul(sin(x), exp(mul(x, -0.5)));
    for (const x0 of [-1.3, 0, 0.7, 2.9]) {
      expect(f(tensor(x0)).item()).toBe(direct(tensor(x0)).item());
      // Same ops in the same order, so the same float64 result: exact equality is the right check.
      expect(grad(grad(f))(tensor(x0)).item()).toBe(grad(grad(direct))(tensor(x0)).item());
    }
  });
  it('tan is sin/cos and a constant expression is a constant function', () => {
    const x = tensor(0.4);
    expect(value('tan(x)', 0.4)).toBe(sin(x).item() / cos(x).item());
    expect(grad(toFunction(parse('3 + sin(2)')))(x).item()).toBe(0);
    expect(toFunction(parse('3'))(tensor([1, 2])).toArray()).toEqual([3, 3]);
  });
});

describe('lab expression parser: errors name the position', () => {
  it.each([
    ['sin x', 4, "expected '(' after sin"],
    ['x +', 3, 'expected a number'],
    ['sin(x', 5, "expected ')'"],
    ['(x + 1', 6, "expected ')'"],
    ['2 x', 2, "unexpected 'x' after a complete expression"],
    ['x * * 2', 4, 'expected a number'],
    ['', 0, 'found the end of the input'],
    ['foo(x)', 0, "unknown name 'foo'"],
    ['y + 1', 0, "unknown name 'y'"],
  ])('%j fails at index %i: %s', (src, position, reason) => {
    const e = errorOf(src);
    expect(e.position).toBe(position);
    expect(e.message).toContain(reason);
    expect(e.message).toContain(`position ${position + 1}`); // the message counts from 1
  });
});

describe('lab expression parser: nothing outside the grammar gets through', () => {
  it.each([
    'x; alert(1)',
    'alert(1)',
    'eval("x")',
    'Function("return 1")()',
    'x.constructor',
    'constructor',
    '__proto__',
    'toString(x)',
    'hasOwnProperty(x)',
    'process.exit(1)',
    '[1, 2]',
    "'x'",
    '`x`',
    'x = 1',
    'x, 1',
    'x => x',
    'sin',
    'sin(x)(x)',
    'x!',
    '1 % x',
    'x & 1',
  ])('rejects %j', (src) => {
    expect(() => parse(src)).toThrow(ParseError);
  });
  it('bounds the nesting depth and the length instead of overflowing the stack', () => {
    expect(errorOf('('.repeat(5000) + 'x' + ')'.repeat(5000)).message).toMatch(/too deeply|longer than/);
    expect(errorOf('-'.repeat(300) + 'x').message).toContain('too deeply');
    expect(errorOf('x+'.repeat(300) + 'x').message).toContain('longer than 500');
  });
});

describe('the lab never evaluates text as code', () => {
  it('no eval, Function constructor or string timers in lab/src (gpu.js, bundled, compiles its own kernels; the lab adds none)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = new URL('../../lab/src/', import.meta.url).pathname;
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('parser.ts');
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      expect(src, f).not.toMatch(/\beval\s*\(|new\s+Function\b|\bFunction\s*\(|set(Timeout|Interval)\s*\(\s*['"`]/);
    }
  });
});
