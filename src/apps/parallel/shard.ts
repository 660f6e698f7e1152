/**
 * How a sharded sweep (`unequal lds --shard i/k`, `unequal reweight --protocol paper --shard i/k`)
 * divides its items: contiguous shares whose sizes differ by at most one, so that the k shards,
 * taken in order, are the whole list once.
 *
 * @module
 */

/**
 * The share `[start, end)` of `total` items of shard `index` of `count`.
 *
 * @example
 * ```ts
 * shareOf(15, 0, 2); // [0, 7]
 * shareOf(15, 1, 2); // [7, 15]
 * ```
 */
export function shareOf(total: number, index: number, count: number): [number, number] {
  return [Math.floor((total * index) / count), Math.floor((total * (index + 1)) / count)];
}
