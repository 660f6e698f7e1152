/**
 * The guide runner must be able to fail: a block that throws, one that does not compile, and a
 * wrong claim are all caught; fences of other languages and nested fences are not mistaken for
 * TypeScript.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { blockDir, extractBlocks, runBlock, typecheck, writeBlocks } from './doc-blocks.ts';

const sample = [
  '# A guide',
  '',
  'A passing block:',
  '```ts',
  "import { grad, mul, tensor } from 'unequal';",
  "import assert from 'node:assert/strict';",
  'assert.equal(grad((x) => mul(x, x))(tensor(3)).item(), 6);',
  '```',
  '',
  'Some shell, not run:',
  '```sh',
  'npm start',
  '```',
  '',
  'A wrong claim, which must be caught:',
  '```typescript',
  "import { grad, mul, tensor } from 'unequal';",
  "import assert from 'node:assert/strict';",
  'assert.equal(grad((x) => mul(x, x))(tensor(3)).item(), 7);',
  '```',
  '',
  'This fails to compile on purpose:',
  '```ts no-run',
  'const n: number = "three";',
  '```',
  '',
  '````md',
  '```ts',
  'this is Markdown showing a fence, not code',
  '```',
  '````',
].join('\n');

const dir = blockDir('selftest');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('extractBlocks', () => {
  const blocks = extractBlocks(sample, 'sample.md');
  it('finds the ts and typescript blocks only, with their lines, flags and preceding prose', () => {
    expect(blocks.map((b) => [b.line, b.noRun])).toEqual([[4, false], [16, false], [23, true]]);
    expect(blocks[2]!.before).toBe('This fails to compile on purpose:');
    expect(blocks[0]!.code).toContain("from 'unequal'");
  });
  it('rejects unclosed fences and unknown flags', () => {
    expect(() => extractBlocks('```ts\nlet a = 1;\n', 'x.md')).toThrow(/never closed/);
    expect(() => extractBlocks('```ts run-fast\n1\n```\n', 'x.md')).toThrow(/unknown flag 'run-fast'/);
  });
});

describe('running and typechecking blocks', () => {
  const blocks = extractBlocks(sample, 'sample.md');
  const files = writeBlocks(blocks, dir);
  it("a correct block runs, importing 'unequal' (the sources, through tsconfig paths)", async () => {
    const r = await runBlock(files[0]!);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
  it('a block whose assertion is false fails', async () => {
    const r = await runBlock(files[1]!);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/6 !== 7|Expected values to be strictly equal/);
  });
  it('the typechecker flags the ill-typed block and passes the others', () => {
    const d = typecheck(files);
    expect(d.get(files[0]!)).toEqual([]);
    expect(d.get(files[2]!)!.join('\n')).toMatch(/not assignable to type 'number'/);
  });
});
