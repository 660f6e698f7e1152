/**
 * How the browser tests launch Chromium: Debian's build (or `CHROMIUM_PATH`), headless, with
 * SwiftShader standing in for the GPU — WebGL2 through ANGLE and WebGPU through Vulkan on the CPU —
 * and the background network services off so that a machine without network access stays quiet.
 * Shared by the gpu.js kernel checks (test/gpu/browser/run.ts), the lab's tests (test/lab/) and the
 * browser-threads check (test/browser-threads/).
 */
import { build } from 'esbuild';
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

/**
 * One classic script (IIFE) for the browser from a TypeScript entry, in memory: the same file can be
 * a page's script and a classic worker's. No minifying: gpu.js translates kernel bodies from their
 * source text, and gpu.js' package.json maps its browser build in through the "browser" field.
 */
export async function bundleForBrowser(entry: string): Promise<string> {
  const out = await build({ entryPoints: [entry], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', logLevel: 'warning' });
  return out.outputFiles[0]!.text;
}
