import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { has, TEST_PG_URL } from '../../test/helpers/services.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';
import { startPgCounter, startRedisCounter } from './wire-counters.js';

describe.skipIf(!has('postgres'))('PostgreSQL counting proxy', () => {
  it('counts simple and extended-protocol statements and transactions, passing results through', async () => {
    const counter = await startPgCounter(TEST_PG_URL);
    const client = new pg.Client({ connectionString: counter.url });
    try {
      await client.connect();
      const before = counter.snapshot();
      await client.query('select 1');
      const { rows } = await client.query('select $1::int + 1 as n', [41]);
      expect(rows[0].n).toBe(42);
      await client.query('begin');
      await client.query('select $1::text as t', ['in a transaction']);
      await client.query('commit');
      const after = counter.snapshot();
      expect(after.statements - before.statements).toBe(5);
      expect(after.transactions - before.transactions).toBe(1);
      expect(after.byStatement).toMatchObject({
        'select 1': 1,
        'select $1::int + 1 as n': 1,
        begin: 1,
        commit: 1,
      });
    } finally {
      await client.end();
      await counter.close();
    }
  });
});

describe('Redis counting proxy', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(() => redis?.close());

  it('counts commands one by one and a pipeline as one round trip', async () => {
    const counter = await startRedisCounter(redis.url);
    const client = new Redis(counter.url);
    try {
      await client.ping();
      const before = counter.snapshot();
      await client.set('k', 'a value with\r\nbreaks');
      expect(await client.get('k')).toBe('a value with\r\nbreaks');
      await client.pipeline().incr('n').incr('n').get('n').exec();
      const after = counter.snapshot();
      expect(after.commands - before.commands).toBe(5);
      expect(after.roundTrips - before.roundTrips).toBe(3);
      expect(after.byCommand).toMatchObject({ set: 1, get: 2, incr: 2 });
      // The private server saw the same commands.
      expect(await redis.commandStats()).toMatchObject({ set: 1, get: 2, incr: 2 });
    } finally {
      client.disconnect();
      await counter.close();
    }
  });
});
