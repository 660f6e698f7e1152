/**
 * What the report's committed-result panels share: reading a result file from `results/` (the
 * long runs are not repeated by `npm start`) and the sentence that says where its numbers came
 * from.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The provenance every committed result records. */
export interface Provenance {
  command: string;
  commit: string | null;
  wallSeconds: number;
}

/** "Produced by `…` at commit … in … minutes (committed result, not rerun by npm start)." */
export const provenance = (r: Provenance): string =>
  `Produced by \`${r.command}\` at commit ${r.commit ? r.commit.slice(0, 10) : 'unknown'} in ${(r.wallSeconds / 60).toFixed(1)} minutes (committed result, not rerun by npm start).`;

/** The parsed JSON at `root/rel`, or undefined when the file has not been committed. */
export function readCommittedJson<T>(root: string, rel: string): T | undefined {
  const path = join(root, rel);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}
