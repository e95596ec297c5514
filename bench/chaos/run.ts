import { type ChaosOptions, type ChaosReport, runChaos } from './chaos.js';
import { chaosServersAvailable } from './servers.js';

/** The full run (`npm run chaos`): 20 people for 2½ minutes, every fault, then up to 75 s to settle. */
export const FULL_RUN: ChaosOptions = {
  users: 20,
  durationMs: 150_000,
  drainMs: 75_000,
  maxMessages: 6_000,
  faults: [
    { kind: 'kill-worker', at: 15_000 },
    { kind: 'kill-api', at: 35_000 },
    { kind: 'stop-redis', at: 55_000, downMs: 10_000 },
    { kind: 'stop-postgres', at: 85_000, downMs: 10_000 },
    { kind: 'kill-worker', at: 115_000 },
  ],
};

/** The CI version (test/stack/chaos.test.ts): the same faults, shorter, with fewer people. */
export const SHORT_RUN: ChaosOptions = {
  users: 6,
  durationMs: 26_000,
  drainMs: 25_000,
  maxMessages: 1_000,
  faults: [
    { kind: 'kill-worker', at: 3_000 },
    { kind: 'kill-api', at: 7_000 },
    { kind: 'stop-redis', at: 11_000, downMs: 3_000 },
    { kind: 'stop-postgres', at: 18_000, downMs: 3_000 },
  ],
};

/** One line per number, then the report as JSON. */
export function describeReport(r: ChaosReport): string {
  const t = r.traffic;
  const lines = [
    `messages sent ${t.sent}, answered ${t.answered}, answered twice ${t.answeredTwice}, never answered ${t.neverAnswered}`,
    `refused by quota or rate limit ${t.refused}; failed with a notice to the user ${t.failedWithNotice}`,
    `quota units charged ${r.quota.charged}, questions stored ${r.quota.stored}, answered ${r.quota.answered}; charged twice ${r.quota.doubleCharged}`,
    ...r.faults.map(
      (f) => `${f.fault}: recovered in ${f.recoveryMs === null ? 'never (60 s)' : `${f.recoveryMs} ms`}`,
    ),
    `worker kills ${r.workerKills}; process restarts needed ${r.restartsNeeded}`,
    `send → record window (chat, ${r.sendWindowMs.count} sends): p50 ≤ ${r.sendWindowMs.p50} ms, p99 ≤ ${r.sendWindowMs.p99} ms, max ≤ ${r.sendWindowMs.max} ms`,
    `answer latency p50 ${t.answerLatencyMs.p50} ms, p99 ${t.answerLatencyMs.p99} ms, max ${t.answerLatencyMs.max} ms`,
    `warnings: ${Object.keys(r.warnings).length ? JSON.stringify(r.warnings) : 'none'}`,
    `took ${Math.round(r.durationMs / 1000)} s`,
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const missing = chaosServersAvailable();
  if (missing.length) {
    process.stderr.write(`chaos: needs ${missing.join(' and ')}\n`);
    process.exitCode = 2;
    return;
  }
  const opts = process.argv.includes('--short') ? SHORT_RUN : FULL_RUN;
  const started = Date.now();
  const report = await runChaos({
    ...opts,
    log: (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`),
  });
  process.stdout.write(`${describeReport(report)}\n${JSON.stringify(report)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
