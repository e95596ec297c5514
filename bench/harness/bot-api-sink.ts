import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Bot API call as the sink saw it. */
export interface SinkCall {
  method: string;
  /** `chat_id` of the call, when it has a numeric one. */
  chatId: number | undefined;
  params: Record<string, unknown>;
  /** performance.now() when the request body was complete. */
  at: number;
}

export interface BotApiSink {
  /** For TELEGRAM_API_ROOT / grammY's `apiRoot`. */
  readonly apiRoot: string;
  /** Any token is accepted; this one is well-formed so grammY and config validation take it. */
  readonly token: string;
  /** Calls per method since start (or the last reset). */
  counts(): Record<string, number>;
  resetCounts(): void;
  /**
   * The next call of one of `methods` for `chatId`, arriving after this call. Register before
   * sending whatever causes it, so it cannot be missed.
   */
  next(chatId: number, methods: readonly string[], timeoutMs?: number): Promise<SinkCall>;
  close(): Promise<void>;
}

const BOT = {
  id: 7_000_000_001,
  is_bot: true,
  first_name: 'Bench',
  username: 'bench_bot',
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
};

interface Waiter {
  methods: readonly string[];
  resolve: (call: SinkCall) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Methods whose result is the Message they send or edit (with `chat_id`; inline edits get true). */
const RETURNS_MESSAGE = /^(send(?!ChatAction$|MessageDraft$)|edit|copyMessage$|forwardMessage$|stopPoll$)/;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString()),
    );
    req.on('error', reject);
  });
}

/**
 * A Bot API server that answers every method at once with a valid result — the Telegram side of a
 * benchmark, costing as little as possible so it is never the bottleneck (the emulator is one: it
 * keeps state and validates). It records calls per method and lets a load generator wait for the
 * call that a given update causes (the answer to a chat, a draft, a pre-checkout answer).
 */
export async function startBotApiSink(opts: { port?: number } = {}): Promise<BotApiSink> {
  const counts = new Map<string, number>();
  const waiters = new Map<number, Waiter[]>();
  let messageId = 0;

  const result = (method: string, params: Record<string, unknown>, chatId: number | undefined): unknown => {
    if (method === 'getMe') return BOT;
    if (method === 'getWebhookInfo')
      return { url: '', has_custom_certificate: false, pending_update_count: 0 };
    if (method === 'getUpdates') return [];
    if (chatId === undefined || !RETURNS_MESSAGE.test(method)) return true;
    const chat =
      chatId > 0
        ? { id: chatId, type: 'private', first_name: 'User' }
        : { id: chatId, type: 'group', title: 'Group' };
    messageId += 1;
    const message: Record<string, unknown> = {
      message_id: typeof params.message_id === 'number' ? params.message_id : messageId,
      date: Math.floor(Date.now() / 1000),
      chat,
      from: BOT,
    };
    if (typeof params.text === 'string') message.text = params.text;
    if (method.startsWith('edit')) message.edit_date = message.date;
    return message;
  };

  const deliver = (call: SinkCall) => {
    if (call.chatId === undefined) return;
    const list = waiters.get(call.chatId);
    if (!list) return;
    for (const w of [...list]) {
      if (!w.methods.includes(call.method)) continue;
      list.splice(list.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(call);
    }
    if (list.length === 0) waiters.delete(call.chatId);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const at = performance.now();
    // /bot<token>/<method>
    const url = req.url ?? '';
    const method = url.slice(url.lastIndexOf('/') + 1).split('?')[0] ?? '';
    let params: Record<string, unknown> = {};
    const type = req.headers['content-type'] ?? '';
    if (body && type.startsWith('application/json')) {
      params = JSON.parse(body) as Record<string, unknown>;
    } else if (body && type.startsWith('multipart/form-data')) {
      // An upload (sendPhoto): the plain fields, never the file.
      for (const m of body.matchAll(/name="([^"]+)"\r\n\r\n([^\r]*)\r\n/g)) {
        const value = m[2] ?? '';
        params[m[1]!] = /^-?\d+$/.test(value) ? Number(value) : value;
      }
    }
    const chatId = typeof params.chat_id === 'number' ? params.chat_id : undefined;
    counts.set(method, (counts.get(method) ?? 0) + 1);
    const json = JSON.stringify({ ok: true, result: result(method, params, chatId) });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
    res.end(json);
    deliver({ method, chatId, params, at });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const json = JSON.stringify({ ok: false, error_code: 400, description: `Bad Request: ${String(err)}` });
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(json);
    });
  });
  // grammY keeps its connections alive; the sink must not be the side that drops them mid-run.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token: `${BOT.id}:AAbenchSinkToken_0123456789abcdefghij`,
    counts: () => Object.fromEntries(counts),
    resetCounts: () => counts.clear(),
    next(chatId, methods, timeoutMs = 30_000) {
      return new Promise<SinkCall>((resolve, reject) => {
        const waiter: Waiter = {
          methods,
          resolve,
          reject,
          timer: setTimeout(() => {
            const list = waiters.get(chatId) ?? [];
            if (list.includes(waiter)) list.splice(list.indexOf(waiter), 1);
            reject(new Error(`no ${methods.join('/')} for chat ${chatId} within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        const list = waiters.get(chatId);
        if (list) list.push(waiter);
        else waiters.set(chatId, [waiter]);
      });
    },
    close() {
      for (const list of waiters.values())
        for (const w of list) {
          clearTimeout(w.timer);
          w.reject(new Error('sink closed'));
        }
      waiters.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
