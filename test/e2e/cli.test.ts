import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startVitte } from '../helpers/process.js';

describe('vitte CLI', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('an unknown command prints the valid ones and exits 2', async () => {
    const p = startVitte(['sideways'], {});
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toContain('unknown command "sideways"');
    for (const role of ['all', 'api', 'migrate']) expect(p.output()).toContain(`vitte ${role}`);
  });

  it('a bad environment lists every invalid variable and exits non-zero', async () => {
    const p = startVitte(['api'], { API_PORT: 'x', LOG_LEVEL: 'loud', DATABASE_URL: 'nope' });
    const { code } = await p.exited;
    expect(code).not.toBe(0);
    for (const key of ['API_PORT', 'LOG_LEVEL', 'DATABASE_URL']) expect(p.output()).toContain(key);
  });

  it('check-secrets names every placeholder of an env file (exit 78) and passes a good one', async () => {
    const p = startVitte(['check-secrets', '--env-file', 'deploy/.env.example'], {});
    expect((await p.exited).code).toBe(78);
    for (const key of [
      'WEBHOOK_SECRET',
      'POSTGRES_PASSWORD',
      'GRAFANA_ADMIN_PASSWORD',
      'MINIO_ROOT_PASSWORD',
    ]) {
      expect(p.output()).toContain(`${key}: is a placeholder`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'vitte-secrets-'));
    dirs.push(dir);
    const good = join(dir, '.env');
    writeFileSync(
      good,
      'POSTGRES_PASSWORD=3f9c1a7be04d5e6f8a2b9c0d1e7f3a4b\nGRAFANA_ADMIN_PASSWORD=0f1e2d3c4b5a69788796a5b4c3d2e1f0\n',
    );
    const ok = startVitte(['check-secrets', '--env-file', good], {});
    expect((await ok.exited).code).toBe(0);
    expect(ok.output()).toContain('2 secrets checked');
  });

  it('in production a placeholder secret stops every role before it starts, naming the variable', async () => {
    const p = startVitte(['admin'], {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://vitte:CHANGE_ME@127.0.0.1:1/vitte',
      ADMIN_BOOTSTRAP_USERNAME: 'owner',
      ADMIN_BOOTSTRAP_PASSWORD: 'CHANGE_ME_AT_LEAST_12',
    });
    expect((await p.exited).code).toBe(78);
    expect(p.output()).toContain('ADMIN_BOOTSTRAP_PASSWORD: is a placeholder');
    expect(p.output()).toContain('DATABASE_URL: the password in it is a placeholder');
  });

  it('a server role refuses to run on embedded PGlite', async () => {
    const p = startVitte(['api'], { LOG_LEVEL: 'error' });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain('needs DATABASE_URL');
  });

  it('in production, "all" without BOT_TOKEN refuses to start the emulator and playground', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vitte-prod-'));
    dirs.push(dataDir);
    const p = startVitte(['all'], { DATA_DIR: dataDir, API_PORT: '0', NODE_ENV: 'production' });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain('NODE_ENV=production: set BOT_TOKEN');
  });

  it('embedded "all" starts on an empty data dir, serves /health/db and exits cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vitte-all-'));
    dirs.push(dataDir);
    const p = startVitte(['all'], {
      DATA_DIR: dataDir,
      API_PORT: '0',
      LOG_LEVEL: 'info',
    });
    try {
      // Signals are handled once the role has started (before that, Ctrl-C just ends the process).
      await p.waitForLog((l) => l.msg === 'started', 60_000);
      const url = /"url":"([^"]+)","msg":"listening"/.exec(p.output())![1]!;
      const res = await fetch(`${url}/health/db`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    } finally {
      const { code } = await p.stop('SIGINT');
      expect(code, p.output().slice(-4000)).toBe(0);
    }
    expect(p.output()).toContain('"msg":"stopped"');
  }, 90_000);
});
