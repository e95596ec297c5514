import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmulatorClient } from '../src/dev/bot-api-emulator/client.js';
import { startVitte } from '../test/helpers/process.js';
import type { Report } from './run.js';
import { percentile } from './stats.js';

const RUNS = 3;

/** One `npm start` as a newcomer runs it: seconds to ready, to the first AI answer, and to exit on Ctrl-C. */
async function once(dataDir: string): Promise<{ ready: number; answer: number; stop: number }> {
  const started = performance.now();
  const p = startVitte(['all'], {
    DATA_DIR: dataDir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    EMULATOR_PORT: '0',
  });
  try {
    await p.waitForLog((l) => String(l.msg).startsWith('playground:'), 120_000);
    const ready = performance.now();
    const emulator = String(p.jsonLines().find((l) => l.msg === 'started')?.emulator);
    const tg = new EmulatorClient(emulator);
    const user = { id: 4242, first_name: 'New' };
    await tg.injectMessage({ user, text: 'Hello! What can you do?' });
    // The demo model's answer, complete (the placeholder and drafts come before it).
    await tg.waitForBotMessage(user.id, (m) => (m.text ?? '').length > 80, { timeoutMs: 60_000 });
    const answered = performance.now();
    const stopping = performance.now();
    await p.stop('SIGINT', 30_000);
    return {
      ready: (ready - started) / 1000,
      answer: (answered - started) / 1000,
      stop: (performance.now() - stopping) / 1000,
    };
  } finally {
    await p.stop('SIGKILL');
  }
}

/**
 * The first minute: `vitte all` (what `npm start` runs) on an empty data directory — PGlite's initdb
 * and every migration — then on the same directory again, each to its first answer from the demo
 * model through the built-in emulator, then Ctrl-C.
 */
export default async function firstRun(report: Report): Promise<void> {
  for (const kind of ['empty', 'existing'] as const) {
    const samples = [];
    for (let i = 0; i < RUNS; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'vitte-bench-first-run-'));
      try {
        if (kind === 'existing') await once(dir);
        samples.push(await once(dir));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const note = `${RUNS} runs, median; data directory ${kind}`;
    for (const key of ['ready', 'answer', 'stop'] as const) {
      const name = { ready: 'ready_s', answer: 'first_answer_s', stop: 'ctrl_c_s' }[key];
      report(
        `${name}_${kind}`,
        percentile(
          samples.map((s) => s[key]),
          50,
        ),
        's',
        note,
      );
    }
  }
}
