import { splitPlainText, TELEGRAM_MESSAGE_LIMIT } from '../../integrations/telegram/format/split.js';
import { ValidationError } from '../../platform/errors.js';
import type { UserInput } from '../bot-api-emulator/index.js';

/** Telegram ids fit in 52 bits; the playground keeps users inside that. */
const MAX_USER_ID = 2 ** 52;

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ValidationError(`${what} must be an object`);
  return value as Record<string, unknown>;
}

export function readUser(value: unknown): UserInput {
  const u = object(value, 'user');
  const id = Number(u.id);
  if (!Number.isSafeInteger(id) || id <= 0 || id >= MAX_USER_ID)
    throw new ValidationError('user.id must be a positive integer');
  const firstName = typeof u.first_name === 'string' ? u.first_name.trim() : '';
  if (firstName === '' || firstName.length > 64)
    throw new ValidationError('user.first_name must be 1-64 characters');
  const username = typeof u.username === 'string' ? u.username.trim().replace(/^@/, '') : '';
  if (username !== '' && !/^[A-Za-z0-9_]{5,32}$/.test(username)) {
    throw new ValidationError('user.username must be 5-32 letters, digits or underscores');
  }
  const language = u.language_code === 'ru' ? 'ru' : 'en';
  return { id, first_name: firstName, ...(username ? { username } : {}), language_code: language };
}

/** A long paste is sent as up to this many messages, as a Telegram client would. */
const MAX_MESSAGES = 8;
export const MAX_TEXT = MAX_MESSAGES * TELEGRAM_MESSAGE_LIMIT;

/**
 * The text typed in the playground as the messages a Telegram client sends for it: one, or — past
 * 4096 characters — several, cut at a paragraph, line or word boundary like Telegram's clients do.
 */
export function readText(value: unknown): string[] {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError('text must not be empty');
  if (value.length > MAX_TEXT) throw new ValidationError(`text must be at most ${MAX_TEXT} characters`);
  return value.length <= TELEGRAM_MESSAGE_LIMIT ? [value] : splitPlainText(value);
}

export function readPositiveInt(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ValidationError(`${name} must be a positive integer`);
  return n;
}

export function readCallbackData(value: unknown): string {
  if (typeof value !== 'string' || value === '' || Buffer.byteLength(value) > 64) {
    throw new ValidationError('data must be 1-64 bytes');
  }
  return value;
}

export function body(value: unknown): Record<string, unknown> {
  return object(value, 'the body');
}
