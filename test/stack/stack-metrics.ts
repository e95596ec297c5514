/** Reading Prometheus text exposition and querying the Prometheus HTTP API, for the stack test. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Metric family names declared by `# TYPE` lines (histograms without their suffixes). */
export function declaredMetrics(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}

/** Sum of the samples of `name` whose labels include `labels`. */
export function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET ${url}/metrics: ${res.status}`);
  return res.text();
}

export interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; throws with Prometheus' own error for a query it refuses. */
export async function promQuery(prometheusUrl: string, query: string): Promise<PromResult[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data?.result ?? [];
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export async function promTargets(prometheusUrl: string): Promise<PromTarget[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/targets?state=active`);
  const body = (await res.json()) as { data: { activeTargets: PromTarget[] } };
  return body.data.activeTargets;
}

export interface PromRuleGroup {
  name: string;
  rules: { name: string; health: string; lastError?: string; type: string }[];
}

export async function promRules(prometheusUrl: string): Promise<PromRuleGroup[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/rules`);
  const body = (await res.json()) as { data: { groups: PromRuleGroup[] } };
  return body.data.groups;
}

/** Metric names a PromQL expression refers to (the families of this project and its exporters). */
export function referencedMetrics(expr: string): string[] {
  return [...new Set(expr.match(/\b(?:vitte|pg|redis|process|nodejs)_[a-z0-9_]+\b/g) ?? [])];
}

/** Whether a series name belongs to a declared family (histogram series carry a suffix). */
export function isDeclared(name: string, declared: Set<string>): boolean {
  return declared.has(name) || declared.has(name.replace(/_(bucket|count|sum)$/, ''));
}
