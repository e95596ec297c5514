import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createErrorReporter } from '../../src/platform/error-reporting.js';
import { createLogger } from '../../src/platform/logger.js';
import { FAKE_BOT_TOKEN } from '../helpers/fake-token.js';

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      resolve(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString() : raw.toString());
    });
  });
}

/** A local endpoint speaking Sentry's envelope protocol, so the real SDK is exercised end to end. */
describe('error reporting to Sentry (SENTRY_DSN)', () => {
  const envelopes: { path: string; text: string }[] = [];
  const server = createServer(async (req, res) => {
    envelopes.push({ path: req.url ?? '', text: await body(req) });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  let dsn = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    dsn = `http://publickey@127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/42`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is off without a DSN', async () => {
    const reporter = await createErrorReporter({
      dsn: undefined,
      environment: 'test',
      release: '0',
      role: 'api',
    });
    expect(reporter.report).toBeUndefined();
  });

  it('sends errors logged at error level, with their context and without secrets, and nothing else', async () => {
    // Made at run time: Sentry also sends the source lines around the error, which must not hold them.
    const botToken = `123456789:AA${randomBytes(20).toString('hex')}`;
    const apiKey = `key-${randomBytes(12).toString('hex')}`;
    const reporter = await createErrorReporter({
      dsn,
      environment: 'test',
      release: '9.9.9',
      role: 'worker',
    });
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      pretty: false,
      report: reporter.report,
      secrets: [apiKey],
      destination: { write: (l: string) => lines.push(l) },
    });
    logger.info({ err: new Error('just information') }, 'not an error');
    logger.error(
      {
        err: new Error(`the provider exploded at https://api.telegram.org/bot${FAKE_BOT_TOKEN}/x`),
        dialogId: 7,
        key: 'llm-api-key-0123456789',
      },
      'reply failed',
    );
    await reporter.close();
    const all = envelopes.map((e) => e.text).join('\n');
    expect(envelopes.every((e) => e.path.startsWith('/api/42/envelope/'))).toBe(true);
    expect(all).toContain('the provider exploded');
    expect(all).not.toContain(botToken.split(':')[1]);
    expect(all).not.toContain(apiKey);
    expect(all).toContain('"dialogId":7');
    expect(all).toContain('vitte@9.9.9');
    expect(all).toContain('"role":"worker"');
    const exceptions = [...all.matchAll(/"exception":\{"values":\[\{"type":"Error","value":"([^"]*)"/g)].map(
      (m) => m[1],
    );
    expect(exceptions).toEqual(['the provider exploded at https://api.telegram.org/bot***/x']);
    expect(lines).toHaveLength(2);
  });
});
