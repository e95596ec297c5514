import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of static files that sits beside a module in a checkout. tsc copies no assets into
 * dist/, so a build reads them from the same folder under src/; `marker` is a file that must be in
 * it. `what` names the files in the error when neither place has them.
 */
export function findAssetsDir(what: string, marker: string, beside: URL, inSrc: URL): string {
  const places = [fileURLToPath(beside), fileURLToPath(inSrc)];
  const found = places.find((dir) => existsSync(join(dir, marker)));
  if (!found) throw new Error(`${what} assets not found (looked in ${places.join(' and ')})`);
  return found;
}
