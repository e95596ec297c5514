import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { run } from '../helpers/process.js';
import { builtAppDir, stackReady, stackTools } from './stack-tools.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const IMPORT =
  /^\s*(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/gm;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe.skipIf(!stackReady())('Prometheus config and alert rules (promtool)', () => {
  it('promtool check config accepts prometheus.yml (with its rule file)', async () => {
    const r = await run(stackTools().promtool, [
      'check',
      'config',
      join(DEPLOY, 'prometheus/prometheus.yml'),
    ]);
    expect(r.code, r.output).toBe(0);
  });

  it('promtool check rules accepts alerts.yml', async () => {
    const r = await run(stackTools().promtool, ['check', 'rules', join(DEPLOY, 'prometheus/alerts.yml')]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('promtool test rules: every alert fires on its failure and stays quiet when healthy', async () => {
    const r = await run(stackTools().promtool, ['test', 'rules', 'alerts.test.yml'], {
      cwd: join(DEPLOY, 'prometheus'),
    });
    expect(r.code, r.output).toBe(0);
    const tested = new Set(
      [...read('deploy/prometheus/alerts.test.yml').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
    );
    const defined = [...read('deploy/prometheus/alerts.yml').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    for (const alert of defined) expect(tested.has(alert), `${alert} has a unit test`).toBe(true);
  });

  it('has the alerts the runbook promises', () => {
    const defined = [...read('deploy/prometheus/alerts.yml').matchAll(/- alert: (\w+)/g)].map((m) => m[1]);
    expect(defined).toEqual(
      expect.arrayContaining([
        'VitteHttpErrorRate',
        'VitteBotErrorRate',
        'VitteJobFailureRate',
        'VitteQueueBacklogGrowing',
        'VitteNoUpdates',
        'PostgresDown',
        'RedisDown',
        'VitteLlmFailureRate',
      ]),
    );
  });
});

describe('Grafana provisioning', () => {
  const datasource = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
    datasources: { uid: string; type: string; url: string }[];
  };
  const provider = parse(read('deploy/grafana/provisioning/dashboards/vitte.yml')) as {
    providers: { options: { path: string } }[];
  };
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/vitte.json')) as {
    uid: string;
    panels: {
      id: number;
      type: string;
      title: string;
      datasource?: { uid: string };
      targets?: { expr: string }[];
    }[];
  };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');

  it('provisions the Prometheus datasource the dashboard refers to, and loads the dashboards Compose mounts', () => {
    expect(datasource.datasources).toEqual([
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe('prometheus');
    }
    const compose = read('deploy/docker-compose.yml');
    expect(compose).toContain(`./grafana/dashboards:${provider.providers[0]!.options.path}:ro`);
  });

  it('has unique panel ids and a stable uid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('vitte-overview');
  });

  it('charts updates/s, handler latency, LLM latency and tokens, queue depth, job failures, broadcasts and business counters', () => {
    for (const metric of [
      'vitte_bot_updates_total',
      'vitte_bot_handler_duration_seconds_bucket',
      'vitte_llm_request_duration_seconds_bucket',
      'vitte_llm_tokens_total',
      'vitte_queue_jobs',
      'vitte_jobs_failed_total',
      'vitte_broadcast_deliveries_total',
      'vitte_broadcasts_running',
      'vitte_chat_messages_total',
      'vitte_chat_replies_total',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
  });
});

describe('the image (deploy/Dockerfile, .dockerignore)', () => {
  const dockerfile = read('deploy/Dockerfile');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const stage = (name: string) => stages.find((s) => s.split('\n')[0]!.endsWith(` AS ${name}`)) ?? '';

  it('builds in stages on a current Node LTS and keeps only production dependencies', () => {
    const from = stages.map((s) => s.split('\n')[0]!.split(' AS '));
    // Every stage starts from the one NODE_IMAGE argument.
    expect(from).toEqual([
      [`\${NODE_IMAGE}`, 'build'],
      [`\${NODE_IMAGE}`, 'deps'],
      [`\${NODE_IMAGE}`, 'runtime'],
    ]);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:(22|24)-bookworm-slim$/m);
    expect(stage('build')).toMatch(/npm ci /);
    expect(stage('build')).toMatch(/RUN npm run build/);
    expect(stage('deps')).toMatch(/npm ci --omit=dev/);
    const runtime = stage('runtime');
    expect(runtime).toContain('COPY --from=deps /app/node_modules ./node_modules');
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime).not.toMatch(/COPY (--\S+ )*src/);
  });

  it('builds with `npm run build`, which copies the non-TypeScript assets after tsc', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(scripts.postbuild).toBe('node scripts/copy-assets.mjs');
    expect(stage('build')).toContain('COPY scripts ./scripts');
  });

  it('runs as the non-root vitte user, checks its health and runs any role through one entrypoint', () => {
    const runtime = stage('runtime');
    expect(runtime).toMatch(/useradd --system --uid 10001 --gid vitte .* vitte/);
    expect(runtime).toMatch(/^USER vitte:vitte$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .* CMD \["node", "healthcheck.mjs"\]$/m);
    expect(runtime).toContain('ENTRYPOINT ["node", "bin/vitte.js"]');
  });

  it('sends the build context every COPY needs and nothing else', () => {
    const ignore = read('.dockerignore').split('\n');
    expect(ignore).toContain('**');
    const included = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) \S+$/gm)].flatMap((m) =>
      m[1]!.split(' '),
    );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) expect(included, source).toContain(source);
  });
});

describe.skipIf(!stackReady())('the production build (npm run build: dist/ without src/)', () => {
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);

  it('imports nothing but production dependencies and Node built-ins (npm ci --omit=dev is enough)', () => {
    const dist = join(builtAppDir(), 'dist');
    const bad: string[] = [];
    for (const file of files(dist).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(file, 'utf8');
      // Static imports and re-exports (statements, not words in comments), dynamic imports, require.
      const specifiers = [...code.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
      for (const spec of specifiers) {
        if (spec.startsWith('.') || spec.startsWith('node:') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!pkg.dependencies[name]) bad.push(`${relative(dist, file)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('carries every non-TypeScript file of src/ (locales, assets) beside the compiled code', () => {
    const src = join(ROOT, 'src');
    const assets = files(src)
      .filter((f) => !f.endsWith('.ts') && !f.toLowerCase().endsWith('readme.md'))
      .map((f) => relative(src, f));
    expect(assets.length).toBeGreaterThan(0);
    const built = new Set(
      files(join(builtAppDir(), 'dist')).map((f) => relative(join(builtAppDir(), 'dist'), f)),
    );
    for (const asset of assets) expect(built.has(asset), asset).toBe(true);
  });

  it('runs `vitte` from dist/ when there is no src/ (what bin/vitte.js does in the image)', async () => {
    const r = await run(process.execPath, ['bin/vitte.js', 'nope'], { cwd: builtAppDir() });
    expect(r.code).toBe(2);
    expect(r.output).toContain('usage: vitte <command>');
    const config = await run(process.execPath, ['bin/vitte.js', 'api'], {
      cwd: builtAppDir(),
      env: { API_PORT: 'not-a-port' },
    });
    expect(config.code).toBe(78);
  });
});
