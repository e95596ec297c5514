import {
  diffCounts,
  type PgCounts,
  type RedisCounts,
  startPgCounter,
  startRedisCounter,
} from './wire-counters.js';

/** What one process sent to PostgreSQL and Redis per unit of work (an update, a chat message). */
export interface PerUnit {
  units: number;
  pgStatements: number;
  pgTransactions: number;
  redisCommands: number;
  redisRoundTrips: number;
  /** "×1.00 select … ; ×0.02 begin" — the statements and commands behind the numbers. */
  pgDetail: string;
  redisDetail: string;
}

export interface ProcessCounters {
  /** Connection URLs for the process (through the counting proxies). */
  databaseUrl: string;
  redisUrl: string;
  /** Starts a phase; call the result with the units of work done to get what was sent per unit. */
  mark(): (units: number) => PerUnit;
  close(): Promise<void>;
}

function detail(counts: Record<string, number>, units: number, top = 8): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([what, n]) => `×${(n / units).toFixed(2)} ${what}`)
    .join(' ; ');
}

/** Counting proxies in front of PostgreSQL and Redis for one process. */
export async function startProcessCounters(databaseUrl: string, redisUrl: string): Promise<ProcessCounters> {
  const pg = await startPgCounter(databaseUrl);
  const redis = await startRedisCounter(redisUrl);
  const per = (before: [PgCounts, RedisCounts], after: [PgCounts, RedisCounts], units: number): PerUnit => ({
    units,
    pgStatements: (after[0].statements - before[0].statements) / units,
    pgTransactions: (after[0].transactions - before[0].transactions) / units,
    redisCommands: (after[1].commands - before[1].commands) / units,
    redisRoundTrips: (after[1].roundTrips - before[1].roundTrips) / units,
    pgDetail: detail(diffCounts(after[0].byStatement, before[0].byStatement), units),
    redisDetail: detail(diffCounts(after[1].byCommand, before[1].byCommand), units),
  });
  return {
    databaseUrl: pg.url,
    redisUrl: redis.url,
    mark() {
      const before: [PgCounts, RedisCounts] = [pg.snapshot(), redis.snapshot()];
      return (units) => per(before, [pg.snapshot(), redis.snapshot()], units);
    },
    async close() {
      await Promise.all([pg.close(), redis.close()]);
    },
  };
}
