import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, withLogContext } from '../../src/platform/logger.js';
import { FAKE_BOT_TOKEN } from '../helpers/fake-token.js';

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
        err: new Error(`request to https://api.telegram.org/bot${FAKE_BOT_TOKEN}/sendMessage failed`),
      },
      'call failed with super-secret-value',
    );
    const out = lines.join('');
    expect(out).not.toContain(FAKE_BOT_TOKEN.split(':')[1]);
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

/** The keys of a JSON object line in the order written, duplicates included (JSON.parse keeps one). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
    i++;
  }
  return keys;
}

describe('logger: one value per key', () => {
  it('a child binding a key its parent bound writes it once, with the child value', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: false, destination });
    log.child({ component: 'queue' }).child({ component: 'queue', adapter: 'inline' }).info('x');
    log.child({ component: 'app' }).child({ component: 'http' }).info('y');
    const [first, second] = lines.map(topLevelKeys);
    expect(first!.filter((k) => k === 'component')).toHaveLength(1);
    expect(second!.filter((k) => k === 'component')).toHaveLength(1);
    expect(JSON.parse(lines[1]!).component).toBe('http');
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'queue', adapter: 'inline' });
  });

  it('context fields a logger also binds are written once', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: false, destination });
    await withLogContext({ jobId: 'j1', job: 'chat.reply', userId: 5 }, async () => {
      log.child({ jobId: 'j1', job: 'chat.reply' }).info('in job');
      log.info('plain');
    });
    for (const line of lines) {
      const keys = topLevelKeys(line);
      expect(keys.length, line).toBe(new Set(keys).size);
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ jobId: 'j1', job: 'chat.reply', userId: 5 });
    expect(JSON.parse(lines[1]!)).toMatchObject({ jobId: 'j1', userId: 5 });
  });
});

describe('logger: secrets with characters JSON escapes', () => {
  it.each([
    ['a quote', 'pa"ss-word-1'],
    ['a backslash', 'pa\\ss-word-2'],
    ['a newline', 'pass\nword-3'],
    ['a tab and a control character', 'pa\tss\u0001word-4'],
  ])('masks a secret with %s, in the message, a field, an error and nested JSON', (_what, secret) => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', pretty: false, secrets: [secret], destination });
    log.info({ given: secret, body: JSON.stringify({ password: secret }) }, `login with ${secret}`);
    log.error({ err: new Error(`bad credentials ${secret}`) }, 'failed');
    log.info({ url: `https://x.example/?p=${encodeURIComponent(secret)}` }, 'url');
    const out = lines.join('');
    expect(out).toContain('***');
    for (const line of lines) {
      const parsed = JSON.stringify(JSON.parse(line));
      expect(parsed).not.toContain(JSON.stringify(secret).slice(1, -1));
      expect(JSON.parse(line).msg).not.toContain(secret);
    }
    expect(out).not.toContain(encodeURIComponent(secret));
  });
});
