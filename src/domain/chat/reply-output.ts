import type { User } from '../../platform/db/schema.js';

/** Why a reply could not be produced; each has its own localized notice. */
export type ReplyFailure = 'not_configured' | 'busy' | 'failed';

/**
 * Where a generated answer goes while it is being written and when it is done. The chat service
 * speaks Markdown text; the Telegram implementation turns it into drafts, edits and messages.
 */
export interface ReplyOutput {
  /** Show that an answer is coming (typing indicator). */
  typing(): Promise<void>;
  /** The answer so far; implementations throttle and may skip intermediate states. */
  progress(text: string): void;
  /** Deliver the final answer; resolves with the Telegram message ids it used. */
  finish(text: string): Promise<number[]>;
  /** Tell the user the answer failed. */
  fail(reason: ReplyFailure): Promise<void>;
}

export interface ReplyTarget {
  chatId: number;
  chatType: string;
  user: User;
}

export type ReplyOutputFactory = (target: ReplyTarget) => ReplyOutput;
