/**
 * The layers run one way. Each folder of src/ (and kernels/) is a room with a place in LAYERS; a
 * module may import from its own room and from rooms below it, never from a room above. This is
 * what keeps the engine readable bottom-up and lets a new primitive, solver or experiment land in
 * one obvious place (README.md › Architecture draws the same picture).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Bottom first. A room may import only from rooms earlier in this list (and from itself). */
const LAYERS = [
  'base', // shapes, strides and the op lists: no imports
  'linalg', // float64 vector and dense-matrix kernels on Float64Array
  'kernels', // gpu.js kernel bodies
  'backend', // the backend interface, the float64 CPU oracle, the gpu.js backend
  'core', // Tensor, pytrees, the trace stack, creation, the seeded RNG
  'prims', // one primitive per file: shape, JVP, VJP and batching rules
  'ops', // composites without rules of their own
  'transforms', // jvp, vjp, vmap, customVjp and the derived API (grad, hvp, hessian, …)
  'nn', // models and the flat-parameter objective
  'optim', // optimisers
  'influence', // inverse-HVP solvers, influence scores, leave-one-out
  'reweight', // L2RW, Data Dropout and the loss-based weightings
  'data', // CSV, MNIST, imbalance and label-noise builders
  'index', // src/index.ts and src/node.ts: the public surface ('unequal', 'unequal/node')
  'apps', // the CLI, the experiments and the npm start report: on top, never exported
] as const;

function roomOf(file: string): string {
  const rel = path.relative(root, file).split(path.sep);
  if (rel[0] === 'kernels') return 'kernels';
  if (rel[1] === 'index.ts' || rel[1] === 'node.ts') return 'index';
  return rel[1]!;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

interface Edge {
  from: string;
  to: string;
}

/** Every relative import (static, dynamic, type-only, re-export) between two files of src/ and kernels/. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of [...sourceFiles(path.join(root, 'src')), ...sourceFiles(path.join(root, 'kernels'))]) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      edges.push({ from: file, to: path.resolve(path.dirname(file), fileName) });
    }
  }
  return edges;
}

const rank = (room: string): number => (LAYERS as readonly string[]).indexOf(room);
const show = (e: Edge) => `${path.relative(root, e.from)} → ${path.relative(root, e.to)}`;

describe('architecture', () => {
  const edges = importEdges();

  it('finds the imports it checks (a parser that saw nothing would pass everything)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => roomOf(e.from) === 'prims' && roomOf(e.to) === 'core')).toBe(true);
  });

  it('every folder of src/ is a room with a place in the layer order', () => {
    const rooms = new Set(edges.flatMap((e) => [roomOf(e.from), roomOf(e.to)]));
    const unplaced = [...rooms].filter((r) => rank(r) < 0);
    expect(unplaced, 'add new rooms to LAYERS in test/architecture.test.ts and to README.md › Architecture').toEqual([]);
  });

  it('no import runs back up the layers', () => {
    const upward = edges.filter((e) => rank(roomOf(e.to)) > rank(roomOf(e.from)));
    expect(upward.map(show)).toEqual([]);
  });

  it('the bottom module imports nothing', () => {
    expect(edges.filter((e) => roomOf(e.from) === 'base' && roomOf(e.to) !== 'base').map(show)).toEqual([]);
  });

  it('the public surface exports nothing from the applications', () => {
    expect(edges.filter((e) => roomOf(e.from) === 'index' && roomOf(e.to) === 'apps').map(show)).toEqual([]);
  });
});
