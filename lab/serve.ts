/**
 * `npm run lab`: builds the lab (lab/build.ts) and serves it on http://127.0.0.1:PORT/ (PORT from
 * the environment, default 5173; HOST likewise, default 127.0.0.1), printing the address.
 *
 * The server is a plain static file server over the build folder. It sends the cross-origin
 * isolation headers (COOP/COEP), which give the page SharedArrayBuffer where gpu.js wants it;
 * every file is same-origin, so nothing is blocked by them.
 *
 * @module
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OUT, buildLab } from './build.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.u8': 'application/octet-stream',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
};

/** A running server: its address and how to stop it. */
export interface LabServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `dir` on `port` (0: any free port) and `host`. */
export function serveLab(dir: string = DEFAULT_OUT, port = 5173, host = '127.0.0.1'): Promise<LabServer> {
  const root = resolve(dir);
  const server = http.createServer((req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'Cache-Control': 'no-cache' };
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400, headers).end('bad request');
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    // Nothing outside the build folder is ever served.
    if (!(file === root || file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(path === '/favicon.ico' ? 204 : 404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const addr = server.address() as { port: number };
      ok({
        url: `http://${host}:${addr.port}/`,
        port: addr.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

async function main(): Promise<void> {
  const port = process.env.PORT === undefined ? 5173 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer in 0..65535, got '${process.env.PORT}'`);
  const host = process.env.HOST ?? '127.0.0.1';
  const b = await buildLab();
  console.log(`lab: built ${b.outDir} in ${b.seconds.toFixed(1)} s (app.js ${(b.bundleBytes / 1e6).toFixed(1)} MB)`);
  const s = await serveLab(b.outDir, port, host);
  console.log(`lab: serving the unequal teaching lab at ${s.url} (Ctrl-C stops it)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`lab: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
