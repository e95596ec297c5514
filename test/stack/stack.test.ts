import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../helpers/process.js';
import { type WaitOptions, waitFor } from '../helpers/wait.js';
import { DEPLOY, type RoleProcess, type Stack, startStack } from './stack.js';
import { accessLog, burstOf, expectSecurityHeaders, tableCounts, tlsHandshake } from './stack-checks.js';
import {
  declaredMetrics,
  isDeclared,
  parseSamples,
  promQuery,
  promRules,
  promTargets,
  referencedMetrics,
  scrape,
  sumOf,
} from './stack-metrics.js';
import { composeEnvironments } from './stack-render.js';
import { stackReady, stackTools } from './stack-tools.js';

/** The stack's programs (Prometheus, nginx's log) are polled a few times a second, as before. */
const GENTLY: WaitOptions = { intervalMs: 200 };

async function metricsOf(role: RoleProcess) {
  return parseSamples(await scrape(role.url));
}

let nextUser = 910_000;
const newUser = () => {
  nextUser += 1;
  return { id: nextUser, first_name: `Stack${nextUser}`, language_code: 'en' };
};

const VARIANTS = [
  { label: 'single', apiReplicas: 1, workerReplicas: 1 },
  { label: 'replicas', apiReplicas: 2, workerReplicas: 2 },
];

for (const variant of VARIANTS) {
  describe.skipIf(!stackReady())(
    `production topology as processes: ${variant.apiReplicas} api + ${variant.workerReplicas} worker + admin + bot behind nginx, Prometheus`,
    () => {
      let s: Stack;

      beforeAll(async () => {
        s = await startStack(variant);
      }, 240_000);

      afterAll(async () => {
        await s?.close();
      }, 120_000);

      it('answers liveness through nginx over HTTPS; dependency details and docs only inside', async () => {
        for (const path of ['/api/v1/health', '/health']) {
          const res = await fetch(`${s.publicUrl}${path}`);
          expect(res.status, path).toBe(200);
          expect(await res.json(), path).toEqual({ status: 'ok' });
        }
        for (const path of ['/api/v1/health/db', '/api/v1/health/ready', '/api/docs', '/api/docs/json']) {
          const res = await fetch(`${s.publicUrl}${path}`);
          expect(res.status, path).toBe(404);
          expect(((await res.json()) as { error: { code: string } }).error.code, path).toBe('not_found');
        }
        // Probes and operators ask each replica directly.
        for (const path of [
          '/api/v1/health/db',
          '/api/v1/health/redis',
          '/api/v1/health/ready',
          '/api/docs/json',
        ]) {
          expect((await fetch(`${s.api[0]!.url}${path}`)).status, path).toBe(200);
        }
        const admin = await fetch(`${s.publicUrl}/admin/health`);
        expect(admin.status).toBe(200);
        const redirect = await fetch(`${s.publicUrl}/admin`, { redirect: 'manual' });
        expect(redirect.status).toBe(301);
        expect(redirect.headers.get('location')).toMatch(/\/admin\/$/);
      });

      it('redirects plain HTTP to HTTPS but serves ACME challenges', async () => {
        const res = await fetch(`${s.httpUrl}/api/v1/health?x=1`, { redirect: 'manual' });
        expect(res.status).toBe(301);
        expect(res.headers.get('location')).toBe('https://localhost/api/v1/health?x=1');

        mkdirSync(join(s.acmeDir, '.well-known/acme-challenge'), { recursive: true });
        writeFileSync(join(s.acmeDir, '.well-known/acme-challenge/token-1'), 'token-1.key');
        const acme = await fetch(`${s.httpUrl}/.well-known/acme-challenge/token-1`, { redirect: 'manual' });
        expect(acme.status).toBe(200);
        expect(await acme.text()).toBe('token-1.key');
      });

      it('speaks TLS 1.2 and 1.3 with forward-secret ciphers for the configured name only', async () => {
        expect(await tlsHandshake(s.tlsPort, 'localhost')).toBe('TLSv1.3');
        expect(await tlsHandshake(s.tlsPort, 'localhost', { maxVersion: 'TLSv1.2' })).toBe('TLSv1.2');
        // The client offers these (security level 0); the server is the one that says no.
        await expect(
          tlsHandshake(s.tlsPort, 'localhost', {
            minVersion: 'TLSv1.1',
            maxVersion: 'TLSv1.1',
            ciphers: 'DEFAULT@SECLEVEL=0',
          }),
        ).rejects.toMatchObject({ code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
        await expect(
          tlsHandshake(s.tlsPort, 'localhost', { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA' }),
        ).rejects.toMatchObject({ code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' });
        await expect(tlsHandshake(s.tlsPort, 'unknown.example')).rejects.toMatchObject({
          code: 'ERR_SSL_TLSV1_UNRECOGNIZED_NAME',
        });
      });

      it('puts the security headers, once each, on app, admin and nginx answers', async () => {
        expectSecurityHeaders(await fetch(`${s.publicUrl}/api/v1/health`), 'the api');
        expectSecurityHeaders(await fetch(`${s.publicUrl}/admin/health`), 'the admin role');
        const missing = await fetch(`${s.publicUrl}/nope`);
        expect(missing.status).toBe(404);
        expectSecurityHeaders(missing, 'a 404 of nginx');
        // The app's own Content-Security-Policy passes through.
        expect(
          (await fetch(`${s.publicUrl}/api/v1/health`)).headers.get('content-security-policy'),
        ).toContain("frame-ancestors 'none'");
      });

      it('keeps /metrics and every other internal route private', async () => {
        for (const path of ['/metrics', '/playground', '/_emulator/info', '/nginx-health']) {
          const res = await fetch(`${s.publicUrl}${path}`);
          expect(res.status, path).toBe(404);
          expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
        }
      });

      it('refuses bodies over the size limit with 413', async () => {
        const res = await fetch(`${s.publicUrl}/api/v1/health`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
        });
        expect(res.status).toBe(413);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
      });

      it('compresses text with gzip', async () => {
        const res = await fetch(`${s.publicUrl}/admin/assets/vendor/htmx.min.js`, {
          headers: { 'accept-encoding': 'gzip' },
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-encoding')).toBe('gzip');
        expect(await res.text()).toContain('htmx');
      });

      it('forwards the real client address (X-Forwarded-For from the client is overwritten) and the request id', async () => {
        const res = await fetch(`${s.publicUrl}/telegram/webhook`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-telegram-bot-api-secret-token': 'wrong-secret-0000000000',
            'x-forwarded-for': '203.0.113.7',
            'x-request-id': 'stack-request-0001',
          },
          body: JSON.stringify({ update_id: 1 }),
        });
        expect(res.status).toBe(401);
        expect(res.headers.get('x-request-id')).toBe('stack-request-0001');
        const lines = await waitFor(
          'the api log of the refused webhook call',
          async () => {
            const found = s.api
              .flatMap((a) => a.proc.jsonLines())
              .filter((l) => l.msg === 'webhook call with a wrong secret');
            return found.length ? found : undefined;
          },
          GENTLY,
        );
        expect(lines.map((l) => l.ip)).toEqual(['127.0.0.1']);
      });

      it('registers the webhook with `vitte webhook set` and answers /start through nginx', async () => {
        const info = await s.emulator.client.info();
        expect(info.webhook.url).toBe(`${s.publicUrl}/telegram/webhook`);
        const user = newUser();
        await s.emulator.client.injectMessage({ user, text: '/start' });
        const reply = await s.emulator.client.waitForBotMessage(user.id, () => true, { timeoutMs: 20_000 });
        expect(reply.text?.length).toBeGreaterThan(0);
        // nginx logs a request once its answer is complete, which may be after the reply arrived.
        await waitFor(
          'the webhook call in the nginx access log',
          async () => accessLog(s).find((l) => l.uri === '/telegram/webhook' && l.status === 200),
          GENTLY,
        );
      });

      it('hands chat messages from the api replicas to the workers through Redis and replies with the LLM', async () => {
        // Slow answers make the replies overlap, so with one job per worker every worker gets one.
        s.llm.setDefault(() => ({ firstByteDelayMs: 800 }));
        const users = Array.from({ length: variant.workerReplicas * 2 }, newUser);
        await Promise.all(
          users.map((user) => s.emulator.client.injectMessage({ user, text: `hello ${user.id}` })),
        );
        for (const user of users) {
          const answer = await s.emulator.client.waitForBotMessage(
            user.id,
            (m) => (m.text ?? '').includes(`hello ${user.id}`),
            { timeoutMs: 30_000 },
          );
          expect(answer.text).toBe(`Echo: hello ${user.id}`);
        }
        s.llm.setDefault(null);
        for (const worker of s.workers) {
          const done = sumOf(await metricsOf(worker), 'vitte_jobs_completed_total', {
            job_name: 'chat.reply',
          });
          expect(done, `${worker.proc.name} completed chat replies`).toBeGreaterThanOrEqual(1);
        }
      });

      it('spreads webhook updates and API requests over every api replica', async () => {
        const user = newUser();
        for (let i = 0; i < 2 * variant.apiReplicas; i++) {
          await s.emulator.client.injectMessage({ user, text: '/help' });
        }
        await s.emulator.client.waitForDelivery({ timeoutMs: 20_000 });
        for (let i = 0; i < 4 * variant.apiReplicas; i++) {
          expect((await fetch(`${s.publicUrl}/api/v1/health`)).status).toBe(200);
        }
        const ports = s.api.map((a) => `127.0.0.1:${a.port}`);
        const log = accessLog(s);
        for (const uri of ['/telegram/webhook', '/api/v1/health']) {
          // Requests nginx answered itself (413, 429) have no upstream.
          const upstreams = new Set(log.filter((l) => l.uri === uri && l.upstream).map((l) => l.upstream));
          expect([...upstreams].sort(), uri).toEqual([...ports].sort());
        }
        for (const api of s.api) {
          const samples = await metricsOf(api);
          expect(
            sumOf(samples, 'vitte_bot_updates_total'),
            `${api.proc.name} updates`,
          ).toBeGreaterThanOrEqual(1);
          expect(
            sumOf(samples, 'vitte_http_request_duration_seconds_count', { route: '/api/v1/health' }),
            `${api.proc.name} health requests`,
          ).toBeGreaterThanOrEqual(1);
        }
      });

      it('runs the polling profile: the bot role answers /start by long polling', async () => {
        const user = newUser();
        await s.pollingEmulator.client.injectMessage({ user, text: '/start' });
        const reply = await s.pollingEmulator.client.waitForBotMessage(user.id, () => true, {
          timeoutMs: 20_000,
        });
        expect(reply.text?.length).toBeGreaterThan(0);
      });

      it('signs in to the admin panel through nginx with a Secure session cookie', async () => {
        const login = await fetch(`${s.publicUrl}/admin/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: s.admin.username, password: s.admin.password }),
        });
        expect(login.status).toBe(200);
        const cookie = login.headers.get('set-cookie') ?? '';
        expect(cookie).toMatch(/;\s*Secure/i);
        expect(cookie).toMatch(/;\s*HttpOnly/i);
        const me = await fetch(`${s.publicUrl}/admin/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
        expect(me.status).toBe(200);
        expect(((await me.json()) as { admin: { username: string } }).admin.username).toBe(s.admin.username);
      });

      it('passes the container health check for every role and fails it for a dead one', async () => {
        const check = (args: string[], env: Record<string, string> = {}) =>
          run(process.execPath, [join(DEPLOY, 'healthcheck.mjs'), ...args], { env });
        // api: the image's default target (API_PORT); bot and worker: the URL Compose gives each.
        for (const role of s.api) {
          expect((await check([], { API_PORT: String(role.port) })).code, role.proc.name).toBe(0);
        }
        for (const role of [...s.workers, s.bot]) {
          expect((await check([`${role.url}/health`])).code, role.proc.name).toBe(0);
        }
        expect((await check([`${s.admin.role.url}/admin/health`])).code).toBe(0);
        const dead = await check([`http://127.0.0.1:${s.admin.role.port}/no-such-route`]);
        expect(dead.code).toBe(1);
      });

      it("runs every role with only the variables its Compose service gets: no other role's secrets", () => {
        const given = composeEnvironments(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'));
        const roles: [string, RoleProcess][] = [
          ...s.api.map((r): [string, RoleProcess] => ['api', r]),
          ...s.workers.map((r): [string, RoleProcess] => ['worker', r]),
          ['admin', s.admin.role],
          ['bot', s.bot],
        ];
        for (const [service, role] of roles) {
          // The environment the process was started with, as the kernel keeps it.
          const names = readFileSync(`/proc/${role.proc.child.pid}/environ`, 'utf8')
            .split('\0')
            .filter(Boolean)
            .map((v) => v.slice(0, v.indexOf('=')));
          const extra = names.filter((n) => !given[service]!.includes(n) && n !== 'PATH' && n !== 'HOME');
          expect(extra, role.proc.name).toEqual([]);
          expect(names.includes('ADMIN_BOOTSTRAP_PASSWORD'), role.proc.name).toBe(service === 'admin');
          expect(names.includes('LLM_API_KEY'), role.proc.name).toBe(service === 'worker');
          expect(names.includes('WEBHOOK_SECRET'), role.proc.name).toBe(service === 'api');
        }
      });

      it('Prometheus scrapes every role and exporter with the project config and finds the app metrics', async () => {
        const expected = 1 + variant.apiReplicas + variant.workerReplicas + 2 + 2;
        const targets = await waitFor(
          'every Prometheus target up',
          async () => {
            const list = await promTargets(s.prometheusUrl);
            return list.length === expected && list.every((t) => t.health === 'up') ? list : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        ).catch(async (err: Error) => {
          const list = await promTargets(s.prometheusUrl);
          throw new Error(
            `${err.message}\n${JSON.stringify(list.map((t) => [t.scrapeUrl, t.health, t.lastError]))}`,
          );
        });
        const jobs = targets.map((t) => t.labels.job).sort();
        expect(new Set(jobs)).toEqual(
          new Set([
            'prometheus',
            'vitte-api',
            'vitte-worker',
            'vitte-bot',
            'vitte-admin',
            'postgres',
            'redis',
          ]),
        );
        expect(targets.filter((t) => t.labels.job === 'vitte-api').map((t) => t.labels.role)).toEqual(
          Array(variant.apiReplicas).fill('api'),
        );

        const value = async (q: string) =>
          waitFor(
            `a value for ${q}`,
            async () => {
              const r = await promQuery(s.prometheusUrl, q);
              return r.length ? Number(r[0]!.value[1]) : undefined;
            },
            GENTLY,
          );
        expect(await value('sum(vitte_bot_updates_total{job="vitte-api"})')).toBeGreaterThan(0);
        // The job metrics name the job in job_name; `job` stays the scrape job.
        expect(
          await value('sum(vitte_jobs_completed_total{job="vitte-worker", job_name="chat.reply"})'),
        ).toBeGreaterThanOrEqual(variant.workerReplicas * 2);
        expect(await value('sum(vitte_llm_requests_total{outcome="ok"})')).toBeGreaterThan(0);
        expect(await value('sum(vitte_llm_tokens_total)')).toBeGreaterThan(0);
        expect(await value('max(vitte_bot_last_update_timestamp_seconds)')).toBeGreaterThan(0);
        expect(await value('count(vitte_queue_jobs{queue="chat"})')).toBeGreaterThan(0);
        expect(await value('pg_up')).toBe(1);
        expect(await value('redis_up')).toBe(1);
        expect(await value('up{job="vitte-bot"}')).toBe(1);
        expect(await value('redis_memory_max_bytes')).toBe(512 * 1024 * 1024);
      });

      it('loads the alert rules, evaluates each without error, and none fires on a healthy stack', async () => {
        const fileGroups = (
          parse(readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8')) as {
            groups: { name: string; rules: { alert: string }[] }[];
          }
        ).groups;
        const groups = await waitFor(
          'every alert rule evaluated',
          async () => {
            const g = await promRules(s.prometheusUrl);
            return g.length === fileGroups.length &&
              g.every((x) => x.rules.every((r) => r.health !== 'unknown'))
              ? g
              : undefined;
          },
          GENTLY,
        );
        expect(groups.map((g) => g.name).sort()).toEqual(fileGroups.map((g) => g.name).sort());
        for (const rule of groups.flatMap((g) => g.rules)) {
          expect(rule.health, `${rule.name}: ${rule.lastError ?? ''}`).toBe('ok');
        }
        // A healthy stack has no alert firing, nor even pending, once every rule has seen the scraped
        // data (before the first scrape, "absent" rules are briefly pending).
        const alerts = async () =>
          (await promQuery(s.prometheusUrl, 'ALERTS')).map(
            (a) => `${a.metric.alertname} ${a.metric.alertstate}`,
          );
        await waitFor('no alert pending or firing', async () => (await alerts()).length === 0, GENTLY).catch(
          async (err: Error) => {
            throw new Error(`${err.message}: ${(await alerts()).join(', ')}`);
          },
        );
      });

      it('uses only metrics that exist in the alerts and the dashboard, and every dashboard query runs', async () => {
        const declared = new Set<string>();
        for (const url of [
          ...[...s.api, ...s.workers, s.bot, s.admin.role].map((r) => r.url),
          s.exporterUrls.postgres,
          s.exporterUrls.redis,
        ]) {
          for (const name of declaredMetrics(await scrape(url))) declared.add(name);
        }
        const alertExprs = (
          parse(readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8')) as {
            groups: { rules: { expr: string }[] }[];
          }
        ).groups.flatMap((g) => g.rules.map((r) => r.expr));
        const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/dashboards/vitte.json'), 'utf8')) as {
          panels: { title: string; targets?: { expr: string }[] }[];
        };
        const panelExprs = dashboard.panels.flatMap((p) =>
          (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
        );
        expect(panelExprs.length).toBeGreaterThan(20);
        for (const expr of [...alertExprs, ...panelExprs.map((p) => p.expr)]) {
          for (const name of referencedMetrics(expr)) {
            expect(isDeclared(name, declared), `${name} (in ${expr.trim().slice(0, 80)})`).toBe(true);
          }
        }
        for (const { title, expr } of panelExprs) {
          await expect(
            promQuery(s.prometheusUrl, expr.replaceAll('$__rate_interval', '1m')),
            title,
          ).resolves.toBeDefined();
        }
      });

      it('backs up with pg_dump -Fc and restores into a new database with the same rows', async () => {
        const tools = stackTools();
        const dumpFile = join(s.workDir, 'backup.dump');
        // The stack is live (schedules may write): take a dump during which no table changed.
        let before: Record<string, number> = {};
        for (let attempt = 0; attempt < 3; attempt++) {
          before = await tableCounts(s.testDb.url!);
          const dump = await run(tools.pg_dump, ['--format=custom', `--file=${dumpFile}`, s.testDb.url!]);
          expect(dump.code, dump.output).toBe(0);
          if (JSON.stringify(await tableCounts(s.testDb.url!)) === JSON.stringify(before)) break;
        }

        const restored = `${new URL(s.testDb.url!).pathname.slice(1)}_restore`;
        const server = new URL(s.testDb.url!);
        const adminUrl = Object.assign(new URL(server), { pathname: '/postgres' }).toString();
        const restoredUrl = Object.assign(new URL(server), { pathname: `/${restored}` }).toString();
        const adminClient = new pg.Client({ connectionString: adminUrl });
        await adminClient.connect();
        try {
          await adminClient.query(`create database ${restored}`);
          const restore = await run(tools.pg_restore, [
            '--no-owner',
            '--exit-on-error',
            `--dbname=${restoredUrl}`,
            dumpFile,
          ]);
          expect(restore.code, restore.output).toBe(0);

          expect(before.users).toBeGreaterThan(0);
          expect(before.messages).toBeGreaterThan(0);
          expect(await tableCounts(restoredUrl)).toEqual(before);

          const status = await s.vitte(['migrate', 'status'], { DATABASE_URL: restoredUrl });
          expect(status.code).toBe(0);
          expect(status.output).toMatch(/applied/);
          expect(status.output).not.toMatch(/pending/);
        } finally {
          await adminClient.query(`drop database if exists ${restored} with (force)`);
          await adminClient.end();
        }
      });

      it('answers 429 past the configured burst (API and admin sign-in), in JSON with the security headers', async () => {
        const hammer = async (path: string, count: number) => {
          const answers = await Promise.all(
            Array.from({ length: count }, () =>
              fetch(`${s.publicUrl}${path}`).then(async (r) => ({ r, body: await r.text() })),
            ),
          );
          return answers;
        };
        const apiBurst = burstOf(s.nginxConf, '/api/');
        const api = await hammer('/api/v1/health', apiBurst * 3);
        const limited = api.filter((a) => a.r.status === 429);
        expect(limited.length).toBeGreaterThan(0);
        expect(api.filter((a) => a.r.status === 200).length).toBeGreaterThan(0);
        expect(JSON.parse(limited[0]!.body).error.code).toBe('rate_limited');
        expectSecurityHeaders(limited[0]!.r, 'a 429 of nginx');

        const loginBurst = burstOf(s.nginxConf, '= /admin/login');
        const login = await hammer('/admin/login', loginBurst * 3);
        expect(login.filter((a) => a.r.status === 429).length).toBeGreaterThan(0);
      });

      it('every role drains and exits 0 on SIGTERM (docker stop)', async () => {
        for (const role of [...s.api, ...s.workers, s.admin.role, s.bot]) {
          const exit = await role.proc.stop('SIGTERM');
          expect(exit, role.proc.name).toEqual({ code: 0, signal: null });
        }
      });
    },
  );
}
