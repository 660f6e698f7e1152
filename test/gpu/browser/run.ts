/**
 * `npm run test:browser`: the kernel checks on real GPU code paths.
 *
 * Bundles test/gpu/browser/entry.ts (gpu.js, kernels/ and the shared checks) with esbuild, serves it
 * from a throwaway HTTP server on 127.0.0.1, and drives Debian's Chromium through playwright-core
 * with SwiftShader standing in for the GPU (WebGL2 through ANGLE, WebGPU through Vulkan). Every
 * check runs under gpu.js `webgl2` and `webgpu`. Output: one line per mode,
 * `gpu.js mode <mode>: <N> kernels verified`, the failures (if any) indented below, and a final
 * `browser: <P> passed, <F> failed` that CI parses. Exits non-zero on any failure, a fallback to
 * another backend included; a mode that cannot run here counts every one of its checks as failed.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS as FLAGS, bundleForBrowser } from '../../chromium.ts';
import type { CheckOutcome } from './entry.ts';

const MODES = ['webgl2', 'webgpu'] as const;
/** Whole-run budget: the brief is "under ~3 minutes"; a hung GPU process must not stall CI. */
const DEADLINE_MS = 170_000;

const here = path.dirname(fileURLToPath(import.meta.url));

const bundle = (): Promise<string> => bundleForBrowser(path.join(here, 'entry.ts'));

function serve(js: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    // Cross-origin isolation lets gpu.js use SharedArrayBuffer where it wants to.
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (req.url === '/bundle.js') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' });
      res.end(js);
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>unequal kernels</title><script src="/bundle.js"></script>');
    } else if (req.url === '/favicon.ico') {
      res.writeHead(204); // keeps a 404 out of the page's console errors
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms))),
  ]);
}

async function main(): Promise<number> {
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  const js = await bundle();
  const server = await serve(js);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    for (const mode of MODES) {
      // A fresh page per mode: a lost GPU context in one mode cannot poison the other.
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      let outcomes: CheckOutcome[];
      try {
        await page.goto(server.url);
        const left = DEADLINE_MS - (Date.now() - started);
        outcomes = await withDeadline(
          page.evaluate((m) => (window as unknown as { runKernelChecks(m: string): Promise<CheckOutcome[]> }).runKernelChecks(m), mode),
          left,
          `gpu.js mode ${mode}`,
        );
      } catch (e) {
        outcomes = [{ name: `all checks (${mode} could not run)`, ok: false, error: String(e), ms: 0 }];
      }
      await page.close().catch(() => undefined);
      const ok = outcomes.filter((o) => o.ok).length;
      passed += ok;
      failed += outcomes.length - ok;
      const secs = outcomes.reduce((s, o) => s + o.ms, 0) / 1000;
      console.log(`gpu.js mode ${mode}: ${ok} kernels verified`);
      for (const o of outcomes.filter((x) => !x.ok)) console.log(`  FAIL ${o.name}: ${o.error}`);
      if (ok < outcomes.length && pageErrors.length) console.log(`  page errors: ${pageErrors.slice(0, 5).join(' | ')}`);
      if (process.env.VERBOSE) for (const o of outcomes) console.log(`  ${o.ok ? 'ok  ' : 'FAIL'} ${o.ms.toFixed(0).padStart(6)} ms  ${o.name}`);
      if (process.env.VERBOSE) console.log(`  (${secs.toFixed(1)} s in checks)`);
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    console.log('browser: 0 passed, 1 failed');
    process.exit(1);
  },
);
