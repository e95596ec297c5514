import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { listenHttp } from '../fake-http.js';
import { control, emptyStats, json, readJson, systemStats } from './fake-comfyui.http.js';
import { objectInfo } from './fake-comfyui.nodes.js';
import { FakeQueue, type Task } from './fake-comfyui.queue.js';
import type { FakeComfy, FakeComfyFault, FakeComfyOptions, FakeComfyStats } from './fake-comfyui.types.js';
import { validatePrompt } from './fake-comfyui.validate.js';

/** A ComfyUI stand-in speaking its HTTP and `/ws` wire format; see FakeComfyFault for the scripted failures. */
class FakeComfyServer implements FakeComfy {
  url = '';
  private readonly server: Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Map<string, WebSocket>();
  private readonly blocked = new Set<string>();
  private readonly images = new Map<string, Buffer>();
  private readonly queueState: FakeQueue;
  private readonly checkpoints: string[];
  private promptFaults = new Map<string, FakeComfyFault>();
  private nextFaults: FakeComfyFault[] = [];
  private counts = emptyStats();
  private available = true;
  private number = 0;

  constructor(private readonly opts: FakeComfyOptions) {
    this.checkpoints = opts.checkpoints ?? ['sd_xl_base_1.0.safetensors'];
    this.queueState = new FakeQueue(
      {
        send: (client, type, data) => this.send(client, JSON.stringify({ type, data })),
        sendBinary: (client, frame) => this.send(client, frame),
        queueChanged: () => this.broadcastStatus(),
        dropClient: (client) => {
          this.blocked.add(client);
          this.sockets.get(client)?.terminate();
        },
        allowClient: (client) => this.blocked.delete(client),
        saveImage: (key, png) => this.images.set(key, png),
      },
      { stepMs: opts.stepMs ?? 10, maxImageSide: opts.maxImageSide ?? 512 },
    );
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
  }

  async listen(): Promise<void> {
    this.url = await listenHttp(this.server, this.opts.host ?? '127.0.0.1', this.opts.port ?? 0);
  }

  failPrompt(promptId: string, fault: FakeComfyFault): void {
    this.promptFaults.set(promptId, fault);
  }

  failNext(fault: FakeComfyFault, count = 1): void {
    for (let i = 0; i < count; i++) this.nextFaults.push(fault);
  }

  setAvailable(available: boolean): void {
    this.available = available;
    if (!available) for (const ws of this.sockets.values()) ws.terminate();
  }

  queue(): { running: string[]; pending: string[] } {
    const q = this.queueState;
    return { running: q.running ? [q.running.id] : [], pending: q.pending.map((t) => t.id) };
  }

  stats(): FakeComfyStats {
    const open = [...this.sockets.values()].filter((ws) => ws.readyState === WebSocket.OPEN).length;
    return { ...structuredClone(this.counts), ...this.queueState.counts, socketsOpen: open };
  }

  reset(): void {
    this.promptFaults.clear();
    this.nextFaults = [];
    this.counts = emptyStats();
    this.queueState.counts = { completed: 0, failed: 0, interrupted: 0 };
    this.queueState.history.clear();
    this.images.clear();
  }

  close(): Promise<void> {
    this.queueState.close();
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const want = this.opts.authorization;
    if (want === undefined) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    const ok = got.length === Buffer.byteLength(want) && timingSafeEqual(got, Buffer.from(want));
    if (!ok) this.counts.unauthorized += 1;
    return ok;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const clientId = url.searchParams.get('clientId') || randomUUID().replace(/-/g, '');
    const status =
      url.pathname !== '/ws' && url.pathname !== '/api/ws'
        ? 404
        : !this.available || this.blocked.has(clientId)
          ? 503
          : !this.authorized(req)
            ? 401
            : 0;
    if (status) {
      socket.end(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.counts.socketConnections += 1;
      // Like ComfyUI: a reconnect under the same client id replaces the old socket.
      this.sockets.set(clientId, ws);
      ws.on('close', () => {
        if (this.sockets.get(clientId) === ws) this.sockets.delete(clientId);
      });
      ws.on('error', () => ws.terminate());
      ws.send(JSON.stringify({ type: 'status', data: { status: this.queueInfo(), sid: clientId } }));
      // …and tells the client whose prompt is running which node it is on.
      const running = this.queueState.running;
      if (running?.node && running.extra.client_id === clientId) {
        ws.send(JSON.stringify({ type: 'executing', data: { node: running.node } }));
      }
    });
  }

  private send(clientId: string, frame: string | Buffer): void {
    const ws = this.sockets.get(clientId);
    if (ws?.readyState === WebSocket.OPEN) ws.send(frame);
  }

  private broadcastStatus(): void {
    const frame = JSON.stringify({ type: 'status', data: { status: this.queueInfo() } });
    for (const ws of this.sockets.values()) if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  }

  private queueInfo() {
    return { exec_info: { queue_remaining: this.queueState.remaining() } };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    // ComfyUI serves every route under /api too.
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    if (path.startsWith('/_fake/')) return control(this, req, res, path.slice('/_fake/'.length));
    if (!this.available) return json(res, 503, { error: 'backend unavailable' });
    if (!this.authorized(req)) return json(res, 401, { error: 'unauthorized' });
    const q = this.queueState;
    const key = `${req.method} ${path}`;
    if (key === 'POST /prompt') return this.submit(req, res);
    if (key === 'GET /prompt') return json(res, 200, this.queueInfo());
    if (key === 'GET /queue') {
      const item = (t: Task) => [t.number, t.id, t.prompt, t.extra, t.outputs];
      return json(res, 200, {
        queue_running: q.running ? [item(q.running)] : [],
        queue_pending: q.pending.map(item),
      });
    }
    if (key === 'POST /queue') {
      const body = (await readJson(req)) as { delete?: unknown; clear?: unknown };
      if (body.clear) for (const t of [...q.pending]) q.delete(t.id);
      for (const id of Array.isArray(body.delete) ? body.delete : [])
        if (q.delete(String(id))) this.counts.deleted += 1;
      res.writeHead(200).end();
      return;
    }
    if (key === 'POST /interrupt') {
      const body = (await readJson(req).catch(() => ({}))) as { prompt_id?: unknown };
      this.counts.interruptRequests += 1;
      q.interrupt(typeof body.prompt_id === 'string' ? body.prompt_id : undefined);
      res.writeHead(200).end();
      return;
    }
    if (req.method === 'GET' && path.startsWith('/history')) {
      this.counts.historyRequests += 1;
      const id = decodeURIComponent(path.slice('/history/'.length));
      if (path === '/history') return json(res, 200, Object.fromEntries(q.history));
      const entry = q.history.get(id);
      return json(res, 200, entry ? { [id]: entry } : {});
    }
    if (key === 'GET /view') return this.view(url, res);
    if (key === 'GET /system_stats') return json(res, 200, systemStats());
    if (key === 'GET /object_info') return json(res, 200, objectInfo(this.checkpoints));
    if (req.method === 'GET' && path.startsWith('/object_info/')) {
      const all = objectInfo(this.checkpoints);
      const name = decodeURIComponent(path.slice('/object_info/'.length));
      return json(res, 200, name in all ? { [name]: all[name] } : {});
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
  }

  private async submit(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as {
      prompt?: unknown;
      client_id?: unknown;
      prompt_id?: unknown;
      number?: unknown;
      front?: unknown;
    };
    const id =
      body.prompt_id === undefined || this.opts.legacyPromptIds ? randomUUID() : String(body.prompt_id);
    this.counts.submits[id] = (this.counts.submits[id] ?? 0) + 1;
    const number = typeof body.number === 'number' ? body.number : body.front ? -this.number : this.number;
    if (typeof body.number !== 'number') this.number += 1;
    const refuse = (error: unknown, nodeErrors: unknown) => {
      this.counts.rejected += 1;
      json(res, 400, { error, node_errors: nodeErrors });
    };
    if (!('prompt' in body)) {
      const message = 'No prompt provided';
      return refuse({ type: 'no_prompt', message, details: message, extra_info: {} }, {});
    }
    const fault = this.promptFaults.get(id) ?? this.nextFaults.shift();
    if (fault?.kind === 'slow-submit') await sleep(fault.ms);
    if (fault?.kind === 'reject') {
      const details = 'Exception when validating inner node: scripted rejection';
      return refuse(
        {
          type: 'prompt_outputs_failed_validation',
          message: 'Prompt outputs failed validation',
          details,
          extra_info: {},
        },
        {},
      );
    }
    const valid = validatePrompt(body.prompt, this.checkpoints);
    if (!valid.ok) return refuse(valid.error, valid.node_errors);
    const extra: Record<string, unknown> = {};
    if (body.client_id !== undefined) extra.client_id = body.client_id;
    this.counts.accepted += 1;
    this.queueState.put({
      number,
      id,
      prompt: body.prompt as Task['prompt'],
      extra,
      outputs: valid.outputs,
      ...(fault ? { fault } : {}),
    });
    json(res, 200, { prompt_id: id, number, node_errors: {} });
  }

  private view(url: URL, res: ServerResponse): void {
    this.counts.viewRequests += 1;
    const filename = url.searchParams.get('filename');
    if (!filename) return void res.writeHead(404).end();
    const type = url.searchParams.get('type') ?? 'output';
    if (filename.startsWith('/') || filename.includes('..') || !['output', 'input', 'temp'].includes(type))
      return void res.writeHead(400).end();
    const png =
      type === 'output'
        ? this.images.get(`${url.searchParams.get('subfolder') ?? ''}/${filename}`)
        : undefined;
    if (!png) return void res.writeHead(404).end();
    res
      .writeHead(200, { 'content-type': 'image/png', 'content-disposition': `filename="${filename}"` })
      .end(png);
  }
}

/** Starts a fake ComfyUI; `close()` stops it. Drive it through the returned control methods or `/_fake/…`. */
export async function startFakeComfy(opts: FakeComfyOptions = {}): Promise<FakeComfy> {
  const server = new FakeComfyServer(opts);
  await server.listen();
  return server;
}
