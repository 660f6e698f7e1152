/**
 * Shared set-up of the lab's browser tests: builds the lab once, serves it on a free port, and
 * drives Debian's Chromium through playwright-core with the SwiftShader flags of
 * test/chromium.ts (WebGL2 through ANGLE on the CPU), collecting console errors and page
 * errors so that every test can assert there were none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { buildLab } from '../../lab/build.ts';
import { type LabServer, serveLab } from '../../lab/serve.ts';
import { CHROMIUM, CHROMIUM_FLAGS as FLAGS } from '../chromium.ts';

/** A built and served lab with a browser. */
export interface Lab {
  dir: string;
  server: LabServer;
  browser: Browser;
  /** A fresh page at `#hash`, with its console and page errors collected into `errors`. */
  open(hash: string): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

export async function startLab(): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'unequal-lab-'));
  await buildLab(dir);
  const server = await serveLab(dir, 0);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  return {
    dir,
    server,
    browser,
    async open(hash) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${String(e)}`));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      });
      await page.goto(`${server.url}#${hash}`);
      await page.getByTestId('app-status').filter({ hasText: 'ready' }).waitFor();
      return { page, errors };
    },
    async close() {
      await browser.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The number an element's text holds (throws, naming the element, when it is not a number). */
export async function numberOf(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).first().textContent())?.trim() ?? '';
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`data-testid ${testId} holds '${text}', not a number`);
  return v;
}
