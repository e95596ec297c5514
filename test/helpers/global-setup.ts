import { CHROMIUM_PATH, probeServices, TEST_PG_URL, TEST_REDIS_URL } from './services.js';

const where = { postgres: TEST_PG_URL, redis: TEST_REDIS_URL, chromium: CHROMIUM_PATH };
const fallback = {
  postgres:
    'database suites run on PGlite instead; the suites that need a server (concurrent migrate, the CLIs, role and worker processes) are SKIPPED',
  redis: 'Redis suites are SKIPPED',
  chromium: 'browser suites are SKIPPED',
};

export default async function setup(): Promise<() => void> {
  const found = await probeServices();
  const missing = (Object.keys(found) as (keyof typeof found)[]).filter((s) => !found[s]);
  for (const [service, ok] of Object.entries(found)) {
    process.env[`VITTE_TEST_HAS_${service.toUpperCase()}`] = ok ? '1' : '0';
  }
  const lines = missing.map((s) => `!!! ${s} not available at ${where[s]}: ${fallback[s]}`);
  if (missing.length && process.env.REQUIRE_SERVICES === '1') {
    throw new Error(`REQUIRE_SERVICES=1 but services are missing:\n${lines.join('\n')}`);
  }
  if (lines.length) process.stderr.write(`\n${lines.join('\n')}\n\n`);
  return () => {
    if (lines.length) process.stderr.write(`\n${lines.join('\n')}\n`);
  };
}
