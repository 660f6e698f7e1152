/**
 * Command-line flags for every entry point of the apps: the `unequal` subcommands, the experiment
 * scripts, the `npm start` report and `npm run bench`. Parsing is strict (no unknown or repeated
 * flags, no stray words unless the script takes them), and the typed getters check presence, type
 * and range, with errors that name the flag and the value. Numbers follow the CSV reader's grammar
 * ({@link parseDecimal}): `1e-3` and `10` yes, `0x1`, `Infinity` and `' 1'` no, so a value means
 * the same on the command line as in a data file. Every such error is a {@link UsageError}, which
 * {@link runMain} and {@link reportError} report as one line with exit code 2.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { parseDecimal } from '../../data/csv.ts';
import { formatError, UsageError } from './errors.ts';

export { UsageError } from './errors.ts';

/** The flags a command takes, by long name: valued (`string`) or on/off (`boolean`). */
export type FlagSpec = Record<string, { type: 'string' | 'boolean' }>;

/** The range of a numeric flag and its default; without a default the flag is required. */
export interface NumberRule {
  /** The value when the flag is absent; without one, an absent flag is an error. */
  default?: number;
  /** The smallest value allowed (inclusive). */
  min?: number;
  /** A value the flag must exceed (exclusive lower bound: 0 for a step size). */
  above?: number;
  /** A value the flag must stay under (exclusive upper bound). */
  below?: number;
  /** The largest value allowed (inclusive). */
  max?: number;
}

/**
 * Whether `argv` asks for help (`--help` or `-h` anywhere).
 *
 * @example
 * ```ts
 * wantsHelp(['--l2', '0.1', '-h']); // true
 * ```
 */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

/** The range of a {@link NumberRule} in words, e.g. `≥ 0`, `> 0`, `in 0..9` (integers). */
function rangeText(rule: NumberRule, integer: boolean): string {
  const { min, max, above, below } = rule;
  if (integer && min !== undefined && max !== undefined) return `in ${min}..${max}`;
  const parts: string[] = [];
  if (above !== undefined) parts.push(`> ${above}`);
  if (min !== undefined) parts.push(`≥ ${min}`);
  if (max !== undefined) parts.push(`≤ ${max}`);
  if (below !== undefined) parts.push(`< ${below}`);
  return parts.join(' and ');
}

/** Parsed flags of one command, read through typed getters that throw {@link UsageError}s. */
export class Flags {
  /**
   * @param command names the command in errors (`see unequal <command> --help`).
   * @param values the parsed values by long name.
   * @param positionals the words that are not flags (only for commands that take them).
   */
  constructor(
    readonly command: string,
    private readonly values: Record<string, string | boolean | undefined>,
    readonly positionals: readonly string[] = [],
  ) {}

  /** Whether the flag was given. */
  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** An on/off flag: true when given. */
  boolean(name: string): boolean {
    return this.values[name] === true;
  }

  /** A valued flag's text, or undefined when absent. */
  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }

  /** A valued flag's text; absent, `--<name> is required` followed by `hint` (e.g. `' (a CSV file)'`). */
  requiredString(name: string, hint = ` (see ${this.command} --help)`): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required${hint}`);
    return v;
  }

  /** One of `choices`; absent, `fallback` (without one, the flag is required). */
  choice<T extends string>(name: string, choices: readonly T[], fallback?: T): T {
    const v = this.string(name);
    if (v === undefined) {
      if (fallback === undefined) throw new UsageError(`--${name} is required: one of ${choices.join(', ')}`);
      return fallback;
    }
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name}: '${v}' is not one of ${choices.join(', ')}`);
    return v as T;
  }

  /** A comma-separated subset of `choices` (blank items skipped, at least one required when given), or undefined when absent. */
  choiceList<T extends string>(name: string, choices: readonly T[]): T[] | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((s) => !(choices as readonly string[]).includes(s));
    if (bad.length || items.length === 0) {
      throw new UsageError(`--${name}: ${bad.length ? `unknown ${bad.map((b) => `'${b}'`).join(', ')}` : 'empty list'}; choose from ${choices.join(', ')}`);
    }
    return items as T[];
  }

  /** A number in the CSV grammar within `rule`'s range; absent, `rule.default` (without one, the flag is required). */
  number(name: string, rule: NumberRule = {}): number {
    return this.read(name, rule, false);
  }

  /** Like {@link Flags.number}, but undefined when absent (for flags whose absence means "automatic"). */
  optionalNumber(name: string, rule: Omit<NumberRule, 'default'> = {}): number | undefined {
    return this.has(name) ? this.read(name, rule, false) : undefined;
  }

  /** An integer (in the CSV grammar: `10`, `1e1`) within `rule`'s range; absent, `rule.default` (without one, required). */
  integer(name: string, rule: NumberRule = {}): number {
    return this.read(name, rule, true);
  }

  /** Like {@link Flags.integer}, but undefined when absent. */
  optionalInteger(name: string, rule: Omit<NumberRule, 'default'> = {}): number | undefined {
    return this.has(name) ? this.read(name, rule, true) : undefined;
  }

  /** A comma-separated list of integers within `rule`'s range; absent, an error. */
  integerList(name: string, rule: Omit<NumberRule, 'default'> = {}): number[] {
    return this.requiredString(name).split(',').map((item) => checkNumber(name, item.trim(), rule, true));
  }

  private read(name: string, rule: NumberRule, integer: boolean): number {
    const raw = this.string(name);
    if (raw === undefined) {
      if (rule.default === undefined) throw new UsageError(`--${name} is required (see ${this.command} --help)`);
      return rule.default;
    }
    return checkNumber(name, raw, rule, integer);
  }
}

/** `raw` as a number of flag `--name`, checked against the grammar, integrality and the range. */
function checkNumber(name: string, raw: string, rule: NumberRule, integer: boolean): number {
  const v = parseDecimal(raw);
  if (Number.isNaN(v)) throw new UsageError(`--${name}: '${raw}' is not a number`);
  if (!Number.isFinite(v)) throw new UsageError(`--${name}: '${raw}' overflows a float64`);
  const { min, max, above, below } = rule;
  const inRange = (min === undefined || v >= min) && (max === undefined || v <= max) && (above === undefined || v > above) && (below === undefined || v < below);
  if ((integer && !Number.isInteger(v)) || !inRange) {
    const range = rangeText(rule, integer);
    throw new UsageError(`--${name}: '${raw}' must be ${integer ? 'an integer' : 'a number'}${range ? ` ${range}` : ''}`);
  }
  return v;
}

/** Options for {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Accept words that are not flags (returned as {@link Flags.positionals}). Default false. */
  positionals?: boolean;
}

/**
 * Parses `argv` strictly against `spec`: an unknown flag, a missing value, a value given to an
 * on/off flag, a flag given twice or (unless allowed) a stray word is a {@link UsageError} that
 * points at `<command> --help`.
 *
 * @example
 * ```ts
 * const flags = parseFlags('unequal influence', ['--l2', '0.01'], { l2: { type: 'string' } });
 * flags.number('l2', { min: 0 }); // 0.01
 * parseFlags('unequal influence', ['--l2', '0x1'], { l2: { type: 'string' } }).number('l2');
 * // throws UsageError: --l2: '0x1' is not a number
 * ```
 */
export function parseFlags(command: string, argv: readonly string[], spec: FlagSpec, options: ParseFlagsOptions = {}): Flags {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: spec, strict: true, allowPositionals: options.positionals ?? false, tokens: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (see ${command} --help)`);
  }
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once (see ${command} --help)`);
    seen.add(token.name);
  }
  return new Flags(command, parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
}

/**
 * Reports an entry point's error on stderr and sets the exit code (see {@link formatError}): a
 * {@link UsageError} as one line `name: message` and code 2, anything else as one line and code 1,
 * followed by the stack trace when `debug` is set (the default for the scripts: their errors are
 * worth a trace; the `unequal` CLI shows it only with `--debug`).
 *
 * @example
 * ```ts
 * try {
 *   parseFlags('bench', process.argv.slice(2), {});
 * } catch (e) {
 *   reportError('bench', e); // stderr: bench: Unknown option '--x' (see bench --help); exit code 2
 *   process.exit();
 * }
 * ```
 */
export function reportError(name: string, err: unknown, debug = !(err instanceof UsageError)): void {
  const { text, code } = formatError(name, err, debug);
  process.stderr.write(text);
  process.exitCode = code;
}

/**
 * Runs an entry point's `main` and sets the process exit code: `main`'s own code when it returns
 * one, else as {@link reportError} says.
 *
 * @example
 * ```ts
 * runMain('figure2', async () => {
 *   const flags = parseFlags('figure2', process.argv.slice(2), { points: { type: 'string' } });
 *   return flags.integer('points', { default: 50, min: 1 }) > 0 ? 0 : 1;
 * });
 * ```
 */
export function runMain(name: string, main: () => Promise<number | void> | number | void): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => {
        if (typeof code === 'number') process.exitCode = code;
      },
      (err: unknown) => reportError(name, err),
    );
}
