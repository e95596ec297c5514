/** One ComfyUI server, as configured. */
export interface ComfyBackendConfig {
  /** For logs and metric labels: `name=` or the URL's host, port and path. Never holds a secret. */
  name: string;
  /** Origin plus any path prefix, without credentials or a trailing slash. */
  baseUrl: string;
  /** The `Authorization` header sent on every request and on the socket. */
  authorization?: string;
  /** Prompts this process runs on the backend at once (GPU concurrency). */
  slots: number;
}

export type ParseBackendsResult =
  | { ok: true; backends: ComfyBackendConfig[] }
  | { ok: false; errors: string[] };

const MAX_SLOTS = 64;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;

/**
 * Parses `COMFYUI_URLS`: comma-separated entries `URL[;auth=<Authorization value>][;slots=N][;name=X]`.
 * `https://user:pass@host` becomes Basic auth. An empty string means no backend. Errors name the
 * entry by position and host only, so a credential never reaches a log line.
 */
export function parseComfyBackends(raw: string): ParseBackendsResult {
  const errors: string[] = [];
  const backends: ComfyBackendConfig[] = [];
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, i) => {
    const parsed = parseEntry(entry, `COMFYUI_URLS entry ${i + 1}`);
    if (typeof parsed === 'string') errors.push(parsed);
    else backends.push(parsed);
  });
  const seen = new Map<string, string>();
  for (const b of backends) {
    for (const [key, value] of [
      [`url:${b.baseUrl}`, `URL ${b.baseUrl}`],
      [`name:${b.name}`, `name ${b.name}`],
    ] as const) {
      if (seen.has(key)) errors.push(`COMFYUI_URLS lists the ${value} twice`);
      seen.set(key, value);
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, backends };
}

function parseEntry(entry: string, label: string): ComfyBackendConfig | string {
  const [rawUrl = '', ...options] = entry.split(';').map((p) => p.trim());
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return `${label}: not a URL (expected http(s)://host:port)`;
  }
  const where = `${label} (${url.host || 'no host'})`;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${where}: must be http:// or https://`;
  if (!url.hostname) return `${where}: has no host`;
  if (url.search || url.hash) return `${where}: must not have a query or fragment`;

  let authorization: string | undefined;
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const pass = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  }
  let slots = 1;
  let name: string | undefined;
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq < 0 ? option : option.slice(0, eq).trim();
    const value = eq < 0 ? '' : option.slice(eq + 1).trim();
    if (key === 'auth') {
      if (authorization) return `${where}: give credentials once (in the URL or as auth=), not both`;
      if (!value) return `${where}: auth= is empty`;
      if (/[\r\n]/.test(value)) return `${where}: auth= must be one line`;
      authorization = value;
    } else if (key === 'slots') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || n < 1 || n > MAX_SLOTS)
        return `${where}: slots must be a whole number from 1 to ${MAX_SLOTS}`;
      slots = n;
    } else if (key === 'name') {
      if (!NAME.test(value)) return `${where}: name must be 1-64 letters, digits or ._:/-`;
      name = value;
    } else {
      return `${where}: unknown option "${key}" (expected auth=, slots= or name=)`;
    }
  }
  const path = url.pathname.replace(/\/+$/, '');
  return {
    name: name ?? `${url.host}${path}`,
    baseUrl: `${url.protocol}//${url.host}${path}`,
    ...(authorization ? { authorization } : {}),
    slots,
  };
}
