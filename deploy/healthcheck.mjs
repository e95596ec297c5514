#!/usr/bin/env node
// Container health check (no curl in the slim image): exit 0 when the role answers 2xx.
// usage: node healthcheck.mjs [url]   default: http://127.0.0.1:$API_PORT/health
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.API_PORT || 3000}/health`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4_000) });
  await res.body?.cancel();
  if (!res.ok) process.stderr.write(`unhealthy: ${url} answered ${res.status}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`unhealthy: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
