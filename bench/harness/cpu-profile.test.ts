import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { formatSelfTimes, selfTimes } from './cpu-profile.js';

const SOURCE = `// A busy function, defined on line 6 of the TypeScript source and elsewhere in the output.
interface Unused {
  a: number;
}
type Millis = number;
function burn(ms: Millis): number {
  const until = Date.now() + ms;
  let n = 0;
  while (Date.now() < until) n += Math.sqrt(n + 1);
  return n;
}
console.log(burn(300));
`;

describe('CPU profile summary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vitte-bench-prof-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ranks functions by self time and names them by their line in the TypeScript source', () => {
    const out = ts.transpileModule(SOURCE, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true },
      fileName: 'hot.ts',
    });
    writeFileSync(join(dir, 'hot.mjs'), out.outputText.replace('hot.js.map', 'hot.mjs.map'));
    writeFileSync(join(dir, 'hot.mjs.map'), out.sourceMapText!.replace('"hot.js"', '"hot.mjs"'));
    const before = Number(process.hrtime.bigint() / 1000n);
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(dir, 'hot.mjs')]);
    const after = Number(process.hrtime.bigint() / 1000n);
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!);

    const profile = selfTimes(file);
    const top = profile.entries.find((e) => !e.fn.startsWith('(') && e.location !== '(native)');
    expect(top).toMatchObject({ fn: 'burn' });
    expect(top!.location).toMatch(/hot\.ts:6$/);
    expect(top!.selfMs).toBeGreaterThan(profile.entries.find((e) => e.fn === '(anonymous)')?.selfMs ?? 0);
    expect(formatSelfTimes(profile, 5)).toContain('burn');

    // Samples are stamped on this process's monotonic clock: windows select the load, not start-up.
    expect(selfTimes(file, { fromUs: before, toUs: after }).sampledMs).toBe(profile.sampledMs);
    expect(selfTimes(file, { toUs: before }).sampledMs).toBe(0);
    expect(selfTimes(file, { fromUs: after }).sampledMs).toBe(0);
  });
});
