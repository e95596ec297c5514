import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningProcess, startVitte } from '../helpers/process.js';

type Line = Record<string, unknown>;

function lines(output: string): Line[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

interface PlaygroundMessage {
  outgoing: boolean;
  text?: string;
  caption?: string;
  photo?: unknown[];
  entities?: { type: string }[];
}

const NEWCOMER = { id: 4242, first_name: 'New', language_code: 'en' };

/** Writes in the playground as `user` and waits for the bot's message that `wanted` accepts. */
async function askPlayground(
  base: string,
  user: { id: number; first_name: string; language_code: string },
  text: string,
  wanted: (m: PlaygroundMessage) => boolean,
  timeoutMs = 30_000,
): Promise<PlaygroundMessage | undefined> {
  const started = Date.now();
  const sent = await fetch(`${base}/playground/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, text }),
  });
  expect(sent.status).toBe(200);
  while (Date.now() - started < timeoutMs) {
    const chat = (await (await fetch(`${base}/playground/api/chats/${user.id}`)).json()) as {
      messages: PlaygroundMessage[];
    };
    const found = chat.messages.find((m) => m.outgoing && wanted(m));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** A port something else already listens on. */
async function takePort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/**
 * What a newcomer meets, with the real CLI: `vitte all` on an empty data directory, no token, no
 * LLM, in development — as `npm start` runs it.
 */
describe('first run of vitte all (real processes, embedded)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vitte-first-run-'));
  // What `npm start` leaves to the defaults: development, no BOT_TOKEN, no LLM, no Local LLM here.
  const env = {
    DATA_DIR: dataDir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    EMULATOR_PORT: '0',
  };
  let busy: { port: number; server: Server };
  let p: RunningProcess | undefined;
  let base = '';

  beforeAll(async () => {
    busy = await takePort();
  });
  afterAll(async () => {
    await p?.stop('SIGKILL');
    busy?.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a taken port is one line naming API_PORT, exit 1, and the owner password is not used up', async () => {
    const failed = startVitte(['all'], { ...env, API_PORT: String(busy.port) });
    const { code } = await failed.exited;
    expect(code).toBe(1);
    const out = failed.output();
    const errors = out.split('\n').filter((l) => l.startsWith('vitte all:'));
    expect(errors).toEqual([
      `vitte all: port ${busy.port} on 127.0.0.1 is already in use (API_PORT): stop the process that holds it, or set API_PORT to a free port`,
    ]);
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).not.toContain('FIRST RUN');
  }, 120_000);

  it('the next start shows the one-time password with the admin URL, and it signs in', async () => {
    p = startVitte(['all'], { ...env, API_PORT: '0' });
    // The last line of a start: everything runs and Ctrl-C is handled from here on.
    await p.waitForLog((l) => String(l.msg).startsWith('admin panel:'), 90_000);
    const first = lines(p.output()).find((l) => String(l.msg).startsWith('FIRST RUN'))!;
    base = String(lines(p.output()).find((l) => l.msg === 'listening')?.url);
    expect(first.url).toBe(`${base}/admin`);
    const login = await fetch(`${base}/admin/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: first.password }),
    });
    expect(login.status).toBe(200);
    const logged = lines(p.output());
    expect(logged.find((l) => String(l.msg).startsWith('playground:'))?.url).toBe(`${base}/playground`);
    expect(logged.find((l) => String(l.msg).startsWith('admin panel:'))?.url).toBe(`${base}/admin`);
  }, 120_000);

  it('a second process on the same data directory is refused, naming the first', async () => {
    for (const args of [['all'], ['migrate', 'status']]) {
      const second = startVitte(args, { ...env, API_PORT: '0' });
      expect((await second.exited).code, args.join(' ')).toBe(1);
      expect(second.output()).toContain(
        `is in use by another Vitte process (pid ${p!.child.pid}, "vitte all"`,
      );
    }
    expect((await fetch(`${base}/health/db`)).status).toBe(200);
  }, 60_000);

  it('with no LLM configured the bot answers with the demo model, formatted, saying how to connect one', async () => {
    const warned = lines(p!.output()).find((l) => String(l.msg).startsWith('no LLM configured'));
    expect(warned?.level).toBe(40);
    const started = Date.now();
    const answer = await askPlayground(base, NEWCOMER, 'What can you do?', (m) =>
      Boolean(m.text?.includes('demo model')),
    );
    console.info(`first AI answer (demo) in the playground ${Date.now() - started} ms after sending`);
    expect(answer?.text).toContain("This is Vitte's demo model, not a real AI.");
    expect(answer?.text).toContain('LLM_BASE_URL=https://api.openai.com/v1');
    expect(answer?.entities?.map((e) => e.type)).toEqual(expect.arrayContaining(['bold', 'pre', 'code']));
  }, 60_000);

  it('with no COMFYUI_URLS, /image in the playground gets a picture from the built-in fake ComfyUI', async () => {
    const config = lines(p!.output()).find((l) => l.msg === 'configuration')?.config as Record<
      string,
      unknown
    >;
    expect(config.COMFYUI_URLS).toEqual([expect.objectContaining({ name: 'dev-fake-comfyui' })]);
    const user = { id: 4343, first_name: 'Painter', language_code: 'en' };
    const started = Date.now();
    const photo = await askPlayground(
      base,
      user,
      '/image a red fox in the snow',
      (m) => Boolean(m.photo),
      45_000,
    );
    console.info(`first picture in the playground ${Date.now() - started} ms after sending`);
    expect(photo?.caption).toBe('a red fox in the snow');
    expect(photo?.photo?.length).toBeGreaterThan(0);
  }, 60_000);

  it('Ctrl-C with a playground event stream open stops at once, exit 0, no error logged', async () => {
    const stream = new AbortController();
    const res = await fetch(`${base}/playground/api/events?chat_id=4242`, { signal: stream.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const ended = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // the connection was cut: the stream is over either way
      }
    })();
    const signalled = Date.now();
    const { code } = await p!.stop('SIGINT');
    console.info(`Ctrl-C with the playground stream open: exited ${Date.now() - signalled} ms after SIGINT`);
    await ended;
    expect(code).toBe(0);
    const logged = lines(p!.output());
    expect(logged.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(logged.at(-1)?.msg).toBe('stopped');
    p = undefined;
  }, 60_000);

  it('started again on the same data directory, it answers the same playground user at once', async () => {
    // The new emulator must not hand out message ids the bot stored before the restart: it would
    // take the message for a re-delivered one and say nothing.
    p = startVitte(['all'], { ...env, API_PORT: '0' });
    await p.waitForLog((l) => String(l.msg).startsWith('admin panel:'), 90_000);
    base = String(lines(p.output()).find((l) => l.msg === 'listening')?.url);
    const answer = await askPlayground(base, NEWCOMER, 'And now?', (m) =>
      Boolean(m.text?.includes('demo model')),
    );
    expect(answer?.text).toContain("This is Vitte's demo model, not a real AI.");
  }, 120_000);
});

describe('vitte --help and vitte dev llm', () => {
  it('--help works with no configuration at all, even a broken one', async () => {
    const all = startVitte(['--help'], { API_PORT: 'not-a-port' });
    expect((await all.exited).code).toBe(0);
    for (const text of ['vitte dev llm [--port N]', 'vitte worker', 'WORKER_PORT=3003', 'BOT_PORT=3002'])
      expect(all.output()).toContain(text);
    const migrate = startVitte(['migrate', '--help'], { API_PORT: 'not-a-port' });
    expect((await migrate.exited).code).toBe(0);
    expect(migrate.output()).toContain('usage: vitte migrate up | down [n|all] | status');
    const dev = startVitte(['dev', '-h'], {});
    expect((await dev.exited).code).toBe(0);
    expect(dev.output()).toContain('LLM_BASE_URL=http://127.0.0.1:8082/v1');
  });

  it('vitte dev llm serves the demo model alone; a taken --port is one line', async () => {
    const busy = await takePort();
    try {
      const refused = startVitte(['dev', 'llm', '--port', String(busy.port)], {});
      expect((await refused.exited).code).toBe(1);
      expect(refused.output().trim()).toBe(
        `vitte dev: port ${busy.port} on 127.0.0.1 is already in use (--port): stop the process that holds it, or set --port to a free port`,
      );
    } finally {
      busy.server.close();
    }
    const demo = startVitte(['dev', 'llm', '--port', '0'], { LOG_LEVEL: 'info', LOG_PRETTY: 'false' });
    try {
      const line = await demo.waitForLog((l) => l.model === 'vitte-demo');
      const res = await fetch(`${String(line.url)}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'vitte-demo', messages: [{ role: 'user', content: 'hello there' }] }),
      });
      const body = (await res.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]!.message.content).toContain('> hello there');
    } finally {
      expect((await demo.stop('SIGINT')).code).toBe(0);
    }
  });
});
