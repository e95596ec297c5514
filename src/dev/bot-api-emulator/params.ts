import { BotApiError, badRequest } from './bot-api-error.js';
import type { UploadedFile } from './types.js';

/**
 * Typed access to Bot API parameters. Telegram takes them from the query string, JSON,
 * urlencoded or multipart bodies, so values arrive either typed (JSON) or as strings
 * (everything else, including JSON-encoded objects in multipart fields); each getter accepts both.
 */
export class Params {
  constructor(readonly raw: Record<string, unknown>) {}

  has(name: string): boolean {
    const v = this.raw[name];
    return v !== undefined && v !== null && v !== '';
  }

  string(name: string): string | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw badRequest(`field "${name}" must be of type String`);
  }

  requireString(name: string, emptyDescription: string): string {
    const v = this.string(name);
    if (v === undefined || v === '') throw badRequest(emptyDescription);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw badRequest(`invalid ${name} specified`);
    return n;
  }

  requireInt(name: string, emptyDescription: string): number {
    const v = this.int(name);
    if (v === undefined) throw badRequest(emptyDescription);
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'boolean') return v;
    if (typeof v === 'number') return v !== 0;
    if (typeof v === 'string') return v === 'true' || v === '1' || v === 'True';
    return undefined;
  }

  /** An object or array field; strings are parsed as JSON. `description` is Telegram's complaint. */
  json<T>(name: string, description: string): T | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') return v as T;
    try {
      return JSON.parse(v) as T;
    } catch (err) {
      throw new BotApiError(400, `Bad Request: ${description}`, undefined, { cause: err });
    }
  }

  upload(name: string): UploadedFile | undefined {
    const v = this.raw[name];
    return isUpload(v) ? v : undefined;
  }

  /** `chat_id` as a number, or the `@username` string Telegram also accepts. */
  chatId(): number | string | undefined {
    const v = this.raw.chat_id;
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const t = v.trim();
      if (/^-?\d+$/.test(t)) return Number(t);
      return t;
    }
    throw badRequest('chat_id is empty');
  }
}

export function isUpload(v: unknown): v is UploadedFile {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'upload';
}

/** The numeric chat a call targets, if any; used by flood control, faults and blocked users. */
export function targetChatId(raw: Record<string, unknown>): number | undefined {
  const v = raw.chat_id;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

const JSON_FIELDS = new Set([
  'reply_markup',
  'entities',
  'caption_entities',
  'reply_parameters',
  'link_preview_options',
  'prices',
  'commands',
  'scope',
  'allowed_updates',
  'suggested_tip_amounts',
  'media',
]);

const INT_FIELDS = new Set([
  'chat_id',
  'message_id',
  'message_thread_id',
  'draft_id',
  'user_id',
  'reply_to_message_id',
  'offset',
  'limit',
  'timeout',
  'max_connections',
  'cache_time',
]);

/**
 * Parameters as they are recorded: uploads are summarised (never kept twice), JSON-encoded fields
 * decoded and numeric ids made numbers, so a test sees one shape whether the bot sent JSON or multipart.
 */
export function recordableParams(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (isUpload(v)) {
      out[k] = { upload: { filename: v.filename, mimetype: v.mimetype, size: v.data.length } };
    } else if (typeof v === 'string' && INT_FIELDS.has(k) && /^-?\d{1,16}$/.test(v.trim())) {
      out[k] = Number(v.trim());
    } else if (typeof v === 'string' && JSON_FIELDS.has(k)) {
      try {
        out[k] = JSON.parse(v);
      } catch {
        out[k] = v;
      }
    } else {
      out[k] = v;
    }
  }
  return out;
}
