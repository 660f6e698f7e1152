/**
 * Behaviour of individual ops that the property tests cannot pin: NaN propagation, numpy's `dot`
 * at higher ranks, and the error messages users see for bad slices, stacks and new axes (they name
 * the op and report the arguments as the user passed them).
 */
import { describe, expect, it } from 'vitest';
import {
  type Tensor,
  arange, dot, expandDims, grad, matmul, randomNormal, relu, reshape, slice, stack, sum, take, tensor, zeros,
} from '../../src/index.ts';
import { expectClose } from '../helpers.ts';

describe('relu', () => {
  it('propagates NaN (relu(NaN) is NaN, not 0), keeps 0 at 0 and its derivative 0 there', () => {
    const y = relu(tensor([NaN, -1, 0, 2])).toFloat64Array();
    expect(Number.isNaN(y[0]!)).toBe(true);
    expect(Array.from(y.slice(1))).toEqual([0, 0, 2]);
    expect(Array.from((grad((x: Tensor) => sum(relu(x)))(tensor([-1, 0, 2])) as Tensor).toFloat64Array())).toEqual([0, 0, 1]);
  });
});

/** numpy.dot by its definition: out[i…, j…, n] = Σ_k a[i…, k] · b[j…, k, n]. */
function numpyDot(a: Tensor, b: Tensor): { shape: number[]; data: number[] } {
  const [A, B] = [a.toFloat64Array(), b.toFloat64Array()];
  const k = a.shape[a.ndim - 1]!;
  const n = b.shape[b.ndim - 1]!;
  const rows = a.size / k;
  const mats = b.size / (k * n);
  const data: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < mats; j++) {
      for (let c = 0; c < n; c++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += A[i * k + l]! * B[j * k * n + l * n + c]!;
        data.push(s);
      }
    }
  }
  return { shape: [...a.shape.slice(0, -1), ...b.shape.slice(0, -2), n], data };
}

describe('dot follows numpy.dot (and jax.numpy.dot) at every rank', () => {
  it.each([
    [[2, 3, 4], [4, 5]],
    [[2, 3, 4], [6, 4, 5]],
    [[4], [2, 4, 3]],
    [[3, 4], [2, 2, 4, 5]],
  ])('dot of shapes %j and %j contracts the last axis of a with the second-to-last of b', (sa, sb) => {
    const a = randomNormal(sa, 1);
    const b = randomNormal(sb, 2);
    const want = numpyDot(a, b);
    const got = dot(a, b);
    expect(got.shape).toEqual(want.shape);
    expectClose(got, want.data, { rtol: 1e-13, atol: 1e-13 });
  });

  it('differs from matmul where numpy does: rank 3 · rank 3 pairs every row with every matrix', () => {
    const a = randomNormal([2, 3, 4], 3);
    const b = randomNormal([2, 4, 5], 4);
    expect(dot(a, b).shape).toEqual([2, 3, 2, 5]);
    expect(matmul(a, b).shape).toEqual([2, 3, 5]);
  });

  it('vectors give the inner product, a scalar operand multiplies, a vector on the right contracts the last axis', () => {
    expect(dot(tensor([1, 2, 3]), tensor([4, 5, 6])).item()).toBe(32);
    expect(dot(2, tensor([1, 2])).toArray()).toEqual([2, 4]);
    expect(dot(reshape(arange(6), [1, 2, 3]), tensor([1, 0, -1])).toArray()).toEqual([[-2, -2]]);
  });

  it('a size mismatch names dot and both contracted axes', () => {
    expect(() => dot(zeros([2, 3]), zeros([2, 4, 5]))).toThrow(/^dot: .*\[2, 3\] \(size 3\).*\[2, 4, 5\] \(size 4\)/);
    expect(() => dot(zeros([3]), zeros([2]))).toThrow(/^dot: /);
  });
});

describe('shape errors report what the user passed', () => {
  it('slice: a start of −5 on a length-3 axis is reported as −5, with the valid range', () => {
    expect(() => slice(arange(3), [-5])).toThrow(/^slice: start -5 is out of range for axis 0 of size 3.*starts \[-5\].*-3 to 3/);
    expect(() => slice(zeros([3, 4]), [0, 2], [2, 3])).toThrow(/^slice: size 3 from start 2 does not fit axis 1 of size 4.*starts \[0, 2\] and sizes \[2, 3\].*at most 2/);
    expect(() => slice(arange(3), [-2], [5])).toThrow(/size 5 from start -2/);
    expect(slice(arange(5), [-2]).toArray()).toEqual([3, 4]);
    expect(slice(arange(5), [5]).shape).toEqual([0]);
  });

  it('stack: names stack and shows the shapes as given, not with the new axis', () => {
    expect(() => stack([tensor([1, 2]), tensor([1, 2, 3])])).toThrow(
      /^stack: every tensor must have the same shape, but tensor 0 has shape \[2\] and tensor 1 has shape \[3\]$/,
    );
    expect(() => stack([zeros([2, 3])], 4)).toThrow(/^stack: axis 4 is out of range for an input of rank 2 \(shape \[2, 3\]\); the new axis can be -3 to 2$/);
    expect(stack([zeros([2, 3]), zeros([2, 3])], -1).shape).toEqual([2, 3, 2]);
  });

  it("expandDims: a rank-2 input at axis 3 reports rank 2 and the valid axes −3..2", () => {
    expect(() => expandDims(zeros([2, 2]), 3)).toThrow(/^expandDims: axis 3 is out of range for an input of rank 2 \(shape \[2, 2\]\); the new axis can be -3 to 2$/);
    expect(expandDims(zeros([2, 2]), 2).shape).toEqual([2, 2, 1]);
    expect(expandDims(zeros([2, 2]), -3).shape).toEqual([1, 2, 2]);
  });
});

describe('take and its transpose with empty and multi-axis indices', () => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  it('an empty index takes nothing and its gradient is zero, with the input shape', () => {
    const g = grad((z: Tensor) => sum(take(z, tensor([], [0]), 0)))(x) as Tensor;
    expect(g.shape).toEqual([2, 3]);
    expectClose(g, [0, 0, 0, 0, 0, 0], { atol: 0 });
  });
  it('a 2-D index along axis 1: each column gets the number of times it is taken, per row', () => {
    // take(z, [[0, 1], [1, 1]], 1) picks columns 0, 1, 1, 1 of each row: d/dz of the sum counts them.
    const g = grad((z: Tensor) => sum(take(z, tensor([[0, 1], [1, 1]]), 1)))(x) as Tensor;
    expectClose(g, [1, 3, 0, 1, 3, 0], { atol: 0 });
  });
});

describe('an axis of the wrong type', () => {
  it('is named in the error instead of "not iterable"', () => {
    const x = tensor([[1, 2], [3, 4]]);
    // A JavaScript caller passing an options object where take expects the axis number.
    expect(() => take(x, [0], { axis: 1 } as unknown as number)).toThrow(/take: an axis must be an integer or a list of integers, got \{"axis":1\}/);
    expect(() => sum(x, 'rows' as unknown as number)).toThrow(/an axis must be an integer/);
  });
});
