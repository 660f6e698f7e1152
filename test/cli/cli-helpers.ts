/**
 * Running the `unequal` CLI from tests, two ways: in-process through {@link runCli} with buffered
 * streams (milliseconds per run: what the fuzz test and most regression tests use), and spawned as a
 * user runs it (`node bin/unequal.js …`, ~2 s per run: for the process glue — exit code, real
 * streams, no stack trace on a real stderr). Plus the contract checks both share.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from '../../src/apps/cli/cli.ts';

/** What a CLI run left behind. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `unequal args…` in this process with buffered streams. */
export async function runInProcess(args: readonly string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

const root = join(import.meta.dirname, '..', '..');

/** Runs `node bin/unequal.js args…` as a child process. */
export function spawnCli(args: readonly string[], timeoutMs = 120_000): CliRun {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'unequal.js'), ...args], { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a CSV with a header `x0,…,x{d−1},y` (or `header`) and the rows as given (numbers or raw text). */
export function writeCsvFile(dir: string, name: string, rows: readonly (readonly (number | string)[])[], header?: readonly string[]): string {
  const d = (rows[0]?.length ?? 2) - 1;
  const head = header ?? [...Array.from({ length: d }, (_, j) => `x${j}`), 'y'];
  const path = join(dir, name);
  writeFileSync(path, [head.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return path;
}

/** A stack-trace line as Node prints them. */
export const STACK_LINE = /^\s+at\s/m;

/**
 * The failure half of the contract: exit code `code`, nothing on stdout, and stderr exactly one
 * line `unequal: …` (the run used --quiet where the command has it) matching `message`.
 */
export function expectOneLineFailure(r: CliRun, code: 1 | 2, message?: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(STACK_LINE);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^unequal: \S/);
  if (message) expect(lines[0]).toMatch(message);
}

/** Every number in a parsed JSON value is finite, and there is no null (JSON's spelling of NaN and ±Infinity). */
export function expectAllFinite(value: unknown, path = 'result'): void {
  if (value === null) throw new Error(`${path} is null`);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${path} is ${value}`);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => expectAllFinite(v, `${path}[${i}]`));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) expectAllFinite(v, `${path}.${k}`);
}
