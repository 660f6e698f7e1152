/**
 * Timing helpers shared by every benchmark: warm up, then report the median of repeated runs.
 *
 * The median, not the mean, because one GC pause or JIT tier-up in a 20-run sample can double a
 * mean while leaving the median where the steady state is. Warm-up runs are discarded because the
 * first calls pay for V8 compilation and, for jax-js, for tracing and compiling the jitted kernel.
 *
 * @module
 */

/** The result of {@link timeIt}: milliseconds per call. */
export interface Timing {
  /** Median of the timed runs, in milliseconds. */
  median: number;
  /** Fastest timed run, in milliseconds. */
  min: number;
  /** Every timed run, in the order they ran, in milliseconds. */
  times: number[];
}

/** Options for {@link timeIt}. */
export interface TimeItOptions {
  /** Untimed calls before measuring. Default 3. */
  warmup?: number;
  /** Timed calls. Default 10. */
  repeats?: number;
}

/**
 * The median of a list of numbers (the mean of the two middle values for an even count).
 *
 * @param times the samples; not modified.
 * @throws on an empty list, since a median of nothing would silently be NaN in a report.
 *
 * @example
 * ```ts
 * median([5, 1, 3]);    // → 3
 * median([4, 1, 3, 2]); // → 2.5
 * ```
 */
export function median(times: readonly number[]): number {
  if (times.length === 0) throw new Error('median: no samples');
  const s = [...times].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs a collection now if Node was started with --expose-gc, so garbage from setup is not charged to the first timed run. */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Times a synchronous function: `warmup` untimed calls, then `repeats` timed ones.
 *
 * The function must finish its work before returning (for lazy libraries, read the result back,
 * e.g. jax-js `dataSync()`); use {@link timeItAsync} for work that completes in a promise.
 *
 * @param fn the work to time; its return value is ignored.
 * @param opts `warmup` (default 3) and `repeats` (default 10).
 * @returns median, min and all times in milliseconds.
 *
 * @example
 * ```ts
 * const t = timeIt(() => a.map((v) => v * 2), { warmup: 2, repeats: 20 });
 * console.log(`${t.median.toFixed(3)} ms`);
 * ```
 */
export function timeIt(fn: () => unknown, opts: TimeItOptions = {}): Timing {
  const { warmup = 3, repeats = 10 } = opts;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`timeIt: repeats must be a positive integer, got ${repeats}`);
  for (let i = 0; i < warmup; i++) {
    const r = fn();
    if (r instanceof Promise) throw new Error('timeIt: fn returned a promise; use timeItAsync so the work is awaited');
  }
  collectGarbage();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), times };
}

/**
 * Like {@link timeIt}, but awaits `fn` so that asynchronous work is inside the timed region.
 *
 * @param fn the work to time.
 * @param opts `warmup` (default 3) and `repeats` (default 10).
 *
 * @example
 * ```ts
 * const t = await timeItAsync(async () => { await c.blockUntilReady(); }, { repeats: 5 });
 * ```
 */
export async function timeItAsync(fn: () => Promise<unknown>, opts: TimeItOptions = {}): Promise<Timing> {
  const { warmup = 3, repeats = 10 } = opts;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`timeItAsync: repeats must be a positive integer, got ${repeats}`);
  for (let i = 0; i < warmup; i++) await fn();
  collectGarbage();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), times };
}

/**
 * A time a system measured itself, returned by a {@link AlternatedSystem}'s `run` when the work ran
 * in another process (the PyTorch peer): the process CPU time there, not here, is the one to keep.
 */
export class MeasuredElsewhere {
  constructor(
    /** Wall-clock milliseconds of the call. */
    readonly wallMs: number,
    /** That process's CPU milliseconds during the call. */
    readonly cpuMs: number,
  ) {}
}

/** One system in {@link timeAlternated}: a name and one call of the work. */
export interface AlternatedSystem {
  key: string;
  /** One call; may be asynchronous, and may report its own times with {@link MeasuredElsewhere}. */
  run: () => unknown;
}

/** What {@link timeAlternated} measured for one system. */
export interface AlternatedTiming {
  key: string;
  /** Wall-clock milliseconds per round. */
  times: number[];
  /** Process CPU milliseconds per round (all threads of the process that did the work). */
  cpu: number[];
  /** Median wall time. */
  median: number;
  /**
   * Best process CPU time: for a one-thread system, its time when it holds a core, whatever the
   * load from other processes on a shared machine. Not meaningful for multi-threaded runs (their
   * CPU time sums the threads).
   */
  bestCpu: number;
}

/**
 * Times several systems call by call in alternation (system 1, 2, …, then again), so that load
 * from other processes on a shared machine hits all of them alike: `warmup` untimed rounds, then
 * `rounds` timed ones, recording each call's wall time and process CPU time.
 *
 * @param systems the systems, each `{ key, run }`.
 * @param opts `rounds` (default 7) and `warmup` (default 1).
 *
 * @example
 * ```ts
 * const [a, b] = await timeAlternated([
 *   { key: 'plain', run: () => x.map((v) => v * 2) },
 *   { key: 'typed', run: () => y.map((v) => v * 2) },
 * ], { rounds: 9 });
 * a.bestCpu / b.bestCpu; // the ratio on a core each, measured side by side
 * ```
 */
export async function timeAlternated(
  systems: readonly AlternatedSystem[],
  opts: { rounds?: number; warmup?: number } = {},
): Promise<AlternatedTiming[]> {
  const { rounds = 7, warmup = 1 } = opts;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`timeAlternated: rounds must be a positive integer, got ${rounds}`);
  for (let r = 0; r < warmup; r++) for (const s of systems) await s.run();
  collectGarbage();
  const out = systems.map((s) => ({ key: s.key, times: [] as number[], cpu: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < systems.length; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const got = await systems[i]!.run();
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (got instanceof MeasuredElsewhere) {
        out[i]!.times.push(got.wallMs);
        out[i]!.cpu.push(got.cpuMs);
      } else {
        out[i]!.times.push(wall);
        out[i]!.cpu.push((c.user + c.system) / 1000);
      }
    }
  }
  return out.map((o) => ({ ...o, median: median(o.times), bestCpu: Math.min(...o.cpu) }));
}
