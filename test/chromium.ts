/**
 * How the browser tests launch Chromium: Debian's build (or `CHROMIUM_PATH`), headless, with
 * SwiftShader standing in for the GPU — WebGL2 through ANGLE and WebGPU through Vulkan on the CPU —
 * and the background network services off so that a machine without network access stays quiet.
 * Shared by the gpu.js kernel checks (test/gpu/browser/run.ts) and the lab's tests (test/lab/).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-swiftshader',
  '--use-angle=swiftshader',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
