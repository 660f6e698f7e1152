/**
 * The LeNet steps of `bench/lenet.ts` (plain SGD and L2RW, batch 100) old against new: the tree
 * at `BASE` (a checkout of an earlier commit, with `node_modules` reachable from it) and this
 * tree, each in its own Node process, alternated old/new for `ROUNDS` rounds so both see the same
 * machine load on average. Each process times `REPS` steps after one warm-up step and reports
 * wall time and process CPU time (user + system) per step; the summary gives the best CPU time
 * of each side (what it needs while it holds a core: the figure to trust on a loaded machine),
 * the median wall time, and their ratios.
 *
 *     git worktree add --detach tmp/base <commit> && ln -s "$PWD/node_modules" tmp/base/node_modules
 *     BASE=tmp/base ROUNDS=3 node --import tsx bench/lenet-versus.ts
 *
 * `T` sets the threads of `setBackend('cpu', { threads })` (default 1).
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Kind = 'sgd' | 'l2rw';
type Times = Record<Kind, { wall: number; cpu: number }>;

/** One side's timing, in this process: `root` is the tree whose bench and library are imported. */
async function child(root: string, threads: number, reps: number): Promise<Times> {
  const bench = await import(pathToFileURL(resolve(root, 'bench/lenet.ts')).href);
  const lib = await import(pathToFileURL(resolve(root, 'src/index.ts')).href);
  lib.setBackend('cpu', { threads });
  const steps = bench.lenetSteps(bench.makeLenetProblem(0));
  const out = {} as Times;
  for (const k of ['sgd', 'l2rw'] as const) {
    steps[k]();
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let i = 0; i < reps; i++) steps[k]();
    const c = process.cpuUsage(c0);
    out[k] = { wall: (performance.now() - t0) / reps / 1000, cpu: (c.user + c.system) / reps / 1e6 };
  }
  return out;
}

function run(root: string, threads: number, reps: number): Times {
  const r = spawnSync(process.execPath, ['--import', 'tsx', process.argv[1]!, '--child', root], {
    encoding: 'utf8',
    env: { ...process.env, T: String(threads), REPS: String(reps) },
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`lenet-versus: the run in ${root} failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Times;
}

const threads = Number(process.env.T ?? 1);
const reps = Number(process.env.REPS ?? 3);
if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3]!, threads, reps)));
} else {
  const base = process.env.BASE;
  if (!base) throw new Error('lenet-versus: set BASE to the old tree (see the module notes)');
  const rounds = Number(process.env.ROUNDS ?? 3);
  const runs: Record<'old' | 'new', Times[]> = { old: [], new: [] };
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    runs.old.push(run(base, threads, reps));
    runs.new.push(run('.', threads, reps));
    const done = (performance.now() - t0) / 1000;
    process.stderr.write(`round ${i + 1}/${rounds} done, ${done.toFixed(0)} s, about ${((done / (i + 1)) * (rounds - i - 1)).toFixed(0)} s left\n`);
  }
  const best = (xs: number[]) => Math.min(...xs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const k of ['sgd', 'l2rw'] as const) {
    const cpu = (s: 'old' | 'new') => best(runs[s].map((r) => r[k].cpu));
    const wall = (s: 'old' | 'new') => median(runs[s].map((r) => r[k].wall));
    console.log(
      `${k.padEnd(4)} threads ${threads}: best CPU s/step old ${cpu('old').toFixed(3)} new ${cpu('new').toFixed(3)} (${(cpu('old') / cpu('new')).toFixed(2)}×); ` +
        `median wall old ${wall('old').toFixed(3)} new ${wall('new').toFixed(3)} (${(wall('old') / wall('new')).toFixed(2)}×)`,
    );
  }
}
