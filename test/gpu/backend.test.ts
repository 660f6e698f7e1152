/**
 * The GPU backend (src/backend/gpu.ts), method by method, against a plain float64 implementation
 * written here, under the gpu.js modes Node runs (`cpu`, `webasm`). Inputs are rounded to float32
 * first, so each tolerance covers only the backend's own float32 arithmetic; the bounds are the
 * ones derived in suite.ts (exact for data movement, γ_k·Σ|terms| for sums and products, the
 * GLSL/WGSL ulp bounds for transcendental functions).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { GpuBackend, GpuStorage } from '../../src/backend/gpu.ts';
import type { BinaryOp, UnaryOp } from '../../src/backend/backend.ts';
import { Rng } from '../../src/core/rng.ts';
import { BINARY_CASES, UNARY_CASES, expectClose, gamma } from './suite.ts';

const prod = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
const strides = (s: readonly number[]) => {
  const st = s.map(() => 1);
  for (let i = s.length - 2; i >= 0; i--) st[i] = st[i + 1]! * s[i + 1]!;
  return st;
};
const coords = (f: number, s: readonly number[]) => {
  const c = s.map(() => 0);
  for (let i = s.length - 1; i >= 0; i--) {
    c[i] = f % s[i]!;
    f = Math.floor(f / s[i]!);
  }
  return c;
};
const at = (x: Float64Array, shape: readonly number[], c: readonly number[]) =>
  x[c.reduce((acc, v, i) => acc + v * strides(shape)[i]!, 0)]!;

/** float32-representable normal draws. */
function data(seed: number, n: number, scale = 1): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => Math.fround(rng.normal() * scale));
}

// ------------------------------------------------------------ the float64 reference

const ref = {
  reduce(op: 'sum' | 'max', x: Float64Array, shape: number[], axes: number[]) {
    const outShape = shape.filter((_, i) => !axes.includes(i));
    const out = new Float64Array(prod(outShape)).fill(op === 'sum' ? 0 : -Infinity);
    const abs = new Float64Array(out.length);
    for (let f = 0; f < x.length; f++) {
      const c = coords(f, shape).filter((_, i) => !axes.includes(i));
      const o = c.reduce((acc, v, i) => acc + v * strides(outShape)[i]!, 0);
      out[o] = op === 'sum' ? out[o]! + x[f]! : Math.max(out[o]!, x[f]!);
      abs[o]! += Math.abs(x[f]!);
    }
    return { out, abs };
  },
  view(x: Float64Array, shape: number[], outShape: number[], map: (c: number[]) => number[] | null) {
    const out = new Float64Array(prod(outShape));
    for (let f = 0; f < out.length; f++) {
      const src = map(coords(f, outShape));
      out[f] = src ? at(x, shape, src) : 0;
    }
    return out;
  },
  matmul(a: Float64Array, b: Float64Array, batch: number, m: number, k: number, n: number, ta: boolean, tb: boolean) {
    const c = new Float64Array(batch * m * n);
    const abs = new Float64Array(c.length);
    for (let t = 0; t < batch; t++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++)
          for (let p = 0; p < k; p++) {
            const v = (ta ? a[t * m * k + p * m + i]! : a[t * m * k + i * k + p]!) * (tb ? b[t * k * n + j * k + p]! : b[t * k * n + p * n + j]!);
            c[(t * m + i) * n + j]! += v;
            abs[(t * m + i) * n + j]! += Math.abs(v);
          }
    return { c, abs };
  },
};

for (const mode of ['cpu', 'webasm'] as const) {
  describe(`GpuBackend mode ${mode}`, () => {
    const gpu = new GpuBackend({ mode });
    afterAll(() => gpu.destroy());
    const put = (x: Float64Array) => gpu.fromFloat64(x);
    const get = (s: unknown, n: number) => gpu.toFloat64(s, n);

    it('reports its name and precision', () => {
      expect(gpu.name).toBe('gpu');
      expect(gpu.precision).toBe('float32');
    });

    it('fromFloat64 / toFloat64 round-trip through float32', () => {
      const x = Float64Array.from([0.1, -2.5, 1e10, 3]);
      const back = get(put(x), 4);
      expect(Array.from(back)).toEqual(Array.from(x, Math.fround));
      expect(get(put(new Float64Array(0)), 0).length).toBe(0);
    });

    it('fill', () => {
      expect(Array.from(get(gpu.fill(5, -1.25), 5))).toEqual([-1.25, -1.25, -1.25, -1.25, -1.25]);
      expect(get(gpu.fill(0, 3), 0).length).toBe(0);
    });

    for (const op of Object.keys(UNARY_CASES) as UnaryOp[]) {
      it(`unary ${op}`, () => {
        const cs = UNARY_CASES[op];
        const x = cs.domain(new Rng(7), 64).d;
        const want = x.map(cs.ref);
        expectClose(op, get(gpu.unary(op, put(x), 64), 64), want, (i) => cs.tol(x[i]!, want[i]!));
      });
    }

    for (const op of Object.keys(BINARY_CASES) as BinaryOp[]) {
      it(`binary ${op}`, () => {
        const cs = BINARY_CASES[op];
        const { a, b } = cs.domain(new Rng(8), 50, 50);
        const want = a.d.map((v, i) => cs.ref(v, b.d[i]!));
        expectClose(op, get(gpu.binary(op, put(a.d), put(b.d), 50), 50), want, (i) => cs.tol(a.d[i]!, b.d[i]!, want[i]!));
      });
    }

    it('select', () => {
      const c = Float64Array.from({ length: 30 }, (_, i) => (i % 3 ? 1 : 0));
      const a = data(1, 30);
      const b = data(2, 30);
      const want = c.map((v, i) => (v !== 0 ? a[i]! : b[i]!));
      expectClose('select', get(gpu.select(put(c), put(a), put(b), 30), 30), want, () => 0);
    });

    const shape = [3, 4, 5, 2];
    for (const axes of [[], [0], [3], [1, 2], [0, 2], [0, 1, 2, 3]]) {
      for (const op of ['sum', 'max'] as const) {
        it(`reduce ${op} over [${axes}]`, () => {
          const x = data(3, prod(shape));
          const { out, abs } = ref.reduce(op, x, shape, axes);
          const got = get(gpu.reduce(op, put(x), shape, axes), out.length);
          expectClose(`${op} [${axes}]`, got, out, (i) => (op === 'sum' ? gamma(prod(shape) + 2) * abs[i]! : 0));
        });
      }
    }
    it('reduce of an empty tensor gives the identities 0 and -Infinity', () => {
      expect(Array.from(get(gpu.reduce('sum', put(new Float64Array(0)), [2, 0], [1]), 2))).toEqual([0, 0]);
      expect(Array.from(get(gpu.reduce('max', put(new Float64Array(0)), [2, 0], [1]), 2))).toEqual([-Infinity, -Infinity]);
    });

    it('broadcast', () => {
      const x = data(4, 3 * 2);
      const want = ref.view(x, [3, 1, 2], [3, 4, 2], (c) => [c[0]!, 0, c[2]!]);
      expectClose('broadcast', get(gpu.broadcast(put(x), [3, 1, 2], [3, 4, 2]), 24), want, () => 0);
    });

    it('transpose', () => {
      const x = data(5, prod(shape));
      const perm = [2, 0, 3, 1];
      const want = ref.view(x, shape, perm.map((p) => shape[p]!), (c) => {
        const src = [0, 0, 0, 0];
        perm.forEach((p, i) => (src[p] = c[i]!));
        return src;
      });
      expectClose('transpose', get(gpu.transpose(put(x), shape, perm), want.length), want, () => 0);
    });

    it('slice', () => {
      const x = data(6, prod(shape));
      const starts = [1, 0, 2, 1];
      const sizes = [2, 4, 3, 1];
      const want = ref.view(x, shape, sizes, (c) => c.map((v, i) => v + starts[i]!));
      expectClose('slice', get(gpu.slice(put(x), shape, starts, sizes), want.length), want, () => 0);
    });

    it('pad', () => {
      const x = data(7, 2 * 3);
      const lo = [1, 0];
      const hi = [2, 3];
      const want = ref.view(x, [2, 3], [5, 6], (c) => {
        const s = [c[0]! - 1, c[1]!];
        return s[0]! >= 0 && s[0]! < 2 && s[1]! < 3 ? s : null;
      });
      expectClose('pad', get(gpu.pad(put(x), [2, 3], lo, hi), 30), want, () => 0);
    });

    it('concat (an empty piece included)', () => {
      const a = data(8, 2 * 3);
      const b = data(9, 2 * 1);
      const want = ref.view(new Float64Array([...a, ...b]), [8], [2, 4], (c) => (c[1]! < 3 ? [c[0]! * 3 + c[1]!] : [6 + c[0]!]));
      const got = get(gpu.concat([put(a), put(new Float64Array(0)), put(b)], [[2, 3], [2, 0], [2, 1]], 1), 8);
      expectClose('concat', got, want, () => 0);
    });

    it('take', () => {
      const x = data(10, 4 * 3);
      const idx = Float64Array.from([2, 0, 2, 3]);
      const want = ref.view(x, [4, 3], [4, 3], (c) => [idx[c[0]!]!, c[1]!]);
      expectClose('take', get(gpu.take(put(x), [4, 3], idx, 0), 12), want, () => 0);
    });

    it('scatterAdd (repeated indices accumulate)', () => {
      const g = data(11, 3 * 4);
      const idx = Float64Array.from([1, 4, 1, 1]);
      const want = new Float64Array(3 * 5);
      const abs = new Float64Array(want.length);
      for (let r = 0; r < 3; r++)
        idx.forEach((j, p) => {
          want[r * 5 + j]! += g[r * 4 + p]!;
          abs[r * 5 + j]! += Math.abs(g[r * 4 + p]!);
        });
      expectClose('scatterAdd', get(gpu.scatterAdd(put(g), [3, 4], idx, 1, 5), 15), want, (i) => gamma(4) * abs[i]!);
    });

    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      it(`matmul batched ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, () => {
        const [batch, m, k, n] = [2, 3, 7, 4];
        const a = data(12, batch * m * k);
        const b = data(13, batch * k * n);
        const { c, abs } = ref.matmul(a, b, batch, m, k, n, ta, tb);
        const got = get(gpu.matmul(put(a), put(b), batch, m, k, n, ta, tb), c.length);
        expectClose('matmul', got, c, (i) => gamma(k + 2) * abs[i]!);
      });
    }
    it('matmul with k = 0 is zero', () => {
      const empty = put(new Float64Array(0));
      expect(Array.from(get(gpu.matmul(empty, empty, 1, 2, 0, 2, false, false), 4))).toEqual([0, 0, 0, 0]);
    });

    it('leaves inputs untouched and returns fresh storage', () => {
      const xs = put(Float64Array.from([1, 2, 3]));
      const ys = gpu.binary('add', xs, xs, 3);
      const zs = gpu.unary('neg', ys, 3);
      expect(ys).not.toBe(xs);
      expect(Array.from(get(xs, 3))).toEqual([1, 2, 3]);
      expect(Array.from(get(ys, 3))).toEqual([2, 4, 6]);
      expect(Array.from(get(zs, 3))).toEqual([-2, -4, -6]);
    });

    it('a large matrix used again is kept resident on webasm, and its values stay right', () => {
      // 320 × 256 floats is above the backend's residency threshold (65,536 elements).
      const m = 320;
      const k = 256;
      const A = put(data(91, m * k));
      const A2 = put(data(92, m * k));
      const stats = gpu.ctx.residentStats;
      const before = { ...stats };
      for (const [which, a, seed] of [['A', A, 93], ['A again', A, 94], ['another A', A2, 95], ['A back', A, 96]] as const) {
        for (const transA of [false, true]) {
          const rows = transA ? k : m;
          const inner = transA ? m : k;
          const v = data(seed, inner);
          const { c, abs } = ref.matmul(gpu.toFloat64(a, m * k), v, 1, rows, inner, 1, transA, false);
          const got = get(gpu.matmul(a, put(v), 1, rows, inner, 1, transA, false), rows);
          expectClose(`resident matvec ${which} ${transA ? 'T' : 'N'}`, got, c, (i) => gamma(inner + 2) * abs[i]!);
        }
      }
      gpu.release(A);
      gpu.release(A2);
      if (mode === 'webasm') {
        expect(stats.fallbacks - before.fallbacks).toBe(0);
        expect(stats.reuses - before.reuses).toBe(2); // 'A again', per orientation
        expect(stats.uploads - before.uploads).toBe(6);
      } else {
        expect(stats).toEqual(before); // nothing resident off webasm
      }
    });

    it('release frees storage deterministically and makes later use an error', () => {
      const s = put(Float64Array.from([1, 2]));
      expect(s).toBeInstanceOf(GpuStorage);
      gpu.release(s);
      expect((s as GpuStorage).released).toBe(true);
      expect(() => gpu.unary('neg', s, 2)).toThrow(/after release/);
      expect(() => gpu.release(s)).not.toThrow();
    });

    it('rejects storage from another backend', () => {
      expect(() => gpu.unary('neg', new Float64Array(2), 2)).toThrow(/another backend/);
    });
  });
}

describe('GpuBackend outside a browser', () => {
  // gpu.js's own message for this ("A requested mode of "webgl2" and is not supported") does not
  // say why or what to use instead; ours must.
  it.each(['webgl2', 'webgpu'] as const)('mode %s in Node names the browser and the modes that work here', (mode) => {
    expect(() => new GpuBackend({ mode })).toThrow(new RegExp(`'${mode}' is not available here: .*only in a browser.*use 'webasm' or 'cpu'`));
  });
});
