/**
 * The WebAssembly SIMD GEMM against the plain TypeScript oracle (`cpuBackend.matmul`), within the
 * rounding bound derived in `product-bound.ts` (2·γ_k·Σ|a||b| element by element).
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/backend/cpu.ts';
import { getBackend, setBackend } from '../../src/backend/index.ts';
import { FastCpuBackend, matmulRoute } from '../../src/backend/wasm/backend.ts';
import { ByteWriter, ModuleBuilder, OP } from '../../src/backend/wasm/emit.ts';
import { kernelRegisters } from '../../src/backend/wasm/gemm-module.ts';
import { claimStarts, KC, stopGemmThreads, warmGemmThreads, wasmGemmAvailable, wasmGemmInfo, wasmMatmul } from '../../src/backend/wasm/gemm.ts';
import { matmul, tensor } from '../../src/index.ts';
import { absProducts, expectProductMatchesOracle, gamma, sizes } from './product-bound.ts';

/** The kernel's result equals the oracle's within the bound. */
function expectMatchesOracle(
  a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean,
  threads = 1, pipelineMinMacs?: number,
): Float64Array {
  const got = wasmMatmul(a, b, batch, m, k, n, tA, tB, { threads, minMacsPerThread: 0, pipelineMinMacs });
  return expectProductMatchesOracle(got, a, b, batch, m, k, n, tA, tB, `threads=${threads}`);
}

const seeded = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 3);

describe.runIf(wasmGemmAvailable())('WebAssembly GEMM', () => {
  beforeAll(() => {
    // Workers for the threaded cases; they start in the background and are awaited once here.
    warmGemmThreads(3, 20_000);
  });
  afterAll(() => stopGemmThreads());

  it('runs a kernel shape the register budget allows, with its worker threads up', () => {
    const { kernel, shared, workersReady } = wasmGemmInfo()!;
    // In Node the memory is shared and the two workers asked for in beforeAll are serving.
    if (typeof process !== 'undefined' && process.versions?.node) expect([shared, workersReady]).toEqual([true, 2]);
    // V8 gives WebAssembly 15 xmm registers: accumulators and the operands live with them.
    expect(kernelRegisters(kernel)).toBeLessThanOrEqual(15);
    expect(wasmMatmul(Float64Array.of(1, 2, 3, 4), Float64Array.of(5, 6, 7, 8), 1, 2, 2, 2, false, false)).toEqual(
      Float64Array.of(19, 22, 43, 50),
    );
  });

  it('matches the oracle on random shapes, transposes, batches and thread counts (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          m: fc.integer({ min: 1, max: 40 }),
          k: fc.integer({ min: 0, max: KC + 60 }),
          n: fc.integer({ min: 1, max: 40 }),
          tA: fc.boolean(),
          tB: fc.boolean(),
          threads: fc.integer({ min: 1, max: 3 }),
          // Also one product packed while the workers compute, whatever its size.
          pipelined: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1e6 }),
          scale: fc.constantFrom(1, 1e-150, 1e150),
        }),
        ({ batch, m, k, n, tA, tB, threads, pipelined, seed, scale }) => {
          const [sa, sb] = sizes(batch, m, k, n);
          const a = seeded(sa, seed).map((x) => x * scale);
          const b = seeded(sb, seed + 1);
          expectMatchesOracle(a, b, batch, m, k, n, tA, tB, threads, pipelined ? 0 : undefined);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('edge shapes: k = 0 and 1, sides below and across the tile, k across the k block', () => {
    const sides = [1, 2, 3, 5, 6, 7, 8, 9, 13];
    for (const m of sides) {
      for (const n of sides) {
        for (const k of [0, 1, 2, 7]) {
          for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
            const [sa, sb] = sizes(2, m, k, n);
            const got = expectMatchesOracle(seeded(sa, m), seeded(sb, n + 3), 2, m, k, n, tA, tB);
            if (k === 0) expect(got.every((x) => x === 0)).toBe(true);
          }
        }
      }
    }
    for (const k of [KC - 1, KC, KC + 1, 2 * KC + 1]) {
      for (const [tA, tB] of [[false, false], [true, true]] as const) {
        const [sa, sb] = sizes(1, 11, k, 14);
        expectMatchesOracle(seeded(sa, k), seeded(sb, k + 1), 1, 11, k, 14, tA, tB, 2);
      }
    }
    // An empty side gives an empty result.
    expect(wasmMatmul(new Float64Array(0), seeded(12, 1), 1, 0, 3, 4, false, false)!.length).toBe(0);
  });

  it('large products split across threads give the single-thread result bit for bit', () => {
    warmGemmThreads(3, 20_000);
    // Packed whole, then shared; and packed while the workers compute (B in k blocks, the last
    // one partial, A a claim at a time), the way large products are.
    for (const [m, k, n, pipelineMinMacs] of [[301, 280, 190, Infinity], [301, 2 * KC + 76, 190, 0]]) {
      for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = seeded(m * k, 5), b = seeded(k * n, 6);
        // The threaded product first: computed second, a worker that skipped its panels would
        // leave the single-thread result of the same shape in the output region and still pass.
        // (Which thread claims which panels is dynamic: on a loaded machine the caller may take
        // them all before a worker wakes, so the share each thread got is not asserted here.)
        const many = expectMatchesOracle(a, b, 1, m, k, n, tA, tB, 3, pipelineMinMacs);
        const one = wasmMatmul(a, b, 1, m, k, n, tA, tB, { threads: 1 })!;
        expect(many).toEqual(one);
      }
    }
    // A batch whose slices are shared out across threads.
    const [sa, sb] = sizes(5, 40, 30, 20);
    const a = seeded(sa, 9), b = seeded(sb, 10);
    expect(expectMatchesOracle(a, b, 5, 40, 30, 20, false, true, 3)).toEqual(wasmMatmul(a, b, 5, 40, 30, 20, false, true, { threads: 1 }));
    // 33,000 slices of one row panel: claims grow to 129 units so that they fit the 512 claim
    // flags (threaded first, as above).
    const [sa2, sb2] = sizes(33_000, 4, 8, 8);
    const a2 = seeded(sa2, 11), b2 = seeded(sb2, 12);
    const threaded = wasmMatmul(a2, b2, 33_000, 4, 8, 8, false, false, { threads: 3, minMacsPerThread: 0 })!;
    const single = wasmMatmul(a2, b2, 33_000, 4, 8, 8, false, false, { threads: 1 })!;
    // (Compared in a loop: toEqual on 2 million elements takes seconds.)
    let differing = 0;
    for (let i = 0; i < single.length; i++) if (!Object.is(threaded[i], single[i])) differing++;
    expect([threaded.length, differing]).toEqual([33_000 * 4 * 8, 0]);
  });

  it('claims cover the units in order, fit the 512 flags, and shrink toward the end (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 2, max: 64 }), fc.constantFrom(2, 4), (units, use, mr) => {
        const starts = claimStarts(units, use, mr);
        const sizes = starts.slice(1).map((s, i) => s - starts[i]!);
        expect([starts[0], starts.at(-1)]).toEqual([0, units]);
        expect(sizes.length).toBeLessThanOrEqual(512);
        // Never growing: whichever thread takes the last claim holds the others up by the least.
        const growing = sizes.findIndex((s, i) => s <= 0 || (i > 0 && s > sizes[i - 1]!));
        expect(growing, `claim ${growing} of ${JSON.stringify(sizes)}`).toBe(-1);
        // With a few threads the last claim is at most a quarter of the first (rounded up).
        if (use <= 16 && sizes.length > 4 * use) expect(sizes.at(-1)!).toBeLessThanOrEqual(Math.ceil(sizes[0]! / 4));
      }),
      { numRuns: 300 },
    );
  });

  it('an operand that fails while the workers compute: the error reaches the caller, and the next product is right', () => {
    warmGemmThreads(2, 20_000);
    const m = 200, k = 2 * KC + 10, n = 60;
    const a = seeded(m * k, 21), b = seeded(k * n, 22);
    // A's rows are staged for the packers through `subarray`; failing on a later call fails while
    // the workers are already computing on the first claims (after they were woken).
    class Failing extends Float64Array {
      calls = 0;
      override subarray(begin?: number, end?: number): Float64Array<ArrayBuffer> {
        if (++this.calls > 2) throw new Error('operand unreadable');
        return super.subarray(begin, end);
      }
    }
    const bad = new Failing(a);
    expect(() => wasmMatmul(bad, b, 1, m, k, n, false, false, { threads: 2, minMacsPerThread: 0, pipelineMinMacs: 0 })).toThrow('operand unreadable');
    expect(bad.calls).toBeGreaterThan(2);
    // No worker was left waiting for a piece or still writing: the same product is right now.
    const good = expectMatchesOracle(a, b, 1, m, k, n, false, false, 2, 0);
    expect(good).toEqual(wasmMatmul(a, b, 1, m, k, n, false, false, { threads: 1 }));
  });

  it('stops its workers and starts fresh ones', () => {
    stopGemmThreads();
    expect(wasmGemmInfo()!.workersReady).toBe(0);
    // Until workers are up again, a threaded product runs on the calling thread alone.
    expectMatchesOracle(seeded(50 * 40, 1), seeded(40 * 30, 2), 1, 50, 40, 30, false, false, 3);
    expect(warmGemmThreads(3, 20_000)).toBe(wasmGemmInfo()!.shared ? 3 : 1);
    expectMatchesOracle(seeded(50 * 40, 3), seeded(40 * 30, 4), 1, 50, 40, 30, true, false, 3);
  });

  it('NaN and ±Infinity propagate as in the oracle', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 12 }),
          k: fc.integer({ min: 1, max: 12 }),
          n: fc.integer({ min: 1, max: 12 }),
          tA: fc.boolean(),
          tB: fc.boolean(),
          seed: fc.integer({ min: 0, max: 1e6 }),
          holes: fc.array(fc.tuple(fc.boolean(), fc.nat(), fc.constantFrom(NaN, Infinity, -Infinity, 0)), { minLength: 1, maxLength: 6 }),
        }),
        ({ m, k, n, tA, tB, seed, holes }) => {
          const a = seeded(m * k, seed), b = seeded(k * n, seed + 7);
          for (const [inA, at, v] of holes) {
            const x = inA ? a : b;
            x[at % x.length] = v;
          }
          expectMatchesOracle(a, b, 1, m, k, n, tA, tB, 2);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reuses its memory: no growth and a flat heap over many calls', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => (gc(), gc(), process.memoryUsage().heapUsed);
    const m = 64, k = 48, n = 40;
    const a = seeded(m * k, 1), b = seeded(k * n, 2);
    wasmMatmul(a, b, 1, m, k, n, false, true, { threads: 2, minMacsPerThread: 0 });
    const before = wasmGemmInfo()!;
    const heap0 = heap();
    for (let i = 0; i < 5000; i++) wasmMatmul(a, b, 1, m, k, n, i % 2 === 0, true, { threads: 2, minMacsPerThread: 0 });
    const after = wasmGemmInfo()!;
    expect(after.calls - before.calls).toBe(5000);
    expect(after.grows).toBe(before.grows);
    expect(after.memoryBytes).toBe(before.memoryBytes);
    // The results are fresh arrays the GC collects; anything the call kept would add up (5000 ×
    // even 100 bytes is 0.5 MB). 2 MB leaves room for V8's own noise.
    expect(heap() - heap0).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('the default CPU backend', () => {
  it("is the WebAssembly-accelerated 'cpu'; 'reference' is the oracle; threads is an option", () => {
    expect(getBackend()).toBeInstanceOf(FastCpuBackend);
    expect(getBackend().precision).toBe('float64');
    try {
      setBackend('cpu', { threads: 1 });
      expect((getBackend() as FastCpuBackend).threads).toBe(1);
      expect(() => setBackend('cpu', { threads: 0 })).toThrow(/threads/);
      setBackend('reference');
      expect(getBackend()).toBe(cpuBackend);
    } finally {
      setBackend('cpu');
    }
    expect((getBackend() as FastCpuBackend).threads).toBeGreaterThanOrEqual(1);
  });

  it('routes large products to the GEMM, thin ones to the narrow kernels, tiny ones to the oracle', () => {
    if (wasmGemmAvailable()) {
      expect(matmulRoute(64, 64, 64)).toBe('gemm');
      expect(matmulRoute(5, 1000, 784)).toBe('gemm');
      expect(matmulRoute(2, 1000, 784)).toBe('narrow');
      expect(matmulRoute(1000, 784, 4)).toBe('narrow');
      expect(matmulRoute(1000, 784, 1)).toBe('narrow');
    }
    expect(matmulRoute(4, 4, 4)).toBe('oracle');
    expect(matmulRoute(8, 8, 100)).toBe('oracle');
  });

  it('the public matmul agrees with the oracle backend above the cutoff', () => {
    const A = seeded(70 * 50, 3), B = seeded(50 * 60, 4);
    const fast = matmul(tensor(A, [70, 50]), tensor(B, [50, 60])).toFloat64Array();
    setBackend('reference');
    try {
      const ref = matmul(tensor(A, [70, 50]), tensor(B, [50, 60])).toFloat64Array();
      const scale = absProducts(A, B, 1, 70, 50, 60, false, false);
      for (let i = 0; i < ref.length; i++) expect(Math.abs(fast[i]! - ref[i]!)).toBeLessThanOrEqual(2 * gamma(50) * scale[i]!);
    } finally {
      setBackend('cpu');
    }
  });
});

describe('WebAssembly emitter', () => {
  it('writes LEB128 as the spec gives it', () => {
    expect([...new ByteWriter().u32(624485).toBytes()]).toEqual([0xe5, 0x8e, 0x26]);
    expect([...new ByteWriter().u32(0).toBytes()]).toEqual([0]);
    expect([...new ByteWriter().i32(-123456).toBytes()]).toEqual([0xc0, 0xbb, 0x78]);
    expect([...new ByteWriter().i32(63).toBytes()]).toEqual([0x3f]);
    expect([...new ByteWriter().i32(64).toBytes()]).toEqual([0xc0, 0x00]);
    expect([...new ByteWriter().i32(-64).toBytes()]).toEqual([0x40]);
    expect(() => new ByteWriter().u32(-1)).toThrow();
  });

  it('builds a module that validates and runs (loops, locals, calls)', () => {
    const mod = new ModuleBuilder();
    const add = mod.func('add', ['i32', 'i32'], ['i32'], (fb, [x, y]) => void fb.get(x!).get(y!).op(OP.i32_add));
    // sumTo(n) = 0 + 1 + … + (n − 1), through forLoop and a call.
    mod.func('sumTo', ['i32'], ['i32'], (fb, [n]) => {
      const i = fb.local('i32'), s = fb.local('i32');
      fb.forLoop(i, () => fb.i32Const(0), () => fb.get(n!), () => fb.i32Const(1), () => {
        fb.get(s).get(i).call(add).set(s);
      });
      fb.get(s);
    });
    const bytes = mod.toBytes();
    expect(WebAssembly.validate(bytes)).toBe(true);
    const ex = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as { add: (x: number, y: number) => number; sumTo: (n: number) => number };
    expect(ex.add(2, 40)).toBe(42);
    expect(ex.sumTo(10)).toBe(45);
  });
});
