/**
 * Every ```ts block in every guide under docs/guides/ runs, and they all typecheck. A block fails
 * the test if it throws, exits non-zero or does not compile; blocks assert their own claims, so a
 * wrong number in a guide is a failing test. `no-run` blocks (deliberate failure examples) are
 * typechecked only, and must be introduced by a sentence that says they fail.
 * See test/docs/doc-blocks.ts for the mechanics and docs/README.md for the authors' conventions.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, blockDir, describeFailure, extractBlocks, runBlock, typecheck, writeBlocks } from './doc-blocks.ts';

const GUIDES = join(REPO, 'docs', 'guides');
const guides = readdirSync(GUIDES)
  .filter((f) => f.endsWith('.md'))
  .sort();
const dir = blockDir('guides');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const all = guides.map((g) => {
  const source = `docs/guides/${g}`;
  const blocks = extractBlocks(readFileSync(join(GUIDES, g), 'utf8'), source);
  return { guide: g, source, blocks, files: writeBlocks(blocks, dir) };
});

// One TypeScript program for every block of every guide: a single pass of the checker.
let diagnostics: Map<string, string[]> | null = null;
const diagnosticsOf = (file: string): string[] => {
  diagnostics ??= typecheck(all.flatMap((g) => g.files));
  return diagnostics.get(file)!;
};

it('the guides are there, including "Second-order differentiation from scratch"', () => {
  expect(guides).toContain('second-order-from-scratch.md');
  for (const g of all) expect(g.blocks.length, `${g.source} has no ts blocks`).toBeGreaterThan(0);
});

describe.each(all)('$source', ({ source, blocks, files }) => {
  it('every ts block typechecks', () => {
    const problems = blocks.flatMap((b, i) => diagnosticsOf(files[i]!).map((d) => `${source}:${b.line} (ts block ${b.index}): ${d}`));
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('no-run blocks are deliberate failure examples introduced as such', () => {
    for (const b of blocks.filter((x) => x.noRun)) {
      expect(b.before, `${source}:${b.line}: a no-run block must follow a sentence saying why it fails`).toMatch(
        /fail|throw|error|wrong|does not|doesn't|cannot|can't|would/i,
      );
    }
  });

  const runnable = blocks.map((b, i) => ({ ...b, file: files[i]! })).filter((b) => !b.noRun);
  it.concurrent.each(runnable)('ts block $index (line $line) runs without throwing', async (b) => {
    const r = await runBlock(b.file);
    if (r.code !== 0) throw new Error(describeFailure(b, r));
  });
});
