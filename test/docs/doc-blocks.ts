/**
 * Running the code in the guides: extract every ```ts block from a Markdown file, write each to its
 * own module inside the repository (so that `import … from 'unequal'` resolves to src/index.ts
 * through tsconfig.json's "paths", which tsc and tsx both follow, with no build needed), typecheck
 * them all with the project's tsconfig, and execute each one in a fresh `node --import tsx`
 * process, where any throw or non-zero exit is a failure.
 *
 * Conventions (docs/README.md states them for authors):
 * - every block is a complete module: it imports what it uses, from 'unequal' or from node:*;
 * - a block asserts what its prose claims (node:assert), so that running it means something;
 * - ```ts no-run marks a deliberate failure example: it is typechecked, not executed, and the
 *   paragraph before it must say why it is not run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

/** One fenced TypeScript block. */
export interface Block {
  /** The guide it came from (a path relative to the repository). */
  source: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Its position among the guide's ts blocks, from 1. */
  index: number;
  code: string;
  /** Marked `no-run`: typechecked only. */
  noRun: boolean;
  /** The last non-empty prose line before the fence (for the no-run rule). */
  before: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;

/**
 * The ```ts (or ```typescript) blocks of a Markdown text. Blocks of other languages are skipped;
 * fences nested inside them (longer or different fences) are respected.
 */
export function extractBlocks(markdown: string, source: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let lastProse = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      if (lines[i]!.trim()) lastProse = lines[i]!.trim();
      continue;
    }
    const [, indent, fence, lang, rest] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = lines[j]!.trim();
      if (close.startsWith(fence!) && close.replace(/[`~]/g, '') === '' && close.length >= fence!.length) break;
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
    }
    if (j === lines.length) throw new Error(`${source}:${i + 1}: code fence is never closed`);
    const language = lang!.toLowerCase();
    if (language === 'ts' || language === 'typescript') {
      const flags = rest!.split(/\s+/).filter(Boolean);
      for (const f of flags) {
        if (f !== 'no-run') throw new Error(`${source}:${i + 1}: unknown flag '${f}' on a ts block (only 'no-run' exists)`);
      }
      blocks.push({
        source,
        line: i + 1,
        index: blocks.length + 1,
        code: body.join('\n') + '\n',
        noRun: flags.includes('no-run'),
        before: lastProse,
      });
    }
    i = j;
  }
  return blocks;
}

/** A fresh directory inside the repository (gitignored tmp/) for one run's block files. */
export function blockDir(tag: string): string {
  const root = join(REPO, 'tmp', 'doc-blocks');
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `${tag}-`));
}

/** Writes each block to `dir` as its own module and returns the file paths (same order). */
export function writeBlocks(blocks: readonly Block[], dir: string): string[] {
  return blocks.map((b) => {
    const file = join(dir, `${basename(b.source, '.md')}.${b.index}.ts`);
    // `export {}` makes even an import-free block a module (top-level await, no global clashes).
    writeFileSync(file, `// ${b.source}:${b.line}\n${b.code}export {};\n`);
    return file;
  });
}

/** Typechecks the files under the project's tsconfig; returns the diagnostics of each file. */
export function typecheck(files: readonly string[]): Map<string, string[]> {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const config = ts.getParsedCommandLineOfConfigFile(join(REPO, 'tsconfig.json'), {}, host);
  if (!config) throw new Error('cannot read tsconfig.json');
  const program = ts.createProgram([...files], { ...config.options, noEmit: true });
  const out = new Map<string, string[]>();
  for (const file of files) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`typecheck: ${file} was not loaded`);
    out.set(
      file,
      ts.getPreEmitDiagnostics(program, sf).map((d) => {
        const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : null;
        // Line numbers in the block: the file has one header line.
        const at = where ? `block line ${where.line}: ` : '';
        return at + ts.flattenDiagnosticMessageText(d.messageText, '\n');
      }),
    );
  }
  return out;
}

/** The outcome of executing one block. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Executes one block file with `node --import tsx` from the repository root. */
export function runBlock(file: string, timeoutMs = 120_000): Promise<RunResult> {
  const start = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: Date.now() - start });
    });
  });
}

/** A readable failure report for a block that did not exit cleanly. */
export function describeFailure(b: Block, r: RunResult): string {
  const why = r.signal ? `was killed (${r.signal}${r.signal === 'SIGKILL' ? ', timeout?' : ''})` : `exited with code ${r.code}`;
  const numbered = b.code
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(3)} | ${l}`)
    .join('\n');
  return `${b.source}:${b.line} (ts block ${b.index}) ${why}\n--- block ---\n${numbered}\n--- stderr ---\n${r.stderr.trim()}\n--- stdout ---\n${r.stdout.trim()}`;
}
