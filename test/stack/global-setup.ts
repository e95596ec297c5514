import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { probeServices, TEST_PG_URL } from '../helpers/services.js';
import { findTool, STACK_TOOLS, type StackTool } from './stack-tools.js';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The production build the image would run: `tsc -p tsconfig.build.json` plus the copied assets,
 * in a directory with package.json and bin/ but no src/, so bin/vitte.js takes its dist/ branch.
 * node_modules is linked from the checkout (the image's `npm ci --omit=dev` cannot run here; the
 * image suite checks that dist/ imports production dependencies only).
 */
function buildApp(dir: string): void {
  const out = join(dir, 'dist');
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
      { cwd: ROOT, stdio: 'pipe' },
    );
    execFileSync(process.execPath, [join(ROOT, 'scripts/copy-assets.mjs'), out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch (err) {
    // Only the compiler's own report: the error object carries the output again as raw buffers.
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `the production build failed (as "npm run build" in the image would):\n${e.stdout}${e.stderr}`,
    );
  }
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin/vitte.js'), join(dir, 'bin/vitte.js'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** A self-signed certificate for `localhost`, trusted by this run's test processes. */
function makeCertificate(dir: string, openssl: string): void {
  mkdirSync(dir);
  execFileSync(
    openssl,
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-keyout',
      join(dir, 'privkey.pem'),
      '-out',
      join(dir, 'fullchain.pem'),
    ],
    { stdio: 'pipe' },
  );
}

export default async function setup(): Promise<() => void> {
  const services = await probeServices();
  for (const [service, ok] of Object.entries(services)) {
    process.env[`VITTE_TEST_HAS_${service.toUpperCase()}`] = ok ? '1' : '0';
  }
  const missing: string[] = [];
  if (!services.postgres) missing.push(`postgres not reachable at ${TEST_PG_URL}`);
  for (const tool of Object.keys(STACK_TOOLS) as StackTool[]) {
    if (!findTool(tool)) missing.push(`${tool} not found (apt-get install ${STACK_TOOLS[tool]})`);
  }
  if (missing.length) {
    const lines = missing.map((m) => `!!! ${m}: the stack suites are SKIPPED`);
    if (process.env.REQUIRE_SERVICES === '1') {
      throw new Error(`REQUIRE_SERVICES=1 but the stack test cannot run:\n${lines.join('\n')}`);
    }
    process.env.VITTE_STACK_READY = '0';
    process.stderr.write(`\n${lines.join('\n')}\n\n`);
    return () => process.stderr.write(`\n${lines.join('\n')}\n`);
  }

  const base = mkdtempSync(join(tmpdir(), 'vitte-stack-'));
  // nginx's workers run as `nobody` when the test runs as root: they must reach their temp files.
  chmodSync(base, 0o755);
  const appDir = join(base, 'app');
  mkdirSync(appDir);
  const started = Date.now();
  try {
    buildApp(appDir);
    makeCertificate(join(base, 'tls'), findTool('openssl')!);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
  process.stderr.write(`stack: production build ready in ${Math.round((Date.now() - started) / 1000)} s\n`);

  process.env.VITTE_STACK_READY = '1';
  process.env.VITTE_STACK_APP_DIR = appDir;
  process.env.VITTE_STACK_TLS_DIR = join(base, 'tls');
  // The Bot API emulator runs in the test process and delivers the webhook to nginx over TLS: the
  // forked test workers read this at start-up and trust the test certificate.
  process.env.NODE_EXTRA_CA_CERTS = join(base, 'tls/fullchain.pem');
  return () => rmSync(base, { recursive: true, force: true });
}
