/**
 * Tensor creation, reading back, ndarray interop, and the errors users see for malformed input.
 */
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import {
  Rng, arange, eye, fromNdarray, full, ones, randomNormal, randomUniform, tensor, toNdarray, zeros, mean, sum, mul, sub,
  transpose, take,
} from '../../src/index.ts';

describe('tensor()', () => {
  it('infers shapes from nesting and reads back the same values', () => {
    expect(tensor(5).shape).toEqual([]);
    expect(tensor(5).toArray()).toBe(5);
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(tensor(new Float64Array([1, 2, 3, 4]), [2, 2]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor([]).shape).toEqual([0]);
  });
  it('rejects ragged nesting and wrong sizes with the index and shapes involved', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged.*\[1\].*length 1.*length 2/);
    expect(() => tensor(new Float64Array(3), [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
  });
  it('accepts every typed array of numbers, flat, with a shape, or as rows of a nested array', () => {
    expect(tensor(new Int32Array([1, -2, 3])).toArray()).toEqual([1, -2, 3]);
    expect(tensor(new Uint8Array([1, 2, 3, 4]), [2, 2]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor(new Float32Array([0.5, 1.5])).toArray()).toEqual([0.5, 1.5]);
    expect(tensor([new Int16Array([1, 2]), new Int16Array([3, 4])]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tensor([[new Float64Array([1, 2])], [new Float64Array([3, 4])]], [4]).toArray()).toEqual([1, 2, 3, 4]);
    expect(tensor(new Int32Array(0)).shape).toEqual([0]);
  });
  it('refuses BigInt arrays, ragged typed rows and non-numbers with what it found', () => {
    expect(() => tensor(new BigInt64Array(2) as never)).toThrow(/BigInt64Array holds bigints.*Float64Array.from/);
    expect(() => tensor([new Int32Array([1, 2]), new Int32Array([3])])).toThrow(/ragged.*\[1\] has length 1.*expected length 2/);
    expect(() => tensor(['a'] as never)).toThrow(/expected a number at index \[0\].*got a string$/);
  });
  it('a cyclic nested array is an error, not an endless loop', () => {
    const loop: unknown[] = [];
    loop.push(loop);
    expect(() => tensor(loop as never)).toThrow(/nested more than 64 deep.*cyclic/);
    expect(() => tensor(loop as never, [1])).toThrow(/nested more than 64 deep.*cyclic/);
  });
  it('is not affected by later changes to the source array', () => {
    const src = new Float64Array([1, 2]);
    const t = tensor(src);
    src[0] = 99;
    expect(t.toArray()).toEqual([1, 2]);
  });
  it('item() requires exactly one element', () => {
    expect(tensor([[7]]).item()).toBe(7);
    expect(() => tensor([1, 2]).item()).toThrow(/shape \[2\]/);
  });
});

describe('constructors', () => {
  it('zeros, ones, full, eye, arange', () => {
    expect(zeros([2]).toArray()).toEqual([0, 0]);
    expect(ones([1, 2]).toArray()).toEqual([[1, 1]]);
    expect(full([2], 3.5).toArray()).toEqual([3.5, 3.5]);
    expect(eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(3, 0, -1).toArray()).toEqual([3, 2, 1]);
    expect(() => zeros([2, -1])).toThrow(/invalid shape \[2, -1\]/);
    expect(() => arange(0, 1, 0)).toThrow(/step/);
  });
  it('seeded random draws are reproducible and have the right moments', () => {
    expect(randomUniform([5], 3).toArray()).toEqual(randomUniform([5], 3).toArray());
    expect(randomUniform([5], 3).toArray()).not.toEqual(randomUniform([5], 4).toArray());
    const u = randomUniform([20_000], 1, -1, 1);
    // mean of U(−1, 1) is 0 with standard error sqrt(1/3 / 20000) ≈ 0.004: 5 standard errors.
    expect(Math.abs(mean(u).item())).toBeLessThan(0.02);
    const z = randomNormal([20_000], new Rng(2), 3, 2);
    expect(Math.abs(mean(z).item() - 3)).toBeLessThan(0.07); // 5 × 2/sqrt(20000)
    const variance = mean(mul(sub(z, 3), sub(z, 3))).item();
    expect(Math.abs(variance - 4)).toBeLessThan(0.2); // sd of the variance estimate ≈ 4·sqrt(2/20000) = 0.04
  });
});

describe('ndarray interop', () => {
  it('shares memory with a dense Float64Array ndarray and copies strided views', () => {
    const data = new Float64Array([1, 2, 3, 4, 5, 6]);
    const nd = ndarray(data, [2, 3]);
    const t = fromNdarray(nd);
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect((t as unknown as { storage: Float64Array }).storage.buffer).toBe(data.buffer);
    const tr = fromNdarray(nd.transpose(1, 0));
    expect(tr.toArray()).toEqual(transpose(t).toArray());
    const picked = fromNdarray(nd.pick(null, 1));
    expect(picked.toArray()).toEqual([2, 5]);
  });
  it('toNdarray gives an ndarray view with the same values and shape', () => {
    const t = tensor([[1, 2], [3, 4]]);
    const nd = toNdarray(t);
    expect(nd.shape).toEqual([2, 2]);
    expect(nd.get(1, 0)).toBe(3);
    expect(sum(fromNdarray(nd)).item()).toBe(10);
  });
});

describe('take', () => {
  it('accepts negative indices numpy-style and index tensors with their shape', () => {
    const x = tensor([10, 20, 30]);
    expect(take(x, [-1, 0]).toArray()).toEqual([30, 10]);
    expect(take(x, tensor([[0, 1], [2, 2]])).toArray()).toEqual([[10, 20], [30, 30]]);
    expect(() => take(x, [3])).toThrow(/index 3 is out of range for axis 0 of size 3/);
  });
});
