#!/usr/bin/env node
// The CLI is written in TypeScript; tsx compiles it on the fly so `npx unequal` works in a checkout
// right after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/apps/cli/main.ts');
