/**
 * Deterministic release of device memory, and of the CPU's result arrays for reuse.
 *
 * A GPU backend holds textures or buffers that the garbage collector does not reclaim on any
 * schedule one can rely on, so unequal offers `tidy`, in the spirit of TensorFlow.js: run a
 * function, keep what it returns, release every other tensor it created, at once. On the CPU,
 * tensors are ordinary garbage-collected objects and nothing here is needed for correctness, but
 * released arrays are reused for later results of the same length (`src/backend/f64-pool.ts`), so
 * a loop under `tidy` stops allocating fresh memory (whose pages fault in on first write) after its
 * first step. Either way a released tensor can no longer be used: the engine throws.
 *
 * @module
 */
import { type Pytree, treeFlatten } from './pytree.ts';
import type { Backend, Storage } from '../backend/backend.ts';
import { ConcreteTensor, Tensor, tidyScopes } from './tensor.ts';

/**
 * Runs `fn` and releases the device memory of every tensor created during the call except the
 * tensors in its result (a pytree). Tensors created inside and kept elsewhere (in a closure, a
 * global, a pullback returned indirectly) are released too: return what you keep. Tensors made
 * before the call are never released, even when the call made a view of one (a `reshape` shares
 * its storage). Nested `tidy` calls hand their results to the enclosing scope. On the CPU backends
 * the released arrays are reused for later results, which makes a loop under `tidy` faster.
 *
 * @example
 * ```ts
 * setBackend('gpu', { mode: 'webasm' });
 * for (let step = 0; step < 10_000; step++) {
 *   params = tidy(() => sgdStep(params)); // intermediates (and the tape) freed each step
 * }
 * ```
 */
export function tidy<T extends Pytree>(fn: () => T): T {
  const scope = new Map<Storage, Backend>();
  tidyScopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    tidyScopes.pop();
  }
  const keep = new Set<unknown>();
  for (const leaf of treeFlatten(result!, 'tidy result').leaves) {
    if (leaf instanceof ConcreteTensor) keep.add(leaf.storage);
  }
  const parent = tidyScopes[tidyScopes.length - 1];
  for (const [storage, backend] of scope) {
    if (keep.has(storage)) parent?.set(storage, backend);
    else backend.release?.(storage);
  }
  return result!;
}

/**
 * Releases the device memory of the tensors in a pytree now (on the CPU, gives their arrays back
 * for reuse). Using them afterwards is an error.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2, 3]);
 * dispose(x);
 * ```
 */
export function dispose(tree: Pytree): void {
  const seen = new Set<unknown>();
  for (const leaf of treeFlatten(tree, 'dispose').leaves) {
    if (leaf instanceof ConcreteTensor && !seen.has(leaf.storage)) {
      seen.add(leaf.storage);
      leaf.backend.release?.(leaf.storage);
    } else if (leaf instanceof Tensor && !(leaf instanceof ConcreteTensor)) {
      throw new Error('dispose: cannot dispose a traced tensor inside a transformation');
    }
  }
}
