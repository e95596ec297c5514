import { describe, expect, it } from 'vitest';
import { runChaos } from '../../bench/chaos/chaos.js';
import { describeReport, SHORT_RUN } from '../../bench/chaos/run.js';
import { chaosServersAvailable } from '../../bench/chaos/servers.js';
import { stackReady } from './stack-tools.js';

const missing = chaosServersAvailable();
if (missing.length && process.env.REQUIRE_SERVICES === '1') {
  throw new Error(`REQUIRE_SERVICES=1 but the chaos run needs ${missing.join(' and ')}`);
}

/**
 * `npm run chaos` in short (bench/chaos): api ×2 and a worker from the build, their own PostgreSQL
 * and Redis, people chatting while the worker and an api replica are killed and Redis and
 * PostgreSQL go down for a few seconds. What the full run's targets say, checked on a short run.
 */
describe.skipIf(!stackReady() || missing.length > 0)('chaos run (short)', () => {
  it('loses nothing, charges nothing twice, repeats at most a send per worker kill, recovers by itself', async () => {
    const r = await runChaos(SHORT_RUN);
    process.stderr.write(`${describeReport(r)}\n`);
    expect(r.traffic.sent).toBeGreaterThan(20);
    expect(r.traffic.neverAnswered, r.traffic.unanswered.join(', ')).toBe(0);
    // Not even an apology: while PostgreSQL is down updates are deferred and answered once it is back.
    expect(r.traffic.failedWithNotice, r.traffic.unanswered.join(', ')).toBe(0);
    expect(r.traffic.answeredTwice, r.traffic.duplicated.join(', ')).toBeLessThanOrEqual(r.workerKills);
    expect(r.quota.doubleCharged).toBe(0);
    // Every question stored was charged once and answered (a failed one is given back).
    expect(r.quota.charged).toBe(r.quota.stored);
    expect(r.quota.answered).toBe(r.quota.stored);
    for (const f of r.faults) {
      expect(f.recoveryMs, f.fault).not.toBeNull();
      expect(f.recoveryMs, f.fault).toBeLessThanOrEqual(5_000);
    }
    expect(r.faults.map((f) => f.fault)).toHaveLength(SHORT_RUN.faults.length);
    expect(r.restartsNeeded).toBe(0);
    expect(r.warnings).toEqual({});
  }, 180_000);
});
