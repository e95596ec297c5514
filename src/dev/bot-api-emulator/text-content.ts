import type { MessageEntity } from 'grammy/types';
import { parseTelegramHtml, TelegramHtmlError } from '../../integrations/telegram/format/telegram-html.js';
import { BotApiError, badRequest } from './bot-api-error.js';
import type { Params } from './params.js';

export const MAX_TEXT = 4096;
export const MAX_CAPTION = 1024;

export type TextKind = 'text' | 'caption' | 'draft';

export interface TextContent {
  text: string;
  entities: MessageEntity[];
}

const FIELD: Record<TextKind, { text: string; entities: string }> = {
  text: { text: 'text', entities: 'entities' },
  caption: { text: 'caption', entities: 'caption_entities' },
  draft: { text: 'text', entities: 'entities' },
};

/**
 * The text of a message as Telegram stores it: `parse_mode` or explicit entities applied, leading
 * and trailing whitespace trimmed, then checked against the limits (UTF-16 code units, like Telegram).
 * Returns undefined for an absent caption; an empty text is an error, an empty draft is allowed.
 */
export function readTextContent(params: Params, kind: TextKind): TextContent | undefined {
  const field = FIELD[kind];
  const source = params.string(field.text);
  if (source === undefined && kind === 'caption') return undefined;
  const parsed = applyParseMode(source ?? '', params.string('parse_mode'), params, field.entities);
  const content = trimContent(parsed);
  if (kind === 'text' && content.text === '') throw badRequest('message text is empty');
  if (kind === 'caption' && content.text.length > MAX_CAPTION)
    throw badRequest('message caption is too long');
  if (kind !== 'caption' && content.text.length > MAX_TEXT) throw badRequest('message is too long');
  return content;
}

function applyParseMode(
  source: string,
  parseMode: string | undefined,
  params: Params,
  entitiesField: string,
): TextContent {
  const mode = parseMode?.trim().toLowerCase() ?? '';
  if (mode === '') {
    const entities = params.json<unknown>(entitiesField, "can't parse entities JSON object") ?? [];
    return { text: source, entities: validateEntities(entities, source.length) };
  }
  if (mode === 'html') {
    try {
      return parseTelegramHtml(source);
    } catch (err) {
      if (err instanceof TelegramHtmlError)
        throw new BotApiError(400, err.description, undefined, { cause: err });
      throw err;
    }
  }
  if (mode === 'markdown' || mode === 'markdownv2') {
    // Refusing is better than answering with wrong entities that a test would then trust.
    throw badRequest(
      `unsupported parse_mode (the Bot API emulator implements HTML only, got "${parseMode}")`,
    );
  }
  throw badRequest('unsupported parse_mode');
}

const ENTITY_TYPES = new Set([
  'mention',
  'hashtag',
  'cashtag',
  'bot_command',
  'url',
  'email',
  'phone_number',
  'bold',
  'italic',
  'underline',
  'strikethrough',
  'spoiler',
  'blockquote',
  'expandable_blockquote',
  'code',
  'pre',
  'text_link',
  'text_mention',
  'custom_emoji',
  'date_time',
]);

function validateEntities(value: unknown, textLength: number): MessageEntity[] {
  if (!Array.isArray(value)) throw badRequest("can't parse entities JSON object");
  const out: MessageEntity[] = [];
  for (const raw of value) {
    const e = raw as Partial<MessageEntity> & Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.type !== 'string' || !ENTITY_TYPES.has(e.type)) {
      throw badRequest("can't parse entities: unsupported entity type");
    }
    if (
      !Number.isInteger(e.offset) ||
      !Number.isInteger(e.length) ||
      (e.offset ?? -1) < 0 ||
      (e.length ?? 0) <= 0
    ) {
      throw badRequest("can't parse entities: wrong entity offset or length");
    }
    if (e.type === 'text_link' && typeof e.url !== 'string')
      throw badRequest("can't parse entities: text_link without url");
    // Telegram silently cuts entities that run past the end of the text.
    const end = Math.min(textLength, (e.offset ?? 0) + (e.length ?? 0));
    if (end > (e.offset ?? 0)) out.push({ ...e, length: end - (e.offset ?? 0) } as MessageEntity);
  }
  return out;
}

/** Telegram drops leading and trailing whitespace and shifts or cuts entities to match. */
export function trimContent({ text, entities }: TextContent): TextContent {
  const start = text.length - text.trimStart().length;
  const trimmed = text.trim();
  if (start === 0 && trimmed.length === text.length) return { text, entities };
  const out: MessageEntity[] = [];
  for (const e of entities) {
    const from = Math.max(0, e.offset - start);
    const to = Math.min(trimmed.length, e.offset + e.length - start);
    if (to > from) out.push({ ...e, offset: from, length: to - from });
  }
  return { text: trimmed, entities: out };
}

/** Telegram leaves `entities` out of a Message when there are none. */
export function textFields(content: TextContent, kind: 'text' | 'caption'): Record<string, unknown> {
  if (kind === 'caption') {
    return {
      caption: content.text,
      ...(content.entities.length ? { caption_entities: content.entities } : {}),
    };
  }
  return { text: content.text, ...(content.entities.length ? { entities: content.entities } : {}) };
}
