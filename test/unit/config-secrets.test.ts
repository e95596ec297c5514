import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { secretProblem, secretProblems } from '../../src/config-secrets.js';
import { FAKE_BOT_TOKEN } from '../helpers/fake-token.js';

const deployExample = parseEnv(readFileSync('deploy/.env.example', 'utf8'));

/** What Compose gives the app roles from a deploy .env (docker-compose.yml builds the URLs). */
function composeEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: `postgres://vitte:${env.POSTGRES_PASSWORD}@postgres:5432/vitte`,
    REDIS_URL: `redis://:${env.REDIS_PASSWORD}@redis:6379`,
    BOT_TOKEN: env.BOT_TOKEN,
    BOT_MODE: 'webhook',
    WEBHOOK_SECRET: env.WEBHOOK_SECRET,
    ADMIN_BOOTSTRAP_USERNAME: env.ADMIN_BOOTSTRAP_USERNAME,
    ADMIN_BOOTSTRAP_PASSWORD: env.ADMIN_BOOTSTRAP_PASSWORD,
    LLM_BASE_URL: env.LLM_BASE_URL,
    LLM_API_KEY: env.LLM_API_KEY,
  };
}

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('secrets in production', () => {
  it('deploy/.env.example copied unchanged does not start: every placeholder is named', () => {
    const problems = problemsOf(composeEnv(deployExample));
    for (const name of [
      'WEBHOOK_SECRET',
      'ADMIN_BOOTSTRAP_PASSWORD',
      'DATABASE_URL',
      'REDIS_URL',
      'BOT_TOKEN',
      'LLM_API_KEY',
    ]) {
      expect(
        problems.find((p) => p.startsWith(`${name}:`)),
        name,
      ).toBeDefined();
    }
    // The secret itself is never repeated in the message.
    expect(problems.join('\n')).not.toContain('CHANGE_ME');
  });

  it('refuses short or plain secrets of our own, but not a short key someone else issued', () => {
    expect(secretProblem('abc123def456', 'generated')).toMatch(/too short/);
    expect(secretProblem('abababababababababab', 'generated')).toMatch(/too plain/);
    expect(secretProblem('password1234567890', 'generated')).toMatch(/placeholder/);
    expect(secretProblem('sk-short', 'given')).toBeUndefined();
    expect(secretProblem('3f9c1a7be04d5e6f8a2b9c0d1e7f3a4b', 'generated')).toBeUndefined();
  });

  it('starts with generated secrets; development and tests keep their conveniences', () => {
    const strong = (n: number) => Array.from({ length: n }, (_, i) => 'q7Zk2Lm9Xv4Rt8Bw'[i % 16]).join('');
    const env = composeEnv({
      ...deployExample,
      POSTGRES_PASSWORD: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      REDIS_PASSWORD: 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
      BOT_TOKEN: FAKE_BOT_TOKEN,
      WEBHOOK_SECRET: strong(40),
      ADMIN_BOOTSTRAP_PASSWORD: '9e8d7c6b5a493827',
      LLM_API_KEY: 'sk-live-key',
    });
    expect(problemsOf(env)).toEqual([]);
    // No password in the URL at all is left to the server (peer or certificate authentication).
    expect(problemsOf({ ...env, DATABASE_URL: 'postgres://vitte@db/vitte' })).toEqual([]);
    expect(problemsOf({ ...composeEnv(deployExample), NODE_ENV: 'development' })).toEqual([]);
  });

  it('the Compose-only secrets are checked by the same rules', () => {
    expect(secretProblems(deployExample).map((p) => p.split(':')[0])).toEqual([
      'WEBHOOK_SECRET',
      'ADMIN_BOOTSTRAP_PASSWORD',
      'BOT_TOKEN',
      'LLM_API_KEY',
      'POSTGRES_PASSWORD',
      'REDIS_PASSWORD',
      'GRAFANA_ADMIN_PASSWORD',
      'MINIO_ROOT_PASSWORD',
    ]);
  });
});
