import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, withLogContext } from '../../src/platform/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('masks bot tokens anywhere in a line, and the configured secrets', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: false, secrets: ['super-secret-value'], destination });
    log.error(
      {
        err: new Error(
          'request to https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage failed',
        ),
      },
      'call failed with super-secret-value',
    );
    const out = lines.join('');
    expect(out).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
    expect(out).not.toContain('super-secret-value');
    expect(out).toContain('/bot***/sendMessage');
  });

  it('adds the fields of the surrounding log context to every line, from any logger, across awaits', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: false, destination });
    const service = log.child({ component: 'users' });
    await withLogContext({ updateId: 42, userId: 7 }, async () => {
      service.info('inside');
      await new Promise((r) => setTimeout(r, 5));
      await withLogContext({ jobId: 'j1' }, async () => log.info('nested'));
    });
    log.info('outside');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ msg: 'inside', updateId: 42, userId: 7, component: 'users' });
    expect(parsed[1]).toMatchObject({ msg: 'nested', updateId: 42, jobId: 'j1' });
    expect(parsed[2]!.updateId).toBeUndefined();
  });
});
