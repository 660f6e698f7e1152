/**
 * The `this` a gpu.js kernel body sees. Bodies in `kernels/` declare it so TypeScript checks them;
 * gpu.js translates them to GLSL, WGSL, WebAssembly or JavaScript and supplies the real `this`.
 *
 * @module
 */

/** Thread coordinates and compile-time constants available inside a kernel body. */
export interface KernelThis {
  readonly thread: { readonly x: number; readonly y: number; readonly z: number };
  readonly constants: Readonly<Record<string, number>>;
}
