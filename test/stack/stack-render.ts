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
