/**
 * Shared set-up of the threaded-GEMM browser check (test/browser-threads/threads.test.ts and the
 * timing script timing.ts): bundles entry.ts with esbuild (as lab/build.ts bundles the lab),
 * serves it on 127.0.0.1 twice over — under `/isolated/` with `Cross-Origin-Opener-Policy:
 * same-origin` and `Cross-Origin-Embedder-Policy: require-corp` (so `crossOriginIsolated` is
 * true and `SharedArrayBuffer` exists), under `/plain/` without them — and drives Debian's
 * Chromium through playwright-core with the flags of test/chromium.ts, collecting console and
 * page errors (the page's and its workers').
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type Page, chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, bundleForBrowser } from '../chromium.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A served bundle with a browser. */
export interface ThreadsPages {
  browser: Browser;
  /** A fresh page, isolated or not, with its console and page errors collected into `errors`. */
  open(isolated: boolean): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

const bundle = (): Promise<string> => bundleForBrowser(path.join(here, 'entry.ts'));

function serve(js: string): Promise<{ url: string; close: () => Promise<void> }> {
  const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  const server = http.createServer((req, res) => {
    const m = /^\/(isolated|plain)\/(bundle\.js|index\.html|)$/.exec(req.url ?? '');
    if (!m) {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404); // a 204 keeps a 404 out of the console
      res.end();
      return;
    }
    // The worker script needs the headers too: a dedicated worker's isolation comes from its
    // own script's response.
    const headers = m[1] === 'isolated' ? isolation : {};
    if (m[2] === 'bundle.js') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' });
      res.end(js);
    } else {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end('<!doctype html><meta charset="utf-8"><title>unequal threads</title><script src="bundle.js"></script>');
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => server.close(() => r())) });
    }),
  );
}

export async function startThreadsPages(): Promise<ThreadsPages> {
  const server = await serve(await bundle());
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  return {
    browser,
    async open(isolated) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      });
      // Errors inside the page's workers (the check's worker and the kernel's) reach the page's
      // 'error' events only when unhandled; collect the workers' own console errors as well.
      page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && errors.push(`worker console.error: ${m.text()}`)));
      await page.goto(`${server.url}${isolated ? 'isolated' : 'plain'}/`);
      await page.waitForFunction(() => 'threadsCheck' in globalThis);
      return { page, errors };
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
