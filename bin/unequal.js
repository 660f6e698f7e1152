#!/usr/bin/env node
// `unequal`, the CLI. In a checkout the TypeScript sources are here and tsx (a devDependency)
// compiles them on the fly, so `npx unequal` works right after `npm ci` with no build step and never
// runs a stale build. An installed package ships no sources, only the build in dist/ (see "files" in
// package.json), and runs that with plain Node.
import { existsSync } from 'node:fs';

const source = new URL('../src/apps/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/src/apps/cli/main.js');
}
