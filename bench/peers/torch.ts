/**
 * PyTorch (float64, one thread) as a benchmark peer, driven through `bench/peers/torch_peer.py`:
 * a Python process that holds the problems and runs one task per command, timing itself. The
 * problems' arrays are handed over as raw float64 files, so PyTorch multiplies exactly the numbers
 * unequal does, and each PyTorch result is read back and checked against the float64 references
 * in `problems.ts` before any of its times is reported.
 *
 * Optional: when `python3 -c 'import torch'` fails (no Python, no torch), {@link startTorch}
 * returns the reason and the benchmark prints it in one line. Tests never need it. The
 * interpreter is `/usr/bin/python3` (Debian's python3-torch) unless `UNEQUAL_PYTHON` names another.
 *
 * PyTorch's float64 products run in whatever `libblas.so.3` the system selects: on Debian with only
 * `libblas3` installed that is the reference BLAS (about 6 GFLOP/s), with `libopenblas0` OpenBLAS
 * (tens of GFLOP/s). `UNEQUAL_TORCH_BLAS_DIR` puts a directory holding another `libblas.so.3`
 * first on the peer's library path (bench/README.md shows how to unpack OpenBLAS there without
 * installing it); the report names the library the peer loaded.
 *
 * @module
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { LogregProblem, SoftmaxMlpProblem } from './problems.ts';
import type { LenetProblem } from '../lenet.ts';
import { MeasuredElsewhere } from './timing.ts';

/** The problems to hand to PyTorch; each is optional. */
export interface TorchProblems {
  logreg?: LogregProblem;
  softmaxMlp?: SoftmaxMlpProblem;
  /** The LeNet step (bench/lenet.ts). */
  lenet?: LenetProblem;
  /** Square matmul sizes (inputs as in bench/matmul.ts: A[i] = sin 0.37i, B[i] = cos 0.11i). */
  matmul?: number[];
}

/** The tasks the peer runs: `matmul.<n>`, `logreg.grad`, `logreg.hvp`, `smlp.grad`, `smlp.hvp`, `lenet.sgd`, `lenet.l2rw`. */
export type TorchTask = string;

/** A running PyTorch peer. */
export class TorchPeer {
  private readonly pending: ((line: string) => void)[] = [];
  private closed = false;

  private constructor(
    private readonly proc: ChildProcessByStdio<Writable, Readable, null>,
    private readonly dir: string,
    /** `torch.__version__` of the peer. */
    readonly version: string,
    /** The BLAS library the peer loaded (its float64 products run there). */
    readonly blas: string,
  ) {}

  /** Starts the Python process; internal, see {@link startTorch}. */
  static async launch(python: string, problems: TorchProblems): Promise<TorchPeer> {
    const dir = mkdtempSync(join(tmpdir(), 'unequal-torch-'));
    const arrays: Record<string, number[]> = {};
    const consts: Record<string, number> = {};
    const put = (name: string, data: ArrayLike<number>, shape: number[]) => {
      const f = Float64Array.from(data);
      writeFileSync(join(dir, `${name}.f64`), new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
      arrays[name] = shape;
    };
    const lr = problems.logreg;
    if (lr) {
      put('lr.X', lr.X, [lr.n, lr.d]);
      put('lr.y', lr.y, [lr.n]);
      put('lr.w', lr.w, [lr.d]);
      put('lr.b', [lr.b], [1]);
      put('lr.vw', lr.vw, [lr.d]);
      put('lr.vb', [lr.vb], [1]);
      consts['lr.lambda'] = lr.lambda;
    }
    const sm = problems.softmaxMlp;
    if (sm) {
      put('sm.X', sm.X, [sm.n, sm.d]);
      put('sm.labels', sm.labels, [sm.n]);
      const shapes = { W1: [sm.d, sm.h], b1: [sm.h], W2: [sm.h, sm.c], b2: [sm.c] };
      for (const [k, shape] of Object.entries(shapes)) {
        put(`sm.${k}`, sm.params[k as keyof typeof shapes], shape);
        put(`sm.v${k}`, sm.v[k as keyof typeof shapes], shape);
      }
      consts['sm.lambda'] = sm.lambda;
    }
    const ln = problems.lenet;
    if (ln) {
      put('ln.X', ln.X, [ln.n, 784]);
      put('ln.y', ln.y, [ln.n]);
      put('ln.Xv', ln.Xv, [ln.nVal, 784]);
      put('ln.yv', ln.yv, [ln.nVal]);
      ln.leaves.forEach((l, i) => put(`ln.p${i}`, l.data, l.shape));
      consts['ln.leaves'] = ln.leaves.length;
      consts['ln.lr'] = ln.lr;
      consts['ln.beta'] = ln.beta;
    }
    writeFileSync(join(dir, 'shapes.json'), JSON.stringify({ arrays, consts, matmul: problems.matmul ?? [] }));
    const script = new URL('./torch_peer.py', import.meta.url).pathname;
    const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
    const blasDir = process.env.UNEQUAL_TORCH_BLAS_DIR;
    if (blasDir) env.LD_LIBRARY_PATH = [blasDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const proc = spawn(python, [script], { stdio: ['pipe', 'pipe', 'inherit'], env });
    const peer = new TorchPeer(proc, dir, '', '');
    createInterface({ input: proc.stdout }).on('line', (line) => peer.pending.shift()?.(line));
    proc.on('exit', () => {
      peer.closed = true;
      for (const r of peer.pending.splice(0)) r(JSON.stringify({ error: 'the PyTorch peer exited' }));
    });
    const loaded = await peer.send({ cmd: 'load', dir });
    (peer as { version: string }).version = String(loaded.torch);
    (peer as { blas: string }).blas = String(loaded.blas);
    if (loaded.threads !== 1) throw new Error(`PyTorch peer runs ${loaded.threads} threads, expected 1`);
    return peer;
  }

  private send(msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new Error('the PyTorch peer has exited'));
    return new Promise((resolve, reject) => {
      this.pending.push((line) => {
        const reply = JSON.parse(line) as Record<string, unknown>;
        if (reply.error) reject(new Error(`PyTorch peer, ${JSON.stringify(msg)}: ${reply.error as string}`));
        else resolve(reply);
      });
      this.proc.stdin.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /**
   * Runs a task once and returns its result, flattened (gradients and HVPs in the order W1, b1,
   * W2, b2 or w, b), for checking against the references.
   *
   * @example
   * ```ts
   * const g = await peer.result('logreg.grad'); // 785 numbers: ∇_w R, then ∂_b R
   * ```
   */
  async result(task: TorchTask): Promise<Float64Array> {
    const out = join(this.dir, `out-${task}.f64`);
    await this.send({ cmd: 'run', task, out });
    const bytes = readFileSync(out);
    return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  /**
   * Runs a task once, timed inside the Python process (its wall time and its own CPU time), for
   * {@link timeAlternated}.
   *
   * @example
   * ```ts
   * const t = await peer.time('smlp.hvp'); // MeasuredElsewhere { wallMs, cpuMs }
   * ```
   */
  async time(task: TorchTask): Promise<MeasuredElsewhere> {
    const r = (await this.send({ cmd: 'time', task, reps: 1 })) as { wall: number[]; cpu: number[] };
    return new MeasuredElsewhere(r.wall[0]!, r.cpu[0]!);
  }

  /** Stops the Python process and removes the problem files. */
  close(): void {
    if (!this.closed) this.proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
    this.closed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts the PyTorch peer with the given problems, or returns why it cannot run (a one-line
 * note for the report) when `python3 -c 'import torch'` fails.
 *
 * @example
 * ```ts
 * const peer = await startTorch({ matmul: [512] });
 * if (typeof peer === 'string') console.log(`PyTorch skipped: ${peer}`);
 * else { (await peer.time('matmul.512')).cpuMs; peer.close(); }
 * ```
 */
export async function startTorch(problems: TorchProblems): Promise<TorchPeer | string> {
  const python = process.env.UNEQUAL_PYTHON ?? '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.error) return `${python} cannot run (${probe.error.message})`;
  if (probe.status !== 0) return `${python} -c 'import torch' failed: ${(probe.stderr || '').trim().split('\n').at(-1)}`;
  return TorchPeer.launch(python, problems);
}
