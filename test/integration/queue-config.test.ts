import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { type Jobs, jobs } from '../../src/domain/jobs.js';
import { JobDefinitionError, type JobHandlers } from '../../src/platform/queue/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { silentLogger } from '../helpers/db.js';

describe('WORKER_QUEUE_CONCURRENCY', () => {
  it('parses queue=n pairs; unset means no overrides', () => {
    expect(
      loadConfig({ WORKER_QUEUE_CONCURRENCY: ' chat=16, delivery = 4 ,' }).WORKER_QUEUE_CONCURRENCY,
    ).toEqual({ chat: 16, delivery: 4 });
    expect(loadConfig({}).WORKER_QUEUE_CONCURRENCY).toEqual({});
  });

  it('lists every bad entry', () => {
    const err = (() => {
      try {
        loadConfig({ WORKER_QUEUE_CONCURRENCY: 'chat=0,delivery,chat=2,chat=3,system=1001' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([
      'WORKER_QUEUE_CONCURRENCY: "chat=0" is not <name>=<1..1000>',
      'WORKER_QUEUE_CONCURRENCY: "delivery" is not <name>=<1..1000>',
      'WORKER_QUEUE_CONCURRENCY: "chat" is given twice',
      'WORKER_QUEUE_CONCURRENCY: "system=1001" is not <name>=<1..1000>',
    ]);
  });

  it('refuses a queue no job uses, naming it and the known ones', () => {
    const config = loadConfig({
      WORKER_QUEUE_CONCURRENCY: 'chat=2,deliveries=4',
      DATABASE_URL: 'postgres://x@127.0.0.1:1/none',
    });
    expect(() => createApp(config, { logger: silentLogger, role: 'test' })).toThrow(JobDefinitionError);
    expect(() => createApp(config, { logger: silentLogger, role: 'test' })).toThrow(
      'options for unknown queue "deliveries"; known: system, chat, maintenance, broadcast, delivery',
    );
  });
});

describe('per-queue concurrency reaches the worker', () => {
  let t: TestApp;
  let release: () => void = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });

  beforeAll(async () => {
    t = await createTestApp(
      { WORKER_CONCURRENCY: '3', WORKER_QUEUE_CONCURRENCY: 'system=2' },
      { label: 'queue_config' },
    );
  });
  afterAll(async () => {
    release();
    await t?.close();
  });

  it('runs a queue with an override at its own concurrency, the others at WORKER_CONCURRENCY', async () => {
    const { queue } = t.app;
    const blocking = async () => {
      await released;
    };
    queue.handle(
      Object.fromEntries(Object.keys(jobs).map((name) => [name, blocking])) as unknown as JobHandlers<Jobs>,
    );
    await queue.start({ queues: ['system', 'maintenance'] });
    for (let i = 0; i < 5; i++) {
      await queue.enqueue('system.ping', { echo: String(i) });
      await queue.enqueue('chat.sweep', {});
    }
    const counts = await queue.counts();
    expect(counts.system).toMatchObject({ active: 2, waiting: 3 });
    expect(counts.maintenance).toMatchObject({ active: 3, waiting: 2 });
  });
});
