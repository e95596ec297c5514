import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// semver comes with npm's tree (many packages depend on it); the test only needs its range maths.
const semver = require('semver') as {
  minVersion(range: string): { version: string } | null;
  satisfies(version: string, range: string): boolean;
};

interface LockEntry {
  version?: string;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  engines?: { node?: string };
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** What `npm install` installs on this machine (other platforms' optional binaries are skipped). */
function installedHere(e: LockEntry): boolean {
  const fits = (list: string[] | undefined, value: string) =>
    !list || list.some((v) => (v.startsWith('!') ? v.slice(1) !== value : v === value));
  return fits(e.os, process.platform) && fits(e.cpu, process.arch);
}

describe('package.json engines', () => {
  it('every dependency npm installs runs on the oldest Node our engines allow (no EBADENGINE)', () => {
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    expect(oldest.startsWith('20.')).toBe(true);
    const refused = Object.entries(lock.packages)
      .filter(([path, e]) => path && installedHere(e) && e.engines?.node)
      .filter(([, e]) => !semver.satisfies(oldest, e.engines!.node!))
      .map(([path, e]) => `${path.replace(/.*node_modules\//, '')}@${e.version} needs ${e.engines!.node}`);
    expect(refused).toEqual([]);
  });

  it('and no version our engines allow is one a dependency refuses (Node 22 and 24 included)', () => {
    const ranges = Object.values(lock.packages)
      .filter((e) => installedHere(e) && !e.optional && e.engines?.node)
      .map((e) => e.engines!.node!);
    for (const version of ['20.19.0', '20.20.0', '22.12.0', '22.20.0', '24.0.0', '24.11.0']) {
      expect(semver.satisfies(version, pkg.engines.node), version).toBe(true);
      for (const range of ranges) expect(semver.satisfies(version, range), `${version} ${range}`).toBe(true);
    }
    for (const version of ['20.12.0', '22.0.0'])
      expect(semver.satisfies(version, pkg.engines.node)).toBe(false);
  });
});
