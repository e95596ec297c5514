import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unauthorized } from './bot-api-error.js';
import type { CallDispatcher } from './call-dispatcher.js';
import type { StateStore } from './state-store.js';
import type { UploadedFile } from './types.js';

export interface BotApiRouteDeps {
  token: string;
  dispatcher: CallDispatcher;
  store: StateStore;
}

const ATTACH = 'attach://';

/**
 * Parameters from the query string and the body, whatever its encoding. Multipart files are read
 * into memory and put where an `attach://<name>` value points (grammY's way), or under their own
 * field name (curl's `-F photo=@file`).
 */
async function readParams(req: FastifyRequest): Promise<Record<string, unknown>> {
  const raw: Record<string, unknown> = { ...(req.query as Record<string, unknown>) };
  if (req.isMultipart()) {
    const files = new Map<string, UploadedFile>();
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        const data = await part.toBuffer();
        files.set(part.fieldname, { kind: 'upload', filename: part.filename, mimetype: part.mimetype, data });
      } else {
        raw[part.fieldname] = part.value;
      }
    }
    const attached = new Set<string>();
    for (const [key, value] of Object.entries(raw)) {
      if (typeof value === 'string' && value.startsWith(ATTACH)) {
        const name = value.slice(ATTACH.length);
        const file = files.get(name);
        if (file) {
          raw[key] = file;
          attached.add(name);
        }
      }
    }
    for (const [name, file] of files) if (!attached.has(name) && !(name in raw)) raw[name] = file;
    return raw;
  }
  if (req.body && typeof req.body === 'object' && !Array.isArray(req.body)) Object.assign(raw, req.body);
  return raw;
}

/** `/bot<token>/<method>` and `/file/bot<token>/<path>`, answered exactly like api.telegram.org. */
export function registerBotApiRoutes(app: FastifyInstance, deps: BotApiRouteDeps): void {
  app.route<{ Params: { token: string; method: string } }>({
    method: ['GET', 'POST'],
    url: '/bot:token/:method',
    handler: async (req, reply) => {
      if (req.params.token !== deps.token) return reply.code(401).send(unauthorized().toJSON());
      const raw = await readParams(req);
      const outcome = await deps.dispatcher.call(req.params.method, raw, (cb) => {
        reply.raw.once('close', cb);
      });
      if (reply.raw.destroyed) return reply;
      return reply.code(outcome.status).send(outcome.body);
    },
  });

  app.get<{ Params: { token: string; '*': string } }>('/file/bot:token/*', async (req, reply) => {
    if (req.params.token !== deps.token) return reply.code(401).send(unauthorized().toJSON());
    const path = req.params['*'];
    const file = [...deps.store.files.values()].find((f) => f.file_path === path && f.data);
    if (!file?.data) return reply.code(404).send({ ok: false, error_code: 404, description: 'Not Found' });
    return reply.type(file.mimetype).send(file.data);
  });
}
