import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../src/config.js';
import { nginxPlaceholders } from './stack-render.js';

/**
 * Docker cannot run on these machines, so the rules of deploy/docker-compose.yml are enforced by
 * reading it (with YAML merge keys resolved, as Compose does). No service is needed.
 */
const DEPLOY = resolve(import.meta.dirname, '../../deploy');
const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  profiles?: string[];
  restart?: string;
  read_only?: boolean;
  user?: string;
  ports?: string[];
  expose?: unknown;
  network_mode?: string;
  networks?: string[];
  security_opt?: string[];
  cap_drop?: string[];
  environment?: Record<string, string | null>;
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean; interval?: string };
  depends_on?: Record<string, { condition: string }>;
  deploy?: {
    replicas?: number;
    resources?: {
      limits?: { cpus?: string; memory?: string };
      reservations?: { cpus?: string; memory?: string };
    };
  };
}

interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
// biome-ignore lint/suspicious/noTemplateCurlyInString: Compose interpolation, not a JS template
const VITTE_IMAGE = '${VITTE_IMAGE:-vitte:latest}';
const appServices = services.filter(([, s]) => s.image === VITTE_IMAGE);
const longRunning = services.filter(([, s]) => s.restart !== 'no');

/** Every string anywhere in a value, with the key it sits under. */
function* strings(value: unknown, key = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [key, value];
  else if (Array.isArray(value)) for (const v of value) yield* strings(v, key);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* strings(v, k);
  }
}

const SECRET_KEY = /PASSWORD|SECRET|TOKEN|API_KEY|DSN|_PASS$/;
const interpolated = (v: string) => /\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}|\$\$[A-Z0-9_]+/.test(v);

describe('deploy/docker-compose.yml', () => {
  it('has the services of the topology, one image for every app role', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'admin',
        'api',
        'bot',
        'grafana',
        'migrations',
        'minio',
        'nginx',
        'postgres',
        'postgres-exporter',
        'prometheus',
        'redis',
        'redis-exporter',
        'webhook',
        'worker',
      ].sort(),
    );
    expect(Object.fromEntries(appServices.map(([name, s]) => [name, s.command]))).toEqual({
      migrations: ['migrate', 'up'],
      bot: ['bot'],
      api: ['api'],
      worker: ['worker'],
      admin: ['admin'],
      webhook: ['webhook', 'set'],
    });
    const build = compose.services.migrations!.build!;
    expect(existsSync(join(DEPLOY, build.context, build.dockerfile))).toBe(true);
  });

  it('publishes ports from nginx only: 80 and 443', () => {
    for (const [name, s] of services) {
      expect(s.network_mode, name).toBeUndefined();
      if (name !== 'nginx') expect(s.ports, `${name} publishes ports`).toBeUndefined();
    }
    expect(compose.services.nginx!.ports).toEqual(['80:8080', '443:8443']);
  });

  it('puts every service on the one private network', () => {
    expect(Object.keys(compose.networks)).toEqual(['vitte_network']);
    for (const [name, s] of services) expect(s.networks, name).toEqual(['vitte_network']);
  });

  it('starts every app service only after the migrations completed successfully', () => {
    expect(compose.services.migrations!.command).toEqual(['migrate', 'up']);
    expect(compose.services.migrations!.restart).toBe('no');
    for (const [name, s] of appServices.filter(([n]) => n !== 'migrations')) {
      expect(s.depends_on?.migrations, name).toEqual({ condition: 'service_completed_successfully' });
    }
    expect(compose.services.migrations!.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
  });

  it('gives every long-running service a health check; only run-once jobs have none', () => {
    for (const [name, s] of longRunning) {
      expect(s.healthcheck?.test?.length, `${name} health check`).toBeGreaterThan(0);
      expect(s.healthcheck?.disable, name).toBeUndefined();
    }
    const oneShot = services.filter(([, s]) => s.restart === 'no').map(([n]) => n);
    expect(oneShot.sort()).toEqual(['migrations', 'webhook']);
    expect(compose.services.admin!.healthcheck!.test).toEqual([
      'CMD',
      'node',
      'healthcheck.mjs',
      'http://127.0.0.1:3001/admin/health',
    ]);
  });

  it('limits and reserves resources for every service', () => {
    for (const [name, s] of services) {
      const r = s.deploy?.resources;
      expect(r?.limits?.cpus, `${name} cpu limit`).toMatch(/^\d+(\.\d+)?$/);
      expect(r?.limits?.memory, `${name} memory limit`).toMatch(/^\d+[mg]$/);
      expect(r?.reservations?.memory, `${name} memory reservation`).toMatch(/^\d+[mg]$/);
    }
  });

  it('hardens every service: no-new-privileges, no capabilities, read-only root filesystem', () => {
    for (const [name, s] of services) {
      expect(s.security_opt, name).toContain('no-new-privileges:true');
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.read_only, name).toBe(true);
    }
    // The app image runs as its own non-root user (USER vitte in the Dockerfile); no override here.
    for (const [name, s] of appServices) expect(s.user, name).toBeUndefined();
  });

  it('contains no literal secret: every secret is interpolated from .env', () => {
    for (const [name, s] of services) {
      for (const [key, value] of strings(s)) {
        if (SECRET_KEY.test(key)) expect(interpolated(value), `${name}: ${key}`).toBe(true);
        for (const m of value.matchAll(/:\/\/([^/@\s]*):(\$\{[^}]*\}|[^/@\s]+)@/g)) {
          expect(interpolated(m[2]!), `${name}: credentials in ${key}`).toBe(true);
        }
        if (/requirepass/.test(value)) expect(value, name).toMatch(/requirepass \\?"?\$\$REDIS_PASSWORD/);
      }
    }
    // Secret-named keys left empty are passed through from .env, never set here.
    for (const [key, value] of Object.entries(compose.services.api!.environment ?? {})) {
      if (SECRET_KEY.test(key)) expect(value === null || interpolated(value), key).toBe(true);
    }
  });

  it('documents in .env.example every variable it interpolates, with placeholders for secrets', () => {
    const example = read('.env.example');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    const used = new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    for (const name of used) expect(documented.has(name), `${name} in deploy/.env.example`).toBe(true);
    for (const m of example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)) {
      if (SECRET_KEY.test(m[1]!)) expect(m[2], m[1]).toMatch(/CHANGE_ME/);
    }
  });

  it('passes every app setting through to the roles (none set in .env is silently ignored)', () => {
    const env = compose.services.api!.environment!;
    const keys = Object.keys(configSchema.shape);
    // Embedded or development-only settings, the webhook path nginx.conf fixes, and the password of the
    // one-off `vitte admin create-user` (given to that command alone, on stdin).
    const notForCompose = ['DATA_DIR', 'EMULATOR_PORT', 'LOG_PRETTY', 'WEBHOOK_PATH', 'ADMIN_PASSWORD'];
    for (const key of Object.keys(env)) expect(keys, `${key} is not an app setting`).toContain(key);
    for (const key of keys.filter((k) => !notForCompose.includes(k))) {
      expect(Object.keys(env), `${key} is not passed to the app`).toContain(key);
    }
    expect(env).toMatchObject({ HOST: '0.0.0.0', TRUST_PROXY: 'true', NODE_ENV: 'production' });
    for (const [name, s] of appServices.filter(([n]) => n !== 'migrations')) {
      expect(s.environment, name).toEqual(env);
    }
  });

  it('runs the bot only in the polling profile (one replica) and registers the webhook only in the webhook profile', () => {
    expect(compose.services.bot!.profiles).toEqual(['polling']);
    expect(compose.services.bot!.deploy?.replicas).toBe(1);
    expect(compose.services.webhook!.profiles).toEqual(['webhook']);
    expect(compose.services.webhook!.depends_on?.nginx).toEqual({ condition: 'service_healthy' });
    const withProfiles = services.filter(([, s]) => s.profiles).map(([n]) => n);
    expect(withProfiles.sort()).toEqual(['bot', 'webhook']);
  });

  it('configures PostgreSQL 15+ and Redis 7 with a password, a memory limit and noeviction', () => {
    const pgMajor = Number(/^postgres:(\d+)/.exec(compose.services.postgres!.image!)?.[1]);
    expect(pgMajor).toBeGreaterThanOrEqual(15);
    expect(compose.services.redis!.image).toMatch(/^redis:7\./);
    expect(compose.services.redis!.command?.join(' ')).toContain('--requirepass');
    const conf = read('redis/redis.conf');
    expect(conf).toMatch(/^maxmemory \d+mb$/m);
    // BullMQ jobs must never be evicted.
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(compose.services.redis!.healthcheck!.test!.join(' ')).toContain('REDISCLI_AUTH');
  });

  it('fills every placeholder of nginx.conf from the nginx service, restricted to NGINX_* names', () => {
    const env = compose.services.nginx!.environment!;
    const placeholders = nginxPlaceholders(read('nginx/nginx.conf'));
    const given = Object.keys(env).filter((k) => k.startsWith('NGINX_') && !k.startsWith('NGINX_ENVSUBST_'));
    expect(given.sort()).toEqual([...placeholders].sort());
    expect(env.NGINX_ENVSUBST_FILTER).toBe('^NGINX_');
    expect(compose.services.nginx!.volumes).toContain(
      './nginx/nginx.conf:/etc/nginx/templates/nginx.conf.template:ro',
    );
    expect(compose.services.nginx!.command).toEqual([
      'nginx',
      '-c',
      `${env.NGINX_ENVSUBST_OUTPUT_DIR}/nginx.conf`,
      '-g',
      'daemon off;',
    ]);
    expect(env.NGINX_API_SERVERS).toBe('server api:3000 max_fails=3 fail_timeout=10s;');
    expect(env.NGINX_ADMIN_SERVERS).toBe('server admin:3001 max_fails=3 fail_timeout=10s;');
  });

  it('scrapes with Prometheus exactly the services that exist, on their ports', () => {
    const prom = parse(read('prometheus/prometheus.yml')) as {
      scrape_configs: {
        job_name: string;
        dns_sd_configs?: { names: string[]; port: number }[];
        static_configs?: { targets: string[] }[];
      }[];
    };
    const hosts: Record<string, string> = {};
    for (const job of prom.scrape_configs) {
      for (const sd of job.dns_sd_configs ?? []) for (const n of sd.names) hosts[n] = String(sd.port);
      for (const st of job.static_configs ?? []) {
        for (const t of st.targets) {
          const [host, port] = t.split(':');
          if (host !== 'localhost') hosts[host!] = port!;
        }
      }
    }
    expect(hosts).toEqual({
      api: '3000',
      worker: '3000',
      bot: '3000',
      admin: '3001',
      'postgres-exporter': '9187',
      'redis-exporter': '9121',
    });
    for (const host of Object.keys(hosts)) expect(compose.services[host], host).toBeDefined();
    expect(compose.services.prometheus!.volumes).toContain(
      './prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
  });

  it('mounts only files and directories that exist in deploy/', () => {
    for (const [name, s] of services) {
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./'))
          expect(existsSync(join(DEPLOY, source)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: ${source}`).toContain(source);
      }
    }
  });
});
