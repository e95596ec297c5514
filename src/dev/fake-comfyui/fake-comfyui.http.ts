import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonBody } from '../fake-http.js';
import type { FakeComfyControl, FakeComfyFault, FakeComfyStats } from './fake-comfyui.types.js';

const BODY_LIMIT = 10 * 1024 * 1024;

export const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
};

/** ComfyUI reads a missing body as an empty object. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  return (await readJsonBody(req, BODY_LIMIT)) ?? {};
}

export function emptyStats(): FakeComfyStats {
  return {
    submits: {},
    accepted: 0,
    rejected: 0,
    completed: 0,
    failed: 0,
    interrupted: 0,
    interruptRequests: 0,
    deleted: 0,
    historyRequests: 0,
    viewRequests: 0,
    unauthorized: 0,
    socketConnections: 0,
    socketsOpen: 0,
  };
}

export function systemStats() {
  const gb = 1024 ** 3;
  return {
    system: {
      os: 'posix',
      ram_total: 64 * gb,
      ram_free: 48 * gb,
      comfyui_version: '0.3.99-fake',
      python_version: '3.12.0',
      pytorch_version: '2.7.0+cu128',
      embedded_python: false,
      argv: ['main.py'],
    },
    devices: [
      {
        name: 'cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync',
        type: 'cuda',
        index: 0,
        vram_total: 24 * gb,
        vram_free: 20 * gb,
        torch_vram_total: 0,
        torch_vram_free: 0,
      },
    ],
  };
}

const FAULT_KINDS: FakeComfyFault['kind'][] = [
  'reject',
  'oom',
  'error',
  'hang',
  'drop-socket',
  'silent',
  'slow',
  'slow-submit',
];

/** The control API (`/_fake/…`), for tests whose fake runs in another process. */
export async function control(
  fake: FakeComfyControl,
  req: IncomingMessage,
  res: ServerResponse,
  action: string,
): Promise<void> {
  const body = (await readJson(req).catch(() => ({}))) as Record<string, unknown>;
  if (req.method === 'GET' && action === 'stats')
    return json(res, 200, { ...fake.stats(), queue: fake.queue() });
  if (req.method === 'POST' && action === 'reset') {
    fake.reset();
    return json(res, 200, { ok: true });
  }
  if (req.method === 'PUT' && action === 'available' && typeof body.available === 'boolean') {
    fake.setAvailable(body.available);
    return json(res, 200, { ok: true });
  }
  if (req.method === 'POST' && action === 'faults') {
    const fault = body.fault as FakeComfyFault;
    if (!FAULT_KINDS.includes(fault?.kind)) {
      return json(res, 400, {
        error: `body must be {"fault": {"kind": ${FAULT_KINDS.join(' | ')}}, "promptId"?, "count"?}`,
      });
    }
    if (typeof body.promptId === 'string') fake.failPrompt(body.promptId, fault);
    else fake.failNext(fault, typeof body.count === 'number' ? body.count : 1);
    return json(res, 200, { ok: true });
  }
  json(res, 404, { error: `unknown control action ${req.method} /_fake/${action}` });
}
