/**
 * The float64 WebAssembly GEMM engine: one generated kernel module (see `gemm-module.ts`), one
 * WebAssembly memory reused by every call, and a pool of threads that share it.
 *
 * A call packs op(A) and op(B) from the caller's arrays into the memory (so the transpose flags
 * cost nothing beyond the packing, `packing.ts`): slices of stored rows are copied in with
 * `TypedArray.set` and dealt into panels by generated WebAssembly packers (`pack-module.ts`), small
 * operands and partial panels by JavaScript loops. It then runs the kernel over (slice, row panel)
 * units, and copies C out. The memory grows when a product needs more and is never shrunk or
 * reallocated otherwise, so the hot path allocates nothing but the result.
 *
 * Threads: large products are split by row panels between the calling thread and `threads − 1`
 * workers. Workers wait in `Atomics.wait` on their slot of a control block at the bottom of the
 * shared memory; the caller writes the job and a schedule of claims (ranges of row panels, the
 * last ones smaller: {@link claimStarts}), bumps each slot, and every thread then takes the next
 * claim from a shared counter until none are left, marking each claim finished. One large
 * product is packed while the workers compute: the caller packs what their first claims need,
 * wakes them, and packs the rest a k block of B and a claim of A at a time, publishing how far it
 * has got; a worker waits only for the pieces its claim needs next. The caller copies the rows of
 * C of its own claims into the result as it finishes them, and then the workers' claims as each
 * is marked (waiting in `Atomics.wait`, or spinning on `Atomics.load` where it may not block: a
 * page's main thread), so most of the copy overlaps the other threads' work; then it waits for
 * the done counter. The call stays synchronous. Workers start lazily at the first product large
 * enough to split and do not keep the process alive; until they report ready the caller computes
 * alone.
 *
 * Layout of the memory (bytes): `[0, 1024)` control block of i32s (done counter, error flag, next
 * claim, claim count, job sequence number, A units and B k steps packed; from i32 16, four per
 * worker: sequence number, ready flag, units computed), `[1024, 1072)` the job descriptor,
 * `[2048, 4096)` one i32 per claim (the job sequence number once the claim is finished),
 * `[4096, 6148)` the claims' first units, from 8192 the packed A slices, packed B slices and C
 * slices of the current call, then the staging area where stored rows wait for the packers.
 *
 * @module
 */
import { allocateF64 } from '../f64-pool.ts';
import { buildGemmModule, gemmKernelFor, JOB, relaxedSimdProbe, writeGemmJob, type GemmEntry, type GemmKernelShape } from './gemm-module.ts';
import { currentHost, type Host, type ThreadHandle } from './host.ts';
import { buildPackModule } from './pack-module.ts';
import { packA, packB, packBSteps, wasmPackingOn, type PackKernels, type PackStaging } from './packing.ts';

const PAGE = 65536;
/** Control block i32 indices. */
const DONE = 0;
const ERROR = 1;
/** The current threaded job's next unclaimed claim and its number of claims (see CLAIM_STARTS). */
const NEXT = 2;
const CLAIMS = 3;
/** The current threaded job's sequence number, which marks its finished claims (see CLAIM_DONE). */
const SEQ = 5;
/**
 * How far the calling thread has packed the current threaded job's operands: units (row panels)
 * of A, and k steps of B (in every slice). A worker waits until the pieces its claim needs next
 * are there; see `GemmEngine.matmul`.
 */
const A_READY = 6;
const B_READY = 7;
const SLOT0 = 16;
const SLOT_INTS = 4;
const MAX_WORKERS = (256 - SLOT0) / SLOT_INTS;
const JOB_ADDR = 1024;
/**
 * From byte 2048, one i32 per claim of a threaded job: the job's SEQ once the claim's C is
 * written, so the calling thread can copy it out while other claims are still being computed.
 */
const CLAIM_DONE = 512;
const MAX_CLAIMS = 512;
/** From byte 4096, the first unit of each claim and, after the last, the unit count (i32s). */
const CLAIM_STARTS = 1024;
/** The first byte of the data area: packed A, packed B, C, then the staging area. */
const DATA_ADDR = 8192;
/** 2 GiB: byte addresses stay below 2³¹, and a browser on a small device can still reserve it. */
const MAX_PAGES = 32768;
/**
 * Steps of k per block: a 512 × 6 B micro-panel (24 KiB) stays in L1 across a block of A. Blocks
 * of 512 rather than 256 made two-thread products 2–4% faster at 512² and 1024² (half as many
 * passes over C and half as many micro-kernel calls), one thread level (bench/README.md).
 */
export const KC = 512;
/** Rows of A per block: 128 rows × KC is 512 KiB of packed A, kept in L2 (bench/README.md). */
export const MC_ROWS = 128;
/**
 * A product is split across threads only when it has at least this many multiply-adds
 * (m·n·k per thread); below it, waking a worker costs more than it saves (bench/README.md).
 */
export const THREAD_MIN_MACS = 64 * 64 * 64;
/**
 * Float64s of an operand copied into the kernels' memory at a time (1 MiB) by every kernel that
 * stages its input (the packers here, the narrow products, tanh): the copy and the kernel that
 * reads it take turns on one slice, which is still in the core's cache when the kernel reads it.
 * Copying a whole 2000 × 784 operand first wrote 12.5 MB that the kernel then read back from
 * further away. Measured on the narrow products at 2000 × 784 with one, two and four columns,
 * both storage orders (bench/README.md): slices of 2¹⁷–2¹⁸ float64s were 1.3–1.45× faster than a
 * whole copy, 2¹³–2¹⁶ and 2¹⁹–2²⁰ in between (small slices pay a call and a copy set-up each).
 */
export const STAGING_SLICE = 1 << 17;
/**
 * A single product on several threads is packed while the workers compute (see
 * `GemmEngine.matmul`) only when a claim of it has at least this many multiply-adds: below it, a
 * claim's arithmetic is shorter than waking a worker that waits for the next packed piece, and
 * packing it all first is faster (at 256² on two threads: 0.87× with the pieces, bench/README.md).
 */
export const PIPELINE_MIN_MACS = 1 << 22;
/** Operands with fewer elements are packed by the JavaScript loops (a call and a copy cost more). */
const PACK_MIN_ELEMENTS = 4096;

/**
 * The worker's whole program, a function of `{ module, memory, slot }` that every host runs
 * unchanged (each adds only how the data arrives, see `Host.spawn`): instantiate the shared
 * kernel, then serve jobs until told to stop. A worker always blocks in `Atomics.wait`, which
 * every host's workers may. Slot word 2 counts the units this worker computed, so a test can see
 * that a product really was shared.
 */
const WORKER_MAIN = `function ({ module, memory, slot }) {
  const { gemm } = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(memory.buffer, 0, ${(JOB_ADDR + JOB.size) / 4});
  const done = new Int32Array(memory.buffer, ${CLAIM_DONE * 4}, ${MAX_CLAIMS});
  const starts = new Int32Array(memory.buffer, ${CLAIM_STARTS * 4}, ${MAX_CLAIMS + 1});
  const reach = (i, want) => { for (let v = Atomics.load(ctl, i); v < want; v = Atomics.load(ctl, i)) Atomics.wait(ctl, i, v); };
  let seen = Atomics.load(ctl, slot);
  Atomics.store(ctl, slot + 1, 1);
  Atomics.notify(ctl, slot + 1);
  for (;;) {
    Atomics.wait(ctl, slot, seen);
    const s = Atomics.load(ctl, slot);
    if (s === seen) continue;
    seen = s;
    if (s < 0) { Atomics.store(ctl, slot + 1, 2); Atomics.notify(ctl, slot + 1); break; }
    try {
      const claims = Atomics.load(ctl, ${CLAIMS}), seq = Atomics.load(ctl, ${SEQ});
      const k = ctl[${(JOB_ADDR + JOB.k) / 4}];
      for (let i = Atomics.add(ctl, ${NEXT}, 1); i < claims; i = Atomics.add(ctl, ${NEXT}, 1)) {
        const u = starts[i], end = starts[i + 1];
        // The claim's A, then B a packed k block at a time as the calling thread publishes them.
        reach(${A_READY}, end);
        for (let p = 0; p < k;) {
          reach(${B_READY}, p + 1);
          const p1 = Math.min(k, Atomics.load(ctl, ${B_READY}));
          gemm(${JOB_ADDR}, u, end, p, p1);
          p = p1;
        }
        Atomics.add(ctl, slot + 2, end - u);
        Atomics.store(done, i, seq);
        Atomics.notify(done, i);
      }
    }
    catch (e) { Atomics.store(ctl, ${ERROR}, 1); }
    Atomics.add(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
}`;

/** What the engine runs with, for tests and benchmarks. */
export interface GemmInfo {
  /** The register tile and whether it uses relaxed-SIMD fused multiply-add. */
  kernel: GemmKernelShape;
  /** Whether the memory is shared (threads possible). */
  shared: boolean;
  /** Threads a large product uses now (the calling thread included). */
  threads: number;
  /** Workers started and ready. */
  workersReady: number;
  /**
   * Row-panel units computed by worker threads (not the calling thread) since the engine was
   * made: it grows only when a product really was shared.
   */
  workerUnits: number;
  /** The WebAssembly memory's size in bytes. */
  memoryBytes: number;
  /** How many times the memory has grown. */
  grows: number;
  /** Products computed. */
  calls: number;
}

interface Worker {
  handle: ThreadHandle;
  slot: number;
  alive: boolean;
}

/** The engine: one per process, made on first use. */
class GemmEngine {
  readonly kernel: GemmKernelShape;
  private readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  private readonly gemm: GemmEntry;
  /** The WebAssembly packers (`pack-module.ts`), or `null` where the module did not instantiate. */
  private readonly packers: PackKernels | null;
  readonly shared: boolean;
  private heap!: Float64Array;
  private ctl!: Int32Array;
  private claimDone!: Int32Array;
  private claimStarts!: Int32Array;
  /** The last threaded job's sequence number (SEQ). */
  private seq = 0;
  private workers: Worker[] = [];
  /** Control slots of workers that did not acknowledge a stop. */
  private readonly burned = new Set<number>();
  grows = 0;
  calls = 0;

  constructor(private readonly host: Host | null) {
    // Relaxed SIMD: accepted by default in newer runtimes, behind a flag in Node 20.
    let fma = WebAssembly.validate(relaxedSimdProbe());
    if (!fma && host) {
      host.enableRelaxedSimd();
      fma = WebAssembly.validate(relaxedSimdProbe());
    }
    this.kernel = gemmKernelFor(fma);
    let memory: WebAssembly.Memory;
    let shared = typeof SharedArrayBuffer !== 'undefined' && host !== null;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared } as WebAssembly.MemoryDescriptor);
    } catch {
      shared = false;
      memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    }
    this.memory = memory;
    this.shared = shared;
    this.module = new WebAssembly.Module(buildGemmModule(this.kernel, { initial: 1, maximum: MAX_PAGES, shared }));
    const instance = new WebAssembly.Instance(this.module, { env: { memory } });
    this.gemm = instance.exports.gemm as GemmEntry;
    // Where the packers do not instantiate, the JavaScript loops pack instead.
    this.packers = instantiateOver(memory, () => buildPackModule({ initial: 1, maximum: MAX_PAGES, shared })) as PackKernels | null;
    this.refreshViews();
  }

  /**
   * Where a product whose data ends at float64 index `end` may stage its operands for packing
   * (see {@link PackStaging}), growing the memory to hold it; `undefined` when it cannot (the
   * JavaScript loops then pack from the caller's arrays directly).
   */
  private staging(end: number, m: number, k: number, n: number): PackStaging | undefined {
    if (!this.packers || !wasmPackingOn()) return undefined;
    const at = end + (end & 1);
    // Room for one stored row of either operand (split) or one panel's rows (gather) at least.
    const floats = Math.max(STAGING_SLICE, m, n, 8 * k);
    if ((at + floats) * 8 >= 2 ** 31 || !this.ensureBytes((at + floats) * 8)) return undefined;
    return { at, floats, kernels: this.packers, minElements: PACK_MIN_ELEMENTS };
  }

  /**
   * The data area (from byte `DATA_ADDR`, 8192) with at least `bytes` bytes, for a kernel that
   * shares this memory (see `narrow.ts`): the float64 view and the index of its first float64, or
   * `undefined` when the memory cannot grow that far. Valid until the next product.
   */
  scratch(bytes: number): { H: Float64Array; base: number } | undefined {
    if (DATA_ADDR + bytes >= 2 ** 31 || !this.ensureBytes(DATA_ADDR + bytes)) return undefined;
    return { H: this.heap, base: DATA_ADDR / 8 };
  }

  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  private refreshViews(): void {
    const buf = this.memory.buffer;
    this.heap = new Float64Array(buf);
    this.ctl = new Int32Array(buf, 0, (JOB_ADDR + JOB.size) / 4);
    this.claimDone = new Int32Array(buf, CLAIM_DONE * 4, MAX_CLAIMS);
    this.claimStarts = new Int32Array(buf, CLAIM_STARTS * 4, MAX_CLAIMS + 1);
  }

  private ensureBytes(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      const pages = Math.ceil((bytes - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) return false;
      this.memory.grow(pages);
      this.grows++;
    }
    if (this.heap.buffer.byteLength !== this.memory.buffer.byteLength) this.refreshViews();
    return true;
  }

  /** Starts workers up to `threads − 1` (they report ready on their own). */
  ensureWorkers(threads: number): void {
    if (!this.shared || !this.host) return;
    const want = Math.min(threads - 1, MAX_WORKERS);
    this.workers = this.workers.filter((w) => w.alive);
    for (let i = this.workers.length; i < want; i++) {
      const used = new Set([...this.workers.map((w) => w.slot), ...this.burned]);
      let slot = SLOT0;
      while (used.has(slot)) slot += SLOT_INTS;
      if (slot >= SLOT0 + MAX_WORKERS * SLOT_INTS) break;
      Atomics.store(this.ctl, slot, 0);
      Atomics.store(this.ctl, slot + 1, 0);
      const w: Worker = { slot, alive: true, handle: undefined as unknown as ThreadHandle };
      w.handle = this.host.spawn(WORKER_MAIN, { module: this.module, memory: this.memory, slot }, () => {
        w.alive = false;
      });
      this.workers.push(w);
    }
  }

  /** Blocks until the workers started so far are ready, or `timeoutMs` passes; returns how many are. */
  waitForWorkers(timeoutMs: number): number {
    const end = Date.now() + timeoutMs;
    for (const w of this.workers) {
      while (w.alive && Atomics.load(this.ctl, w.slot + 1) !== 1) {
        const left = end - Date.now();
        if (left <= 0 || !this.host?.canBlock) break;
        Atomics.wait(this.ctl, w.slot + 1, 0, Math.min(left, 50));
      }
    }
    return this.readyWorkers().length;
  }

  /** Units computed by worker threads, summed over every slot ever used. */
  workerUnits(): number {
    let total = 0;
    for (let slot = SLOT0; slot < SLOT0 + MAX_WORKERS * SLOT_INTS; slot += SLOT_INTS) total += Atomics.load(this.ctl, slot + 2);
    return total;
  }

  readyWorkers(): Worker[] {
    return this.workers.filter((w) => w.alive && Atomics.load(this.ctl, w.slot + 1) === 1);
  }

  /**
   * Stops every worker. Each acknowledges by setting its ready flag to 2 before it exits; a slot
   * whose worker does not acknowledge within a second is never reused, so a late worker cannot
   * serve a newer worker's jobs, and the worker is terminated. A thread that may not block waits
   * (spinning) only for workers that are running: one that has not started yet may need this
   * thread's event loop to start at all, so it is terminated at once.
   */
  stopWorkers(): void {
    for (const w of this.workers) {
      Atomics.store(this.ctl, w.slot, -1);
      Atomics.notify(this.ctl, w.slot);
    }
    const block = this.host?.canBlock ?? false;
    for (const w of this.workers) {
      const end = Date.now() + 1000;
      let flag: number;
      if (block || Atomics.load(this.ctl, w.slot + 1) === 1) {
        while (w.alive && (flag = Atomics.load(this.ctl, w.slot + 1)) !== 2 && Date.now() < end) {
          if (block) Atomics.wait(this.ctl, w.slot + 1, flag, 50);
        }
      }
      if (Atomics.load(this.ctl, w.slot + 1) !== 2) {
        this.burned.add(w.slot);
        w.handle.terminate();
      }
      w.alive = false;
    }
    this.workers = [];
  }

  /**
   * C = op(A) op(B) for `batch` slices, or `undefined` when the product does not fit in the
   * memory's maximum (the caller then uses another path).
   *
   * On one thread the operands are packed and then multiplied. On several, one product
   * (`batch` 1) with enough work per claim (`pipelineMinMacs`) is packed while the workers
   * compute: the calling thread packs the first k block of B and the A of the workers' first
   * claims, wakes them, and packs the rest a k block of B and a claim of A at a time, publishing
   * how far it has got ({@link B_READY}, {@link A_READY}); a worker waits only for the pieces its
   * claim needs next. A transposed operand is packed whole first (its pieces are not contiguous
   * stored rows). Batches and smaller products are packed whole before the workers wake.
   */
  matmul(
    a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, threads: number, minMacsPerThread: number, pipelineMinMacs: number,
  ): Float64Array | undefined {
    const out = allocateF64(batch * m * n, k === 0);
    if (out.length === 0 || k === 0) return out;
    const { mr, nr } = this.kernel;
    const mp = Math.ceil(m / mr), np = Math.ceil(n / nr), ldc = np * nr;
    const aSlice = mp * mr * k, bSlice = np * nr * k, cSlice = mp * mr * ldc;
    const aBase = DATA_ADDR / 8, bBase = aBase + batch * aSlice, cBase = bBase + batch * bSlice;
    const end = cBase + batch * cSlice;
    if (end * 8 >= 2 ** 31 || !this.ensureBytes(end * 8)) return undefined;
    const staging = this.staging(end, m, k, n);
    // Copy the valid part of C's rows out as each range of units (slice, row panel) is finished:
    // with threads, the calling thread copies while the others are still computing.
    const copyOut = (u0: number, u1: number) => {
      const heap = this.heap;
      for (let u = u0; u < u1;) {
        const q = Math.floor(u / mp), ip0 = u - q * mp, ip1 = Math.min(mp, ip0 + (u1 - u));
        const r0 = ip0 * mr, r1 = Math.min(m, ip1 * mr), src = cBase + q * cSlice, dst = q * m * n;
        if (ldc === n) out.set(heap.subarray(src + r0 * n, src + r1 * n), dst + r0 * n);
        else for (let i = r0; i < r1; i++) out.set(heap.subarray(src + i * ldc, src + i * ldc + n), dst + i * n);
        u += ip1 - ip0;
      }
    };
    const units = batch * mp;
    const use = this.writeJob({ aBase, aStride: aSlice, bBase, bStride: bSlice, cBase, cSlice, ldc, k, mp, np }, units, threads, m * n * k * batch, minMacsPerThread);
    const H = this.heap;
    const packAll = () => {
      for (let q = 0; q < batch; q++) {
        packA(a, q * m * k, m, k, transA, mr, H, aBase + q * aSlice, staging);
        packB(b, q * k * n, k, n, transB, nr, H, bBase + q * bSlice, staging);
      }
    };
    if (use === 1) {
      packAll();
      this.runAlone(units, k, copyOut);
    } else if (batch > 1 || mr * n * k * claimUnits(units, use, mr) < pipelineMinMacs) {
      packAll();
      this.share(units, k, use, copyOut);
    } else {
      // B a k block of stored rows at a time (op(B) = B), A a claim of row panels at a time (op(A) = A).
      const bPieces = transB ? [k] : blockEnds(k, KC);
      let b0 = 0, a0 = 0;
      const packBTo = (p1: number) => {
        if (transB) packB(b, 0, k, n, true, nr, H, bBase, staging);
        else packBSteps(b, k, n, nr, H, bBase, b0, p1, staging);
        b0 = p1;
        this.publish(B_READY, p1);
      };
      const packATo = (u1: number) => {
        // (Transposed, A is packed whole: this is called once, with u1 = units.)
        if (transA) packA(a, 0, m, k, true, mr, H, aBase, staging);
        else packA(a, a0 * mr * k, Math.min(m, u1 * mr) - a0 * mr, k, false, mr, H, aBase + a0 * mr * k, staging);
        a0 = u1;
        this.publish(A_READY, u1);
      };
      this.share(units, k, use, copyOut, (starts) => {
        // Before the workers wake: a whole transposed operand, then what their first claims need.
        if (transA) packATo(units);
        packBTo(bPieces[0]!);
        if (!transA) packATo(starts[Math.min(use - 1, starts.length - 1)]!);
      }, (starts) => {
        for (const p1 of bPieces.slice(1)) packBTo(p1);
        for (const u1 of starts) if (u1 > a0) packATo(u1);
      });
    }
    return out;
  }

  /**
   * A product whose operands the caller packs (see {@link PackedLayout}): reserves the memory,
   * calls `fill` to write the packed A and B slices, runs the kernel, and returns the layout so
   * the caller can read C from it (valid until the next product). With `sharedA` every slice
   * reads the one packed A. `undefined` when the product does not fit in the memory's maximum.
   */
  packed(
    batch: number, m: number, k: number, n: number, sharedA: boolean,
    threads: number, minMacsPerThread: number, fill: (l: PackedLayout) => void,
  ): PackedLayout | undefined {
    const { mr, nr } = this.kernel;
    const mp = Math.ceil(m / mr), np = Math.ceil(n / nr), ldc = np * nr;
    const aSlice = mp * mr * k, bSlice = np * nr * k, cSlice = mp * mr * ldc;
    const aBase = DATA_ADDR / 8, bBase = aBase + (sharedA ? 1 : batch) * aSlice, cBase = bBase + batch * bSlice;
    const end = cBase + batch * cSlice;
    if (end * 8 >= 2 ** 31 || !this.ensureBytes(end * 8)) return undefined;
    const staging = this.staging(end, m, k, n);
    const layout: PackedLayout = { H: this.heap, mr, nr, mp, np, ldc, aBase, aSlice: sharedA ? 0 : aSlice, bBase, bSlice, cBase, cSlice, staging };
    fill(layout);
    if (batch === 0 || m === 0 || n === 0 || k === 0) {
      layout.H.fill(0, cBase, end);
      return layout;
    }
    const units = batch * mp;
    const use = this.writeJob({ aBase, aStride: layout.aSlice, bBase, bStride: bSlice, cBase, cSlice, ldc, k, mp, np }, units, threads, m * n * k * batch, minMacsPerThread);
    if (use === 1) this.runAlone(units, k);
    else this.share(units, k, use, undefined);
    return layout;
  }

  /**
   * Writes one product's job (packed A and B slices at `aBase`/`bBase` with strides, C slices at
   * `cBase`, all in float64 words) to the control block, and returns how many threads will run
   * it: up to `threads`, as many as there are ready workers plus this one, with at least
   * `minMacsPerThread` multiply-adds each (1: this thread alone).
   */
  private writeJob(
    p: { aBase: number; aStride: number; bBase: number; bStride: number; cBase: number; cSlice: number; ldc: number; k: number; mp: number; np: number },
    units: number, threads: number, macs: number, minMacsPerThread: number,
  ): number {
    writeGemmJob(this.ctl, JOB_ADDR / 4, {
      aBase: p.aBase, aStride: p.aStride, bBase: p.bBase, bStride: p.bStride, cBase: p.cBase, cStride: p.cSlice,
      ldc: p.ldc, k: p.k, kc: KC, mcPanels: Math.ceil(MC_ROWS / this.kernel.mr), mPanels: p.mp, nPanels: p.np,
    });
    this.calls++;
    let use = Math.min(threads, units, minMacsPerThread > 0 ? Math.max(1, Math.floor(macs / minMacsPerThread)) : threads);
    if (use > 1) {
      this.ensureWorkers(threads);
      use = Math.min(use, this.readyWorkers().length + 1);
    }
    return use;
  }

  /** The whole job on the calling thread; `onDone` then sees every unit. */
  private runAlone(units: number, k: number, onDone?: (u0: number, u1: number) => void): void {
    this.gemm(JOB_ADDR, 0, units, 0, k);
    onDone?.(0, units);
  }

  /** Stores `value` at control word `i` and wakes the workers waiting on it. */
  private publish(i: number, value: number): void {
    Atomics.store(this.ctl, i, value);
    Atomics.notify(this.ctl, i);
  }

  /** Marks every unit's A and all k steps of B packed. */
  private publishAll(units: number, k: number): void {
    this.publish(A_READY, units);
    this.publish(B_READY, k);
  }

  /**
   * Runs units [0, units) of the written job on `use` threads (this one and `use − 1` ready
   * workers), which take claims of units (see {@link claimStarts}) in turn until none are left,
   * and calls `onDone` on this thread once for each claim's units when they are finished.
   * For a product packed while the workers compute, `before(starts)` packs (and publishes) what
   * their first claims need before they are woken, and `after(starts)` packs the rest while they
   * compute, before this thread takes claims itself; without them the operands are already packed.
   */
  private share(
    units: number, k: number, use: number, onDone: ((u0: number, u1: number) => void) | undefined,
    before?: (starts: readonly number[]) => void, after?: (starts: readonly number[]) => void,
  ): void {
    const ctl = this.ctl, ready = this.readyWorkers();
    use = Math.min(use, ready.length + 1); // a worker may have stopped since the job was planned
    const starts = claimStarts(units, use, this.kernel.mr), claims = starts.length - 1;
    this.claimStarts.set(starts);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ERROR, 0);
    Atomics.store(ctl, CLAIMS, claims);
    Atomics.store(ctl, A_READY, 0);
    Atomics.store(ctl, B_READY, 0);
    this.seq = (this.seq % 0x3fffffff) + 1;
    Atomics.store(ctl, SEQ, this.seq);
    Atomics.store(ctl, NEXT, 0);
    // A failure while packing must still wait for the workers already woken before it is
    // rethrown: they would otherwise go on writing into a memory the next product reuses.
    let woken = 0, failure: { error: unknown } | undefined;
    try {
      // Already packed: published before the workers wake, so that none has to wait for it.
      if (before) before(starts);
      else this.publishAll(units, k);
      for (; woken < use - 1; woken++) {
        const w = ready[woken]!;
        Atomics.store(ctl, w.slot, (Atomics.load(ctl, w.slot) + 1) & 0x3fffffff);
        Atomics.notify(ctl, w.slot);
      }
      after?.(starts);
    } catch (error) {
      failure = { error };
      // No claim is left for this thread, and none for the workers once they see it.
      Atomics.store(ctl, NEXT, claims);
    } finally {
      // Whatever happened while packing, no worker may wait for a piece that will not come.
      this.publishAll(units, k);
    }
    const mine = new Set<number>();
    for (let i = Atomics.add(ctl, NEXT, 1); i < claims; i = Atomics.add(ctl, NEXT, 1)) {
      this.gemm(JOB_ADDR, starts[i]!, starts[i + 1]!, 0, k);
      onDone?.(starts[i]!, starts[i + 1]!);
      mine.add(i);
    }
    // The workers' claims, in order, each as soon as it is finished (a worker that fails leaves
    // its claim unmarked: then wait for all and report the failure below).
    let i = 0;
    for (; onDone && !failure && i < claims; i++) {
      if (mine.has(i)) continue;
      if (!this.waitForClaim(i, woken)) break;
      onDone(starts[i]!, starts[i + 1]!);
    }
    // Every woken worker acknowledges before the next job may reuse the control block. A thread
    // that may not block (a page's main thread) spins: the wait is only for the claims the
    // workers are still finishing, since this thread claimed until none were left.
    if (this.host!.canBlock) {
      for (let d = Atomics.load(ctl, DONE); d < woken; d = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, d);
    } else {
      while (Atomics.load(ctl, DONE) < woken);
    }
    if (failure) throw failure.error;
    if (Atomics.load(ctl, ERROR)) throw new Error('wasm gemm: a worker thread failed');
  }

  /**
   * Waits until claim `i` of the current job is marked finished; `false` if every one of the
   * `workers` woken has reported done without marking it (a worker failed).
   */
  private waitForClaim(i: number, workers: number): boolean {
    const flags = this.claimDone, seq = this.seq, block = this.host!.canBlock;
    for (let f = Atomics.load(flags, i); f !== seq; f = Atomics.load(flags, i)) {
      if (Atomics.load(this.ctl, DONE) >= workers && Atomics.load(flags, i) !== seq) return false;
      if (block) Atomics.wait(flags, i, f, 5);
    }
    return true;
  }
}

/**
 * Where a caller-packed product ({@link wasmPackedProduct}) lives in the kernel's memory, in
 * float64 elements of `H`: slice q of A at `aBase + q·aSlice` (`aSlice` 0 when A is shared), in
 * `mp` panels of `mr` rows, p-major within a panel (`H[aBase + i0·k + p·mr + r] = A[i0 + r, p]`);
 * slice q of B at `bBase + q·bSlice` in `np` panels of `nr` columns (`H[bBase + j0·k + p·nr + c]
 * = B[p, j0 + c]`); slice q of C at `cBase + q·cSlice`, row-major with leading dimension `ldc`
 * (rows and columns past m and n are padding). Rows and columns of the last panels past m and n
 * may hold anything: they only reach C's padding.
 */
export interface PackedLayout {
  /** The kernel's memory as float64s. */
  H: Float64Array;
  /** Rows of an A panel. */
  mr: number;
  /** Columns of a B panel. */
  nr: number;
  /** A panels per slice. */
  mp: number;
  /** B panels per slice. */
  np: number;
  /** C's leading dimension (np·nr). */
  ldc: number;
  /** First packed A. */
  aBase: number;
  /** Elements between A slices (0: shared). */
  aSlice: number;
  /** First packed B. */
  bBase: number;
  /** Elements between B slices. */
  bSlice: number;
  /** First C. */
  cBase: number;
  /** Elements between C slices. */
  cSlice: number;
  /** Where `packA` and `packB` may stage operands for the WebAssembly packers (absent: JavaScript loops). */
  staging?: PackStaging;
}

/** [b, 2b, …, k]: the ends of k's blocks of `b` steps. */
function blockEnds(k: number, b: number): number[] {
  const ends: number[] = [];
  for (let p = b; p < k; p += b) ends.push(p);
  ends.push(k);
  return ends;
}

/**
 * Units per full claim when `use` threads share `units`: a row block (`MC_ROWS`), or fewer so
 * that each thread gets about four, and more when there are so many units that the claims would
 * not fit the {@link MAX_CLAIMS} flags.
 */
function claimUnits(units: number, use: number, mr: number): number {
  return Math.max(1, Math.min(Math.ceil(MC_ROWS / mr), Math.ceil(units / (4 * use))), Math.ceil(units / (MAX_CLAIMS / 2)));
}

/**
 * Where each claim of a threaded job starts, with `units` appended: full claims of
 * {@link claimUnits} while much is left, then claims of a share of what is left (half of it
 * divided among the threads), down to a quarter of a full claim. Threads that take claims in
 * turn then finish within about a small claim of each other even when one runs slower than the
 * other (on a shared machine one core often does): with equal claims the last one could keep
 * one thread busy for a whole claim while the others wait. Smaller claims cost more each
 * (every claim streams all of B through the cache), so only the last few are small.
 *
 * @example
 * ```ts
 * claimStarts(256, 2, 4); // 1024 rows on two threads, 4-row panels:
 * // [0, 32, 64, 96, 128, 160, 184, 202, 216, 226, 234, 242, 250, 256]
 * ```
 */
export function claimStarts(units: number, use: number, mr: number): number[] {
  const full = claimUnits(units, use, mr), least = Math.ceil(full / 4);
  let starts = [0];
  for (let u = 0; u < units;) {
    const left = units - u;
    u += Math.min(left, full, Math.max(least, Math.ceil(left / (2 * use))));
    starts.push(u);
  }
  if (starts.length > MAX_CLAIMS + 1) {
    // Very many threads: equal claims, as many as there are flags.
    const size = Math.ceil(units / MAX_CLAIMS);
    starts = [];
    for (let u = 0; u < units; u += size) starts.push(u);
    starts.push(units);
  }
  return starts;
}

let engine: GemmEngine | null | undefined;

/** The engine, made on first call; `null` where WebAssembly SIMD is unavailable. */
function getEngine(): GemmEngine | null {
  if (engine !== undefined) return engine;
  try {
    engine = typeof WebAssembly === 'object' ? new GemmEngine(currentHost()) : null;
  } catch {
    engine = null;
  }
  return engine;
}

/** Instantiates a generated module over `memory` (its `env.memory`); `null` where it does not compile here. */
function instantiateOver(memory: WebAssembly.Memory, build: () => Uint8Array<ArrayBuffer>): WebAssembly.Exports | null {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(build()), { env: { memory } }).exports;
  } catch {
    return null;
  }
}

/**
 * Instantiates another kernel module over the engine's memory (see `narrow.ts`, `tanh.ts`):
 * `build` gets what the module must declare for its `env.memory` import and whether relaxed
 * SIMD is enabled. Returns its exports, or `null` where the engine is unavailable or the module
 * does not compile here.
 *
 * @example
 * ```ts
 * const exports = wasmKernelModule(({ fma, memory }) => buildNarrowModule(fma, memory));
 * ```
 */
export function wasmKernelModule(
  build: (m: { fma: boolean; memory: { initial: number; maximum: number; shared: boolean } }) => Uint8Array<ArrayBuffer>,
): WebAssembly.Exports | null {
  const e = getEngine();
  return e ? instantiateOver(e.memory, () => build({ fma: e.kernel.fma, memory: { initial: 1, maximum: MAX_PAGES, shared: e.shared } })) : null;
}

/**
 * Reserves `bytes` bytes of the engine's data area for a kernel sharing its memory: the float64
 * view of the memory and the index of the area's first float64, valid until the next product;
 * `undefined` where the engine is unavailable or the memory cannot grow that far.
 *
 * @example
 * ```ts
 * const s = wasmScratch(8 * 1024);
 * if (s) s.H.fill(0, s.base, s.base + 1024);
 * ```
 */
export function wasmScratch(bytes: number): { H: Float64Array; base: number } | undefined {
  return getEngine()?.scratch(bytes);
}

/**
 * Whether the WebAssembly GEMM can run here (WebAssembly with 128-bit SIMD).
 *
 * @example
 * ```ts
 * if (wasmGemmAvailable()) console.log(wasmGemmInfo()?.kernel); // { mr: 4, nr: 6, fma: true, splat: 'b' }
 * ```
 */
export function wasmGemmAvailable(): boolean {
  return getEngine() !== null;
}

/**
 * The machine's hardware thread count (1 where the platform does not say).
 *
 * @example
 * ```ts
 * setGemmThreads(defaultThreads());
 * ```
 */
export function defaultThreads(): number {
  return currentHost()?.cores() ?? 1;
}

/** How {@link wasmMatmul} may split a product across threads. */
export interface GemmThreading {
  /** Most threads to use, the calling thread included (default: {@link defaultThreads}). */
  threads?: number;
  /**
   * Fewest multiply-adds per thread worth a thread (default {@link THREAD_MIN_MACS}); tests set
   * 0 to split even tiny products.
   */
  minMacsPerThread?: number;
  /**
   * Fewest multiply-adds per claim for which one product is packed while the workers compute
   * (default {@link PIPELINE_MIN_MACS}); tests set 0 to take that path even for tiny products.
   */
  pipelineMinMacs?: number;
}

/**
 * Batched float64 matrix product on the WebAssembly kernel, with the `Backend.matmul` contract:
 * A is [batch, m, k] (or [batch, k, m] when `transA`), B is [batch, k, n] (or [batch, n, k]),
 * the result is a fresh [batch, m, n]. Each element of C is computed by one thread in one fixed
 * order, so the result does not depend on the thread count. Returns `undefined` where the kernel
 * is unavailable or the product does not fit in 2 GiB.
 *
 * @example
 * ```ts
 * const c = wasmMatmul(Float64Array.of(1, 2, 3, 4), Float64Array.of(5, 6, 7, 8), 1, 2, 2, 2, false, false);
 * // c = [19, 22, 43, 50]
 * ```
 */
export function wasmMatmul(
  a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number,
  transA: boolean, transB: boolean, threading: GemmThreading = {},
): Float64Array | undefined {
  const threads = Math.max(1, Math.floor(threading.threads ?? defaultThreads()));
  return getEngine()?.matmul(
    a, b, batch, m, k, n, transA, transB, threads, threading.minMacsPerThread ?? THREAD_MIN_MACS, threading.pipelineMinMacs ?? PIPELINE_MIN_MACS,
  );
}

/**
 * A batched product C[q] = A[q]·B[q] (m × k times k × n) whose operands the caller packs straight
 * into the kernel's memory, so an operand that is a gather (a convolution's windows) needs no
 * intermediate array: `fill` writes the packed slices at the places {@link PackedLayout} gives,
 * the kernel runs, and the returned layout locates C until the next product. `sharedA`: one A
 * for every slice. `undefined` where the kernel is unavailable or the product does not fit.
 *
 * @example
 * ```ts
 * const l = wasmPackedProduct(1, 1, 1, 1, false, (l) => {
 *   l.H.fill(0, l.aBase, l.bBase + l.bSlice); // zero the padded panels
 *   l.H[l.aBase] = 3; l.H[l.bBase] = 4;      // A = [3], B = [4]
 * });
 * l!.H[l!.cBase]; // 12
 * ```
 */
export function wasmPackedProduct(
  batch: number, m: number, k: number, n: number, sharedA: boolean,
  fill: (l: PackedLayout) => void, threading: GemmThreading = {},
): PackedLayout | undefined {
  const threads = Math.max(1, Math.floor(threading.threads ?? defaultThreads()));
  return getEngine()?.packed(batch, m, k, n, sharedA, threads, threading.minMacsPerThread ?? THREAD_MIN_MACS, fill);
}

/**
 * Starts the worker threads a `threads`-way product needs and, when `timeoutMs` > 0, blocks until
 * they are ready (at most that long). Returns the number of threads a large product can use now.
 * Products never wait for workers: until they are ready the calling thread computes alone, so
 * this is for benchmarks and tests that want the threaded path from the first call.
 *
 * @example
 * ```ts
 * warmGemmThreads(2, 5000); // 2 on a 2-core machine once the worker is up
 * ```
 */
export function warmGemmThreads(threads: number, timeoutMs = 0): number {
  const e = getEngine();
  if (!e) return 1;
  e.ensureWorkers(threads);
  return 1 + (timeoutMs > 0 ? e.waitForWorkers(timeoutMs) : e.readyWorkers().length);
}

/**
 * Stops the worker threads (a later threaded product starts them again).
 *
 * @example
 * ```ts
 * stopGemmThreads();
 * ```
 */
export function stopGemmThreads(): void {
  engine?.stopWorkers();
}

/**
 * The engine's kernel, memory and thread state, or `undefined` where it is unavailable.
 *
 * @example
 * ```ts
 * const before = wasmGemmInfo()!.grows;
 * // … many products of one shape …
 * wasmGemmInfo()!.grows === before; // the memory was reused
 * ```
 */
export function wasmGemmInfo(): GemmInfo | undefined {
  const e = getEngine();
  if (!e) return undefined;
  return {
    kernel: { ...e.kernel },
    shared: e.shared,
    threads: 1 + e.readyWorkers().length,
    workersReady: e.readyWorkers().length,
    workerUnits: e.workerUnits(),
    memoryBytes: e.memoryBytes,
    grows: e.grows,
    calls: e.calls,
  };
}
