/**
 * `npm run bench [name…]`: runs every bench/*.bench.ts (or the named ones) one after another and
 * prints one JSON line per measurement plus a table at the end. Benchmarks use the real Postgres
 * and Redis of the machine, like the tests; timing lives here, never in a test.
 */
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { probeServices } from '../test/helpers/services.js';

export interface Measurement {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  note?: string;
}

export type Report = (metric: string, value: number, unit: string, note?: string) => void;
export type Bench = (report: Report) => Promise<void>;

// The same service discovery as the test suite (test helpers read it from the environment).
const found = await probeServices();
for (const [service, ok] of Object.entries(found))
  process.env[`VITTE_TEST_HAS_${service.toUpperCase()}`] = ok ? '1' : '0';
if (!found.postgres || !found.redis) {
  process.stderr.write(
    'benchmarks need PostgreSQL and Redis on 127.0.0.1 (TEST_DATABASE_URL / TEST_REDIS_URL)\n',
  );
  process.exit(1);
}

const only = process.argv.slice(2);
const dir = new URL('.', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.includes(basename(f, '.bench.ts')))
  .sort();

const results: Measurement[] = [];
for (const file of files) {
  const bench = basename(file, '.bench.ts');
  process.stderr.write(`\n▶ ${bench}\n`);
  const mod = (await import(new URL(file, dir).href)) as { default: Bench };
  await mod.default((metric, value, unit, note) => {
    const m: Measurement = {
      bench,
      metric,
      value: Math.round(value * 1000) / 1000,
      unit,
      ...(note ? { note } : {}),
    };
    results.push(m);
    process.stdout.write(`${JSON.stringify(m)}\n`);
  });
}
process.stderr.write('\n');
console.table(results.map((r) => ({ bench: r.bench, metric: r.metric, value: r.value, unit: r.unit })));
process.exit(0);
