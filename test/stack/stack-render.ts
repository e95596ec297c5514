import { isAbsolute, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

const PLACEHOLDER = /\$\{(NGINX_[A-Z0-9_]+)\}/g;

/** The ${NGINX_*} names a template uses, in order of first appearance. */
export function nginxPlaceholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

/**
 * Fills the ${NGINX_*} placeholders of deploy/nginx/nginx.conf like the nginx image's envsubst step
 * (NGINX_ENVSUBST_FILTER=^NGINX_) does in Compose. Refuses a missing or an unused value, so the
 * test and the template cannot drift apart silently.
 */
export function renderNginxConf(template: string, values: Record<string, string>): string {
  const used = nginxPlaceholders(template);
  const missing = used.filter((name) => values[name] === undefined);
  const unused = Object.keys(values).filter((name) => !used.includes(name));
  if (missing.length || unused.length) {
    throw new Error(
      `nginx template values: missing ${missing.join(', ') || 'none'}; unused ${unused.join(', ') || 'none'}`,
    );
  }
  return template.replace(PLACEHOLDER, (_m, name: string) => values[name]!);
}

/** An upstream block: `upstream name { ... }` (no nested braces inside). */
const UPSTREAM = /^\s*upstream\s+(\S+)\s*\{([^}]*)\}/gm;
const SERVER = /^([^\S\n]*)server[^\S\n]+(\S+)((?:[^\S\n]+[^;\s]+)*)[^\S\n]*;[^\S\n]*$/gm;

export interface UpstreamServer {
  upstream: string;
  /** host:port as written, e.g. api:3000 */
  address: string;
  /** The parameters after the address, e.g. ['resolve', 'max_fails=3', 'fail_timeout=10s']. */
  params: string[];
}

/** The `server` lines of every upstream block of an nginx config, in file order. */
export function upstreamServers(conf: string): UpstreamServer[] {
  return [...conf.matchAll(UPSTREAM)].flatMap((u) =>
    [...u[2]!.matchAll(SERVER)].map((s) => ({
      upstream: u[1]!,
      address: s[2]!,
      params: s[3]!.trim().split(/\s+/).filter(Boolean),
    })),
  );
}

/**
 * deploy/nginx/nginx.conf for an nginx without `server ... resolve` (Debian 12's 1.22; open-source
 * nginx has it from 1.27.3). Each upstream's one `server <service>:<port> resolve ...;` line becomes
 * one `server <address> ...;` line per address given for that service, with the same parameters
 * less `resolve`. Nothing else changes, the `resolver` directive included (1.22 accepts it, and
 * nothing resolves at run time with literal addresses). Refuses a file whose upstreams are not
 * written that way and addresses for a service the file does not name, so the production file
 * cannot lose `resolve` and the test go on passing.
 */
export function withStaticUpstreams(conf: string, addresses: Record<string, string[]>): string {
  const servers = upstreamServers(conf);
  const problems: string[] = [];
  const hosts = servers.map((s) => s.address.split(':')[0]!);
  for (const s of servers) {
    if (!s.params.includes('resolve')) problems.push(`${s.upstream}: server ${s.address} has no resolve`);
  }
  for (const name of new Set(servers.map((s) => s.upstream))) {
    const count = servers.filter((s) => s.upstream === name).length;
    if (count !== 1) problems.push(`${name}: ${count} server lines, expected one service name`);
  }
  for (const host of hosts) {
    if (!addresses[host]?.length) problems.push(`no addresses given for ${host}`);
  }
  for (const host of Object.keys(addresses)) {
    if (!hosts.includes(host)) problems.push(`addresses given for ${host}, which no upstream names`);
  }
  if (!servers.length) problems.push('no upstream servers found');
  if (problems.length) throw new Error(`nginx upstreams: ${problems.join('; ')}`);
  return conf.replace(UPSTREAM, (block) =>
    block.replace(SERVER, (_m, indent: string, address: string, params: string) => {
      const kept = params
        .trim()
        .split(/\s+/)
        .filter((p) => p && p !== 'resolve');
      return addresses[address.split(':')[0]!]!.map((a) => `${indent}server ${[a, ...kept].join(' ')};`).join(
        '\n',
      );
    }),
  );
}

/**
 * The variables Compose gives each service of deploy/docker-compose.yml (YAML merge keys resolved,
 * as Compose does), by service name.
 */
export function composeEnvironments(text: string): Record<string, string[]> {
  const compose = parse(text, { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown> }>;
  };
  return Object.fromEntries(
    Object.entries(compose.services).map(([name, s]) => [name, Object.keys(s.environment ?? {})]),
  );
}

interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  dns_sd_configs?: unknown[];
  [key: string]: unknown;
}

interface PrometheusConfig {
  global?: Record<string, unknown>;
  rule_files?: string[];
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}

export interface PrometheusRenderOptions {
  /** Directory of the original file: relative rule_files are resolved against it. */
  configDir: string;
  /** The addresses to scrape for every job of the file (and for no other job). */
  targets: Record<string, string[]>;
  /** A shorter scrape/evaluation interval (and timeout) so the test does not wait 15 s per scrape. */
  interval: string;
}

/**
 * deploy/prometheus/prometheus.yml with only what cannot be the same outside Compose replaced: each
 * job's service discovery becomes a static list of the test's own processes, rule files become
 * absolute paths, and the scrape/evaluation interval is shortened. Job names, metrics paths,
 * relabelling and rules are used as written.
 */
export function renderPrometheusConfig(text: string, opts: PrometheusRenderOptions): string {
  const config = parse(text) as PrometheusConfig;
  const jobs = config.scrape_configs.map((s) => s.job_name);
  const missing = jobs.filter((job) => !opts.targets[job]);
  const unknown = Object.keys(opts.targets).filter((job) => !jobs.includes(job));
  if (missing.length || unknown.length) {
    throw new Error(
      `prometheus targets: no addresses for ${missing.join(', ') || 'none'}; unknown jobs ${unknown.join(', ') || 'none'}`,
    );
  }
  config.global = {
    ...config.global,
    scrape_interval: opts.interval,
    scrape_timeout: opts.interval,
    evaluation_interval: opts.interval,
  };
  config.rule_files = (config.rule_files ?? []).map((f) => (isAbsolute(f) ? f : resolve(opts.configDir, f)));
  for (const scrape of config.scrape_configs) {
    const labels = scrape.static_configs?.[0]?.labels;
    delete scrape.dns_sd_configs;
    scrape.static_configs = [{ targets: opts.targets[scrape.job_name]!, ...(labels ? { labels } : {}) }];
  }
  return stringify(config);
}
