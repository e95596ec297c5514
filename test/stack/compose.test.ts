import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../src/config.js';
import { nginxPlaceholders, upstreamServers, withStaticUpstreams } from './stack-render.js';

/**
 * Docker cannot run on these machines, so the rules of deploy/docker-compose.yml are enforced by
 * reading it (with YAML merge keys resolved, as Compose does). No service is needed.
 */
const DEPLOY = resolve(import.meta.dirname, '../../deploy');
const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');
const readDoc = (path: string) => readFileSync(join(DEPLOY, '..', path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  profiles?: string[];
  restart?: string;
  read_only?: boolean;
  tmpfs?: string[];
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

/** The app's secret settings: credentials, and the URLs that carry the database and Redis passwords. */
const APP_SECRET = /PASSWORD|SECRET|API_KEY|DSN|(^|_)TOKEN$|^DATABASE_URL$|^REDIS_URL$/;

/**
 * The secrets each app service's role reads, and so the only ones Compose may give it. From the
 * code: src/app.ts (every role opens Postgres and Redis and has a Bot API client when BOT_TOKEN is
 * set), src/cli/roles.ts (what each role starts; every long-running role reports to Sentry when
 * SENTRY_DSN is set) and the one-shot commands in src/cli/. The stack test starts every role with
 * exactly what Compose gives its service, so a secret missing here fails there.
 */
const ROLE_SECRETS: Record<string, string[]> = {
  // `vitte migrate up`: the database only.
  migrations: ['DATABASE_URL'],
  // Long polling: handles updates and answers through the Bot API; chat messages are queued for the
  // workers (LLM_BASE_URL, not a secret, tells it chat is on; the key stays with the workers).
  bot: ['DATABASE_URL', 'REDIS_URL', 'BOT_TOKEN', 'SENTRY_DSN'],
  // As the bot in webhook mode, behind the route that checks WEBHOOK_SECRET.
  api: ['DATABASE_URL', 'REDIS_URL', 'BOT_TOKEN', 'WEBHOOK_SECRET', 'SENTRY_DSN'],
  // Replies (the LLM), pictures (stored in MinIO), broadcasts, notifications and retention messages
  // (the Bot API).
  worker: ['DATABASE_URL', 'REDIS_URL', 'BOT_TOKEN', 'LLM_API_KEY', 'S3_SECRET_ACCESS_KEY', 'SENTRY_DSN'],
  // The panel: the bootstrap account, a broadcast's test message (the Bot API), the pictures it shows
  // (read from MinIO, served under links it signs).
  admin: [
    'DATABASE_URL',
    'REDIS_URL',
    'BOT_TOKEN',
    'ADMIN_BOOTSTRAP_PASSWORD',
    'S3_SECRET_ACCESS_KEY',
    'OBJECT_LINK_SECRET',
    'SENTRY_DSN',
  ],
  // `vitte webhook set`: the Bot API only.
  webhook: ['BOT_TOKEN', 'WEBHOOK_SECRET'],
};
// ADMIN_PASSWORD is given to `vitte admin create-user` alone, on stdin (see the runbook).
const NO_SERVICE_SECRETS = ['ADMIN_PASSWORD'];

/** The .env secrets each service may use: its own credentials or those of the server it watches. */
const ENV_SECRETS: Record<string, string[]> = {
  postgres: ['POSTGRES_PASSWORD'],
  redis: ['REDIS_PASSWORD'],
  'postgres-exporter': ['POSTGRES_PASSWORD'],
  'redis-exporter': ['REDIS_PASSWORD'],
  grafana: ['GRAFANA_ADMIN_PASSWORD'],
  minio: ['MINIO_ROOT_PASSWORD'],
  nginx: [],
  prometheus: [],
  // The app services: their role's secrets, by the .env variable each comes from.
  ...Object.fromEntries(
    Object.entries(ROLE_SECRETS).map(([name, keys]) => [
      name,
      keys.map(
        (k) =>
          (
            ({
              DATABASE_URL: 'POSTGRES_PASSWORD',
              REDIS_URL: 'REDIS_PASSWORD',
              S3_SECRET_ACCESS_KEY: 'MINIO_ROOT_PASSWORD',
            }) as Record<string, string>
          )[k] ?? k,
      ),
    ]),
  ),
};

/**
 * The .env variables a service's definition reads: ${NAME} interpolations anywhere in it, and
 * environment entries without a value (Compose passes those through from .env).
 */
function envVariablesOf(s: Service): Set<string> {
  const names = new Set<string>();
  for (const [, value] of strings(s)) {
    for (const m of value.matchAll(/\$\{([A-Z0-9_]+)/g)) names.add(m[1]!);
  }
  for (const [key, value] of Object.entries(s.environment ?? {})) if (value === null) names.add(key);
  return names;
}

/** Where a service's filesystem is writable: its tmpfs mounts and its read-write volumes. */
function writableMounts(s: Service): string[] {
  const tmpfs = (s.tmpfs ?? []).map((t) => t.split(':')[0]!);
  const volumes = (s.volumes ?? []).filter((v) => !v.endsWith(':ro')).map((v) => v.split(':')[1]!);
  return [...tmpfs, ...volumes];
}

/** The program each image runs (its entrypoint), by image name without the tag. */
const IMAGE_PROGRAM: Record<string, string> = {
  [VITTE_IMAGE]: 'node',
  postgres: 'postgres',
  redis: 'redis-server',
  'nginxinc/nginx-unprivileged': 'nginx',
  'prom/prometheus': 'prometheus',
  'grafana/grafana-oss': 'grafana',
  'minio/minio': 'minio',
  'quay.io/prometheuscommunity/postgres-exporter': 'postgres_exporter',
  'oliver006/redis_exporter': 'redis_exporter',
};

const flag = (s: Service, name: string) =>
  (s.command ?? []).find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? `(no ${name})`;
const setting = (s: Service, name: string, fallback?: string) =>
  s.environment?.[name] ?? fallback ?? `(${name} unset)`;

/**
 * Where each program of the services must be able to write, from how the service configures it
 * (the images' defaults otherwise). Every program a service runs, as its main process, in its
 * command or in its health check, must be listed: a new one fails the test until someone says
 * where it writes, and the read-only root filesystem must leave those places writable.
 */
const WRITES: Record<string, (s: Service) => string[]> = {
  // The roles keep no state on disk (Postgres and Redis do); healthcheck.mjs writes nothing.
  node: () => [],
  // PGDATA of the image, and the directory of the Unix socket (pg_isready uses it).
  postgres: () => ['/var/lib/postgresql/data', '/var/run/postgresql'],
  // `dir` is the image's working directory: the AOF and RDB files.
  'redis-server': () => ['/data'],
  // The rendered config (entrypoint), the pid file and proxy temp files (nginx.conf).
  nginx: (s) => [setting(s, 'NGINX_ENVSUBST_OUTPUT_DIR'), setting(s, 'NGINX_RUNTIME_DIR')],
  prometheus: (s) => [flag(s, '--storage.tsdb.path')],
  // GF_PATHS_DATA (default): the SQLite database, sessions and plugins.
  grafana: (s) => [setting(s, 'GF_PATHS_DATA', '/var/lib/grafana')],
  // `minio server <dir>`, and the certificate directory it creates under $HOME (root's) at start.
  minio: (s) => [s.command?.[1] ?? '(no data directory)', '/root/.minio'],
  // mc creates its config directory (aliases) on every run: MC_CONFIG_DIR, else ~/.mc.
  mc: (s) => [setting(s, 'MC_CONFIG_DIR', '/root/.mc')],
  postgres_exporter: () => [],
  redis_exporter: () => [],
  // Shell and health-check helpers that write nothing.
  sh: () => [],
  pg_isready: () => [],
  'redis-cli': () => [],
  grep: () => [],
  wget: () => [],
};

/** The commands a shell script runs (first word of each pipeline part, past VAR=value and exec). */
function shellPrograms(script: string): string[] {
  return script
    .split(/&&|\|\||[|;]/)
    .map((part) => part.trim().split(/\s+/))
    .map((words) => words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && w !== 'exec'))
    .filter((w): w is string => Boolean(w));
}

/** Every program a service runs: the image's, the command's (when it names one), the health check's. */
function programsOf(s: Service): string[] {
  const image = (s.image ?? '').replace(/:[^/:]+$/, '');
  const out = [IMAGE_PROGRAM[s.image === VITTE_IMAGE ? VITTE_IMAGE : image] ?? `(image ${image})`];
  const command = s.image === VITTE_IMAGE ? [] : (s.command ?? []);
  if (command[0] === 'sh' && command[1] === '-c') out.push('sh', ...shellPrograms(command[2] ?? ''));
  else if (command[0] && WRITES[command[0]]) out.push(command[0]);
  const test = s.healthcheck?.test ?? [];
  if (test[0] === 'CMD') out.push(test[1]!);
  if (test[0] === 'CMD-SHELL') out.push(...shellPrograms(test[1] ?? ''));
  return [...new Set(out)];
}

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

  it('keeps service-to-service traffic on an internal network; only what calls out, and nginx, has a route out', () => {
    expect(Object.keys(compose.networks).sort()).toEqual(['backend', 'egress']);
    expect(compose.networks.backend!.internal).toBe(true);
    expect(compose.networks.egress!.internal).toBeUndefined();
    const on = (network: string) =>
      services
        .filter(([, s]) => s.networks?.includes(network))
        .map(([n]) => n)
        .sort();
    // The Bot API (bot, api in webhook mode, worker, admin's test message, webhook), the LLM
    // (worker), Sentry (the long-running roles); nginx's published ports.
    expect(on('egress')).toEqual(['admin', 'api', 'bot', 'nginx', 'webhook', 'worker']);
    // Everything that talks to another service; `webhook set` talks to Telegram only.
    expect(on('backend')).toEqual(
      services
        .map(([n]) => n)
        .filter((n) => n !== 'webhook')
        .sort(),
    );
    for (const [name, s] of services) {
      for (const network of s.networks ?? []) expect(Object.keys(compose.networks), name).toContain(network);
    }
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
    // Each role is probed on its own port (bot and worker serve only /health and /metrics).
    const probe = (port: string, path: string) => [
      'CMD',
      'node',
      'healthcheck.mjs',
      `http://127.0.0.1:${port}${path}`,
    ];
    const settings = compose.services.api!.environment!;
    expect(compose.services.admin!.healthcheck!.test).toEqual(probe(settings.ADMIN_PORT!, '/admin/health'));
    expect(compose.services.bot!.healthcheck!.test).toEqual(probe(settings.BOT_PORT!, '/health'));
    expect(compose.services.worker!.healthcheck!.test).toEqual(probe(settings.WORKER_PORT!, '/health'));
  });

  it('limits and reserves resources for every service', () => {
    for (const [name, s] of services) {
      const r = s.deploy?.resources;
      expect(r?.limits?.cpus, `${name} cpu limit`).toMatch(/^\d+(\.\d+)?$/);
      expect(r?.limits?.memory, `${name} memory limit`).toMatch(/^\d+[mg]$/);
      expect(r?.reservations?.memory, `${name} memory reservation`).toMatch(/^\d+[mg]$/);
    }
  });

  it('leaves writable, on a tmpfs or a volume, every place a read-only service writes to (its programs and health check)', () => {
    for (const [name, s] of services.filter(([, s]) => s.read_only)) {
      const mounts = writableMounts(s);
      for (const program of programsOf(s)) {
        const writes = WRITES[program];
        expect(writes, `${name} runs ${program}: say in WRITES where it writes`).toBeDefined();
        for (const path of writes!(s)) {
          const writable = mounts.some((m) => path === m || path.startsWith(`${m}/`));
          expect(writable, `${name}: ${program} writes ${path}; writable: ${mounts.join(', ')}`).toBe(true);
        }
      }
    }
    // The case that found this rule: `mc ready local` cannot create /root/.mc on a read-only root.
    expect(programsOf(compose.services.minio!)).toContain('mc');
    expect(compose.services.minio!.environment?.MC_CONFIG_DIR).toMatch(/^\/tmp\//);
  });

  it('lists in the runbook exactly what each container may write', () => {
    const doc = readDoc('docs/operations.md');
    const table = doc.split('| service | writable (the rest of its filesystem is read-only) |')[1];
    expect(table, 'the "writable" table in docs/operations.md').toBeDefined();
    const rows = table!
      .split('\n\n')[0]!
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('|---'));
    const documented: Record<string, string[]> = {};
    for (const row of rows) {
      const [names, paths] = row
        .split('|')
        .slice(1, 3)
        .map((c) => c.trim());
      // Paths only: the notes in the cell quote other things too.
      const listed = [...paths!.matchAll(/`(\/[^`]*)`/g)].map((m) => m[1]!).sort();
      for (const n of names!.split(', ')) documented[n] = listed;
    }
    expect(Object.keys(documented).sort()).toEqual(services.map(([n]) => n).sort());
    for (const [name, s] of services) expect(documented[name], name).toEqual(writableMounts(s).sort());
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
    for (const [name, s] of appServices) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (APP_SECRET.test(key)) expect(value === null || interpolated(value), `${name}: ${key}`).toBe(true);
      }
    }
  });

  it('gives each app service only the secrets its role reads, and knows every secret setting of the app', () => {
    for (const [name, s] of appServices) {
      const secrets = Object.keys(s.environment ?? {}).filter((k) => APP_SECRET.test(k));
      expect(secrets.sort(), name).toEqual([...ROLE_SECRETS[name]!].sort());
    }
    const appSecrets = Object.keys(configSchema.shape).filter((k) => APP_SECRET.test(k));
    expect(appSecrets.sort()).toEqual(
      [...new Set([...Object.values(ROLE_SECRETS).flat(), ...NO_SERVICE_SECRETS])].sort(),
    );
    // The bootstrap password in particular stays with the admin role.
    const withBootstrap = appServices.filter(([, s]) => 'ADMIN_BOOTSTRAP_PASSWORD' in (s.environment ?? {}));
    expect(withBootstrap.map(([n]) => n)).toEqual(['admin']);
  });

  it('gives no service a secret from .env that it does not use', () => {
    const example = read('.env.example');
    const envSecrets = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)]
      .map((m) => m[1]!)
      .filter((k) => SECRET_KEY.test(k));
    expect(envSecrets.length).toBeGreaterThan(5);
    expect(Object.keys(ENV_SECRETS).sort()).toEqual(services.map(([n]) => n).sort());
    for (const [name, s] of services) {
      const used = [...envVariablesOf(s)].filter((v) => envSecrets.includes(v));
      expect(used.sort(), name).toEqual([...ENV_SECRETS[name]!].sort());
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
    const keys = Object.keys(configSchema.shape);
    // Embedded or development-only settings, the webhook path nginx.conf fixes, and the password of the
    // one-off `vitte admin create-user` (given to that command alone, on stdin).
    const notForCompose = ['DATA_DIR', 'EMULATOR_PORT', 'LOG_PRETTY', 'WEBHOOK_PATH', 'ADMIN_PASSWORD'];
    const passed = new Set<string>();
    for (const [name, s] of appServices) {
      for (const key of Object.keys(s.environment ?? {})) {
        expect(keys, `${name}: ${key} is not an app setting`).toContain(key);
        passed.add(key);
      }
    }
    for (const key of keys.filter((k) => !notForCompose.includes(k))) {
      expect([...passed], `${key} is not passed to any role`).toContain(key);
    }
    // The long-running roles share every setting that is not a secret, but for the ones only their
    // role reads (BOT_MODE makes the app require WEBHOOK_SECRET, which worker and admin do not get).
    // The object store's settings go to the roles that write and read pictures.
    const OBJECT_STORE = ['S3_BUCKET', 'S3_ENDPOINT', 'S3_REGION', 'S3_FORCE_PATH_STYLE', 'S3_ACCESS_KEY_ID'];
    const ROLE_SETTINGS: Record<string, string[]> = {
      bot: ['BOT_MODE'],
      api: ['BOT_MODE'],
      worker: [...OBJECT_STORE, 'COMFYUI_WORKFLOW_DIR'],
      admin: ['ADMIN_BOOTSTRAP_USERNAME', ...OBJECT_STORE],
    };
    const settings = (name: string) =>
      Object.fromEntries(
        Object.entries(compose.services[name]!.environment ?? {}).filter(
          ([k]) => !APP_SECRET.test(k) && !ROLE_SETTINGS[name]!.includes(k),
        ),
      );
    const shared = settings('api');
    expect(shared).toMatchObject({ HOST: '0.0.0.0', TRUST_PROXY: 'true', NODE_ENV: 'production' });
    for (const name of Object.keys(ROLE_SETTINGS)) {
      expect(settings(name), name).toEqual(shared);
      for (const key of ROLE_SETTINGS[name]!)
        expect(Object.keys(compose.services[name]!.environment!)).toContain(key);
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
  });

  it("proxies to the api and admin services by name through Docker's DNS, re-resolved at run time (nginx >= 1.27.3)", () => {
    const conf = read('nginx/nginx.conf');
    expect(conf).toMatch(/^\s*resolver 127\.0\.0\.11 valid=10s ipv6=off;$/m);
    const servers = upstreamServers(conf);
    expect(servers.map((s) => [s.upstream, s.address])).toEqual([
      ['vitte_api', `api:${compose.services.api!.environment!.API_PORT}`],
      ['vitte_admin', `admin:${compose.services.admin!.environment!.ADMIN_PORT}`],
    ]);
    for (const s of servers) {
      expect(s.params, s.upstream).toContain('resolve');
      // `resolve` keeps the peers in the upstream's shared-memory zone.
      const block = conf.split(`upstream ${s.upstream} {`)[1]!.split('}')[0]!;
      expect(block, s.upstream).toMatch(/^\s*zone \S+ \d+k;$/m);
    }
    // nginx reaches both services on a network they share.
    for (const name of ['api', 'admin']) {
      expect(
        compose.services[name]!.networks!.some((n) => compose.services.nginx!.networks!.includes(n)),
      ).toBe(true);
    }
    // `server ... resolve` is in open-source nginx from 1.27.3 on.
    const tag = /^nginxinc\/nginx-unprivileged:(\d+)\.(\d+)(?:\.(\d+))?-alpine$/.exec(
      compose.services.nginx!.image!,
    );
    expect(tag, compose.services.nginx!.image).not.toBeNull();
    const [major, minor, patch] = tag!.slice(1).map((n) => Number(n ?? 0));
    expect(major! * 1e6 + minor! * 1e3 + patch!, compose.services.nginx!.image).toBeGreaterThanOrEqual(
      1_027_003,
    );
  });

  it("runs in the stack test the production nginx.conf but for the upstream server lines (Debian's nginx has no `resolve`)", () => {
    const conf = read('nginx/nginx.conf');
    const rendered = withStaticUpstreams(conf, { api: ['127.0.0.1:1'], admin: ['127.0.0.1:2'] });
    const before = conf.split('\n');
    const after = rendered.split('\n');
    expect(after.length).toBe(before.length);
    const changed = before.flatMap((line, i) => (line === after[i] ? [] : [[line.trim(), after[i]!.trim()]]));
    expect(changed).toEqual([
      [
        'server api:3000 resolve max_fails=3 fail_timeout=10s;',
        'server 127.0.0.1:1 max_fails=3 fail_timeout=10s;',
      ],
      [
        'server admin:3001 resolve max_fails=3 fail_timeout=10s;',
        'server 127.0.0.1:2 max_fails=3 fail_timeout=10s;',
      ],
    ]);
    // A file that lost `resolve` (or names a service the test does not run) is refused, not rendered.
    expect(() =>
      withStaticUpstreams(conf.replace('api:3000 resolve', 'api:3000'), { api: ['a:1'], admin: ['b:2'] }),
    ).toThrow(/no resolve/);
    expect(() => withStaticUpstreams(conf, { api: ['a:1'] })).toThrow(/no addresses given for admin/);
  });

  it('reloads nginx in the runbook with the configuration it runs, and so the pid file that one names', () => {
    const doc = readDoc('docs/operations.md');
    const running = `${compose.services.nginx!.environment!.NGINX_ENVSUBST_OUTPUT_DIR}/nginx.conf`;
    const reloads = [...doc.matchAll(/nginx nginx ([^\n`]*?)-s reload/g)];
    expect(reloads.length).toBeGreaterThan(3);
    for (const m of reloads) expect(m[1]!.trim(), m[0]).toBe(`-c ${running}`);
    expect(read('nginx/nginx.conf')).toMatch(/^pid \$\{NGINX_RUNTIME_DIR\}\/nginx\.pid;$/m);
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
      worker: '3003',
      bot: '3002',
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
