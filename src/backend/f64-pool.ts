/**
 * Reuse of the CPU backends' float64 result arrays, for the tensors `tidy` and `dispose` release.
 *
 * Every CPU operation returns a fresh `Float64Array`. A fresh array of a megabyte costs far more
 * than the loop that fills it: its pages fault in on first write (0.33 ms to add two 128,000-element
 * arrays into a fresh one, 0.054 ms into a reused one, bench/README.md), and the allocations drive
 * V8's external-memory garbage collections. The garbage collector cannot say when an array is free
 * on any useful schedule, but `tidy` can: it releases every storage its function made and did not
 * return. A released array comes back here and is handed out again, zeroed, for the next result of
 * the same length.
 *
 * A released tensor must never read an array that now holds another tensor's values, so release
 * moves the memory to a new `Float64Array` (transferring the buffer, which detaches the old view:
 * it reads as empty) and records the old one, so that the engine refuses to compute with the
 * tensor (`isReleased`, checked by `bind`) and reading it throws. Only arrays the backend allocated
 * here are reused: a tensor that wraps the caller's own array (`fromFloat64`) or whose array was
 * handed out (`toNdarray`) is never detached.
 *
 * @module
 */

/** Arrays shorter than this are not pooled: allocating them is cheap, and the pool stays small. */
const MIN_POOLED = 1024;
/** The most bytes the pool holds; beyond it released arrays are left to the garbage collector. */
const MAX_POOL_BYTES = 256 * 1024 * 1024;

const free = new Map<number, Float64Array[]>();
let pooledBytes = 0;
let reused = 0;
/** Arrays allocated here (the only ones that may be detached and reused). */
const owned = new WeakSet<Float64Array>();
/** Arrays handed out of the engine (`toNdarray`): never detached. */
const shared = new WeakSet<Float64Array>();
/** Arrays whose tensors were released. */
const released = new WeakSet<Float64Array>();

/**
 * A float64 array of `n` elements for a backend result: a released one of that length when the
 * pool has one, else a fresh one. `zeroed` (the default) clears a reused array; pass `false` only
 * when the caller writes every element.
 *
 * @example
 * ```ts
 * const out = allocateF64(1000, false);
 * for (let i = 0; i < 1000; i++) out[i] = i; // every element written
 * ```
 */
export function allocateF64(n: number, zeroed = true): Float64Array {
  const list = n >= MIN_POOLED ? free.get(n) : undefined;
  const a = list?.pop();
  if (a) {
    pooledBytes -= a.byteLength;
    reused++;
    if (zeroed) a.fill(0);
    owned.add(a);
    return a;
  }
  const fresh = new Float64Array(n);
  owned.add(fresh);
  return fresh;
}

/**
 * Releases a CPU storage (`Backend.release`): marks it released and, when it was allocated here,
 * was never handed out and is large enough, moves its memory into the pool, detaching `s` itself.
 * Releasing twice, or releasing an array the backend did not allocate, only marks it.
 *
 * @example
 * ```ts
 * const a = allocateF64(4096);
 * releaseF64(a);
 * isReleasedF64(a); // true, and a.length is now 0
 * ```
 */
export function releaseF64(s: Float64Array): void {
  if (released.has(s)) return;
  released.add(s);
  if (!owned.has(s) || shared.has(s) || s.length < MIN_POOLED || s.byteOffset !== 0 || s.byteLength !== s.buffer.byteLength) return;
  if (pooledBytes + s.byteLength > MAX_POOL_BYTES) return;
  const n = s.length;
  const moved = new Float64Array(structuredClone(s.buffer, { transfer: [s.buffer] }));
  let list = free.get(n);
  if (!list) free.set(n, (list = []));
  list.push(moved);
  pooledBytes += moved.byteLength;
}

/**
 * Whether a CPU storage was released by `tidy` or `dispose`.
 *
 * @example
 * ```ts
 * isReleasedF64(new Float64Array(3)); // false
 * ```
 */
export function isReleasedF64(s: Float64Array): boolean {
  return released.has(s);
}

/**
 * Marks an array as handed out of the engine (an ndarray view of a tensor): it will never be
 * detached or reused, whatever happens to its tensor.
 *
 * @example
 * ```ts
 * markSharedF64(t.storage as Float64Array);
 * ```
 */
export function markSharedF64(s: Float64Array): void {
  shared.add(s);
}

/**
 * Empties the pool (its arrays are left to the garbage collector): a benchmark timing code that
 * does not release anything starts from the state such code would be in.
 *
 * @example
 * ```ts
 * clearF64Pool();
 * f64PoolStats().arrays; // 0
 * ```
 */
export function clearF64Pool(): void {
  free.clear();
  pooledBytes = 0;
}

/**
 * The pool's state, for tests and benchmarks: arrays and bytes held, and how many allocations it
 * has served.
 *
 * @example
 * ```ts
 * const { arrays, bytes, reused } = f64PoolStats();
 * ```
 */
export function f64PoolStats(): { arrays: number; bytes: number; reused: number } {
  let arrays = 0;
  for (const list of free.values()) arrays += list.length;
  return { arrays, bytes: pooledBytes, reused };
}
