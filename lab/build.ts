/**
 * Builds the lab into a folder of static files: the page (lab/static/index.html, style.css), the
 * bundled app (lab/src/main.ts with the library, gpu.js' browser build and KaTeX, by esbuild),
 * KaTeX's style sheet and fonts (served locally: no CDN), and the influence explorer's digits.
 *
 * @module
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { writeDigits } from './build-data.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** Where `npm run lab` builds to (ignored by git). */
export const DEFAULT_OUT = join(here, 'dist');

/** What a build produced. */
export interface LabBuild {
  outDir: string;
  /** Bytes of the bundled app. */
  bundleBytes: number;
  seconds: number;
}

/** Builds the lab into `outDir` (emptied first). */
export async function buildLab(outDir: string = DEFAULT_OUT): Promise<LabBuild> {
  const t0 = performance.now();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    outfile: join(outDir, 'app.js'),
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // No minifying: gpu.js translates kernel bodies from their source text, and names must survive.
    minify: false,
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
  });
  const bundleBytes = Object.values(result.metafile.outputs).reduce((s, o) => s + o.bytes, 0);
  cpSync(join(here, 'static'), outDir, { recursive: true });
  const katexDist = join(dirname(createRequire(import.meta.url).resolve('katex/package.json')), 'dist');
  mkdirSync(join(outDir, 'katex'), { recursive: true });
  cpSync(join(katexDist, 'katex.min.css'), join(outDir, 'katex', 'katex.min.css'));
  cpSync(join(katexDist, 'fonts'), join(outDir, 'katex', 'fonts'), { recursive: true });
  writeDigits(outDir);
  return { outDir, bundleBytes, seconds: (performance.now() - t0) / 1000 };
}
