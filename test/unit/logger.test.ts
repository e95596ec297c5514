import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/logger.js';

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
});
