/**
 * The lab's expression language: a small recursive-descent parser for functions of one variable
 * `x`, and the map from its syntax tree onto the library's ops. Nothing is ever evaluated as
 * JavaScript (no `eval`, no `Function`): the input is tokenised, parsed by the grammar below, and
 * anything outside it is an error that names its position.
 *
 * Grammar (lowest precedence first; `^` and `**` are the same operator):
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary (('^' | '**') unary)?        right-associative: 2^3^2 = 2^(3^2)
 *   primary := number | 'x' | 'pi' | 'e' | name '(' expr ')' | '(' expr ')'
 *
 * As in mathematics (and Python), `-x^2` is `-(x^2)` and `2^-1` is `2^(-1)`.
 *
 * @module
 */
import {
  type Tensor,
  abs,
  add,
  cos,
  div,
  erf,
  exp,
  log,
  log1p,
  mul,
  neg,
  pow,
  relu,
  sigmoid,
  sin,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
  tensor,
} from '../../src/index.ts';

/** A syntax tree node. */
export type Expr =
  | { kind: 'num'; value: number }
  | { kind: 'var' }
  | { kind: 'neg'; arg: Expr }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/' | '^'; left: Expr; right: Expr }
  | { kind: 'call'; name: FunctionName; arg: Expr };

/** A parse error: `position` is the 0-based index in the input where it went wrong. */
export class ParseError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(`at position ${position + 1}: ${reason}`);
    this.name = 'ParseError';
  }
}

/** What each function name means, as library ops (tan is sin/cos: the library has no tan primitive). */
const FUNCTIONS = {
  sin,
  cos,
  tan: (t: Tensor) => div(sin(t), cos(t)),
  exp,
  log,
  log1p,
  sqrt,
  tanh,
  abs,
  erf,
  sigmoid,
  softplus,
  relu,
  square,
} satisfies Record<string, (t: Tensor) => Tensor>;

/** The function names the grammar accepts. */
export type FunctionName = keyof typeof FUNCTIONS;
export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

type Token =
  | { type: 'num'; value: number; pos: number; text: string }
  | { type: 'name'; name: string; pos: number; text: string }
  | { type: 'op'; op: string; pos: number; text: string }
  | { type: 'end'; pos: number; text: string };

const MAX_LENGTH = 500;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      tokens.push({ type: 'num', value: Number(num[0]), pos: i, text: num[0] });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z_0-9]*/.exec(src.slice(i));
    if (name) {
      tokens.push({ type: 'name', name: name[0], pos: i, text: name[0] });
      i += name[0].length;
      continue;
    }
    if (src.startsWith('**', i)) {
      tokens.push({ type: 'op', op: '^', pos: i, text: '**' });
      i += 2;
      continue;
    }
    if ('+-*/^()'.includes(c)) {
      tokens.push({ type: 'op', op: c, pos: i, text: c });
      i++;
      continue;
    }
    throw new ParseError(i, `unexpected character '${c}'`);
  }
  tokens.push({ type: 'end', pos: src.length, text: 'end of input' });
  return tokens;
}

/**
 * Parses an expression in `x`. Throws {@link ParseError} naming the position of the first token
 * that does not fit the grammar.
 *
 * @example
 * ```ts
 * parse('sin(x) * x'); // { kind: 'bin', op: '*', left: { kind: 'call', name: 'sin', … }, right: { kind: 'var' } }
 * ```
 */
export function parse(src: string): Expr {
  if (typeof src !== 'string') throw new ParseError(0, 'the expression must be a string');
  if (src.length > MAX_LENGTH) throw new ParseError(MAX_LENGTH, `the expression is longer than ${MAX_LENGTH} characters`);
  const tokens = tokenize(src);
  let k = 0;
  const peek = () => tokens[k]!;
  const isOp = (op: string) => {
    const t = peek();
    return t.type === 'op' && t.op === op;
  };
  const expectOp = (op: string, what: string) => {
    if (!isOp(op)) throw new ParseError(peek().pos, `expected ${what}, found ${describe(peek())}`);
    k++;
  };
  // Nesting depth bound: a pathological input like 10,000 '(' must be an error, not a stack overflow.
  let depth = 0;
  const enter = () => {
    if (++depth > 100) throw new ParseError(peek().pos, 'expression nested too deeply (more than 100 levels)');
  };

  const expr = (): Expr => {
    enter();
    let left = term();
    while (isOp('+') || isOp('-')) {
      const op = (tokens[k++] as { op: '+' | '-' }).op;
      left = { kind: 'bin', op, left, right: term() };
    }
    depth--;
    return left;
  };
  const term = (): Expr => {
    let left = unary();
    while (isOp('*') || isOp('/')) {
      const op = (tokens[k++] as { op: '*' | '/' }).op;
      left = { kind: 'bin', op, left, right: unary() };
    }
    return left;
  };
  const unary = (): Expr => {
    if (isOp('-')) {
      k++;
      enter();
      const arg = unary();
      depth--;
      return { kind: 'neg', arg };
    }
    if (isOp('+')) {
      k++;
      enter();
      const arg = unary();
      depth--;
      return arg;
    }
    return power();
  };
  const power = (): Expr => {
    const base = primary();
    if (isOp('^')) {
      k++;
      enter();
      const exponent = unary();
      depth--;
      return { kind: 'bin', op: '^', left: base, right: exponent };
    }
    return base;
  };
  const primary = (): Expr => {
    const t = peek();
    if (t.type === 'num') {
      k++;
      if (!Number.isFinite(t.value)) throw new ParseError(t.pos, `the number ${t.text} is too large`);
      return { kind: 'num', value: t.value };
    }
    if (t.type === 'name') {
      k++;
      if (t.name === 'x') return { kind: 'var' };
      if (Object.hasOwn(CONSTANTS, t.name)) return { kind: 'num', value: CONSTANTS[t.name]! };
      if (Object.hasOwn(FUNCTIONS, t.name)) {
        expectOp('(', `'(' after ${t.name}`);
        const arg = expr();
        expectOp(')', `')' to close ${t.name}(`);
        return { kind: 'call', name: t.name as FunctionName, arg };
      }
      throw new ParseError(t.pos, `unknown name '${t.name}' (the variable is x; constants pi, e; functions ${FUNCTION_NAMES.join(', ')})`);
    }
    if (isOp('(')) {
      k++;
      const inner = expr();
      expectOp(')', "')'");
      return inner;
    }
    throw new ParseError(t.pos, `expected a number, x, a function or '(', found ${describe(t)}`);
  };

  const tree = expr();
  if (peek().type !== 'end') throw new ParseError(peek().pos, `unexpected ${describe(peek())} after a complete expression`);
  return tree;
}

function describe(t: Token): string {
  return t.type === 'end' ? 'the end of the input' : `'${t.text}'`;
}

/**
 * The function an expression denotes, built from the library's ops, so that every transformation
 * (grad, jvp, vmap, makeJaxpr) applies to it. Elementwise: `x` may have any shape.
 *
 * @example
 * ```ts
 * const f = toFunction(parse('sin(x) * x'));
 * grad(f)(tensor(0.7)).item(); // sin 0.7 + 0.7 cos 0.7
 * ```
 */
export function toFunction(tree: Expr): (x: Tensor) => Tensor {
  const build = (e: Expr, x: Tensor): Tensor | number => {
    switch (e.kind) {
      case 'num':
        return e.value;
      case 'var':
        return x;
      case 'neg': {
        const a = build(e.arg, x);
        return typeof a === 'number' ? -a : neg(a);
      }
      case 'call': {
        const a = build(e.arg, x);
        // A function of a constant is a constant (a concrete scalar, not a function of x).
        return FUNCTIONS[e.name](typeof a === 'number' ? tensor(a) : a);
      }
      case 'bin': {
        const a = build(e.left, x);
        const b = build(e.right, x);
        if (typeof a === 'number' && typeof b === 'number') return constantFold(e.op, a, b);
        const [ta, tb] = [a, b] as [Tensor | number, Tensor | number];
        switch (e.op) {
          case '+':
            return add(ta, tb);
          case '-':
            return sub(ta, tb);
          case '*':
            return mul(ta, tb);
          case '/':
            return div(ta, tb);
          case '^':
            return pow(ta, tb);
        }
      }
    }
  };
  return (x: Tensor) => {
    const y = build(tree, x);
    // A constant expression still returns a tensor of x's shape, so grad sees a function of x.
    return typeof y === 'number' ? add(mul(x, 0), y) : y;
  };
}

function constantFold(op: '+' | '-' | '*' | '/' | '^', a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '^':
      return a ** b;
  }
}

/** The expression printed back with full parentheses: what the parser understood. */
export function show(e: Expr): string {
  switch (e.kind) {
    case 'num':
      return String(e.value);
    case 'var':
      return 'x';
    case 'neg':
      return `(-${show(e.arg)})`;
    case 'call':
      return `${e.name}(${show(e.arg)})`;
    case 'bin':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
  }
}
