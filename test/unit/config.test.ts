import { describe, expect, it } from 'vitest';
import { ConfigError, configSecrets, loadConfig, redactConfig } from '../../src/config.js';

describe('config', () => {
  it('parses an empty environment into the embedded defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      embedded: true,
      API_PORT: 3000,
      DATA_DIR: './data',
      BOT_MODE: 'polling',
      CORS_ORIGINS: [],
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every invalid variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        API_PORT: 'eighty',
        DATABASE_URL: 'not a url',
        LOG_LEVEL: 'loud',
        BOT_MODE: 'webhook',
        LLM_TEMPERATURE: '7',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['API_PORT', 'DATABASE_URL', 'LOG_LEVEL', 'WEBHOOK_SECRET', 'LLM_TEMPERATURE']) {
      expect(problems).toContain(key);
    }
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  it('parses lists, booleans and numbers', () => {
    const c = loadConfig({
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: 'true',
      DB_POOL_MAX: '50',
    });
    expect(c.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    expect(c.TRUST_PROXY).toBe(true);
    expect(c.DB_POOL_MAX).toBe(50);
    expect(c.embedded).toBe(true);
  });

  it('redacts secrets and credentials in URLs', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://vitte:s3cret-pass@db:5432/vitte',
      REDIS_URL: 'redis://:redis-pass@redis:6379',
      BOT_TOKEN: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi',
      LLM_API_KEY: 'sk-abcdef',
    });
    const text = JSON.stringify(redactConfig(c));
    for (const secret of ['s3cret-pass', 'redis-pass', 'ABCDEFGHIJ', 'sk-abcdef'])
      expect(text).not.toContain(secret);
    expect(text).toContain('postgres://vitte:***@db:5432/vitte');
    expect(c.embedded).toBe(false);
  });

  it('logs numbers as numbers and unset variables, secrets included, as not set', () => {
    const shown = redactConfig(loadConfig({ BOT_TOKEN: '123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi' }));
    expect(shown).toMatchObject({
      LLM_MAX_TOKENS: 1024,
      LLM_CONTEXT_TOKENS: 8000,
      BOT_RATE_LIMIT_POINTS: 20,
      BOT_TOKEN: '***',
      LLM_API_KEY: 'not set',
      WEBHOOK_SECRET: 'not set',
      SENTRY_DSN: 'not set',
      DATABASE_URL: 'not set',
      TELEGRAM_API_ROOT: 'https://api.telegram.org',
    });
  });

  it('gives every role its own default port', () => {
    const c = loadConfig({});
    const ports = [c.API_PORT, c.ADMIN_PORT, c.BOT_PORT, c.WORKER_PORT];
    expect(ports).toEqual([3000, 3001, 3002, 3003]);
  });

  it('hands the log scrubber every secret, including the passwords inside connection URLs', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://vitte:p%40ss-word@db:5432/vitte',
      REDIS_URL: 'redis://:redis-pass@redis:6379',
      SENTRY_DSN: 'https://publickey@sentry.example/1',
      WEBHOOK_SECRET: 'webhook-secret-0123456789',
      ADMIN_PASSWORD: 'correct horse battery',
    });
    expect(configSecrets(c)).toEqual(
      expect.arrayContaining([
        'p%40ss-word',
        'p@ss-word',
        'redis-pass',
        'https://publickey@sentry.example/1',
        'webhook-secret-0123456789',
        'correct horse battery',
      ]),
    );
  });

  it('refuses an answer budget that leaves no room for the conversation', () => {
    expect(() => loadConfig({ LLM_MAX_TOKENS: '8000', LLM_CONTEXT_TOKENS: '8000' })).toThrow(
      /LLM_MAX_TOKENS: must be below LLM_CONTEXT_TOKENS/,
    );
  });

  it('derives WEBHOOK_URL from PUBLIC_URL and WEBHOOK_PATH unless it is set', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://bot.example.com' }).WEBHOOK_URL).toBe(
      'https://bot.example.com/telegram/webhook',
    );
    expect(
      loadConfig({ PUBLIC_URL: 'https://bot.example.com', WEBHOOK_URL: 'https://hooks.example.com/x' })
        .WEBHOOK_URL,
    ).toBe('https://hooks.example.com/x');
    expect(loadConfig({}).WEBHOOK_URL).toBeUndefined();
  });

  it('parses COMFYUI_URLS into backends, reports bad entries by position, and keeps their credentials out of logs', () => {
    const c = loadConfig({
      COMFYUI_URLS:
        'http://gpu1:8188;slots=2, https://u:p%40ss@gpu2.example.com/comfy;name=gpu2,http://gpu3;auth=Bearer tok-123456',
    });
    expect(c.COMFYUI_URLS).toEqual([
      { name: 'gpu1:8188', baseUrl: 'http://gpu1:8188', slots: 2 },
      {
        name: 'gpu2',
        baseUrl: 'https://gpu2.example.com/comfy',
        authorization: `Basic ${Buffer.from('u:p@ss').toString('base64')}`,
        slots: 1,
      },
      { name: 'gpu3', baseUrl: 'http://gpu3', authorization: 'Bearer tok-123456', slots: 1 },
    ]);
    const secrets = configSecrets(c);
    expect(secrets).toContain('Bearer tok-123456');
    expect(secrets).toContain('tok-123456');
    expect(JSON.stringify(redactConfig(c))).not.toMatch(/tok-123456|Basic/);
    expect(loadConfig({}).COMFYUI_URLS).toEqual([]);

    let error: unknown;
    try {
      loadConfig({ COMFYUI_URLS: 'http://ok:8188,ftp://bad;auth=Bearer secret-token,http://x;slots=0' });
    } catch (err) {
      error = err;
    }
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toContain(
      'COMFYUI_URLS: COMFYUI_URLS entry 2 (bad): must be http:// or https://',
    );
    expect(problems.join('\n')).not.toContain('secret-token');
  });

  it('wants both S3 keys or neither', () => {
    expect(() => loadConfig({ S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'id' })).toThrow(/S3_SECRET_ACCESS_KEY/);
    expect(loadConfig({ S3_BUCKET: 'b' })).toMatchObject({ S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: true });
  });

  it('is frozen all the way down', () => {
    const c = loadConfig({ CORS_ORIGINS: 'https://a.example' });
    expect(() => (c.CORS_ORIGINS as string[]).push('https://evil.example')).toThrow();
    expect(() => c.COMFYUI_URLS.push({ name: 'x', baseUrl: 'http://x', slots: 1 })).toThrow();
  });
});

describe('.env.example', () => {
  it('documents every variable of the schema and nothing else, and parses', async () => {
    const { readFileSync } = await import('node:fs');
    const { configSchema } = await import('../../src/config.js');
    const text = readFileSync('.env.example', 'utf8');
    const documented = [...text.matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...new Set(documented)].sort()).toEqual(Object.keys(configSchema.shape).sort());
    const active = Object.fromEntries(
      [...text.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1], m[2]] as [string, string]),
    );
    expect(() => loadConfig(active)).not.toThrow();
  });
});
