/**
 * gpu.js kernels for `unequal`: the float32 compute layer under `src/backend/gpu.ts`.
 *
 * Start with a {@link KernelContext} (one gpu.js instance in one mode); every function here takes
 * it first, accepts `Float32Array`s, `number[]`s or device handles, and resolves to a result.
 *
 * @example
 * ```ts
 * import { KernelContext, matmul } from './kernels/index.ts';
 * const ctx = new KernelContext({ mode: 'webasm' });
 * const c = await matmul(ctx, a, b, { m: 64, k: 32, n: 16 });
 * ```
 *
 * @module
 */
export * from './context.ts';
export * from './elementwise.ts';
export * from './matmul.ts';
export * from './reduce.ts';
export * from './movement.ts';
export { broadcastShapes, collapse, MAX_RANK } from './plan.ts';
export type { KernelThis } from './types.ts';
