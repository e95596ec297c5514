import type { User } from '../../platform/db/schema.js';

/** Why a reply could not be produced (or finished); each has its own localized notice. */
export type ReplyFailure = 'not_configured' | 'busy' | 'failed' | 'incomplete';

/** How far the delivery of a stored answer got; kept with the answer so a retry continues it. */
export interface DeliveryProgress extends Record<string, unknown> {
  /** Telegram ids of the parts sent so far, in order. */
  sent: number[];
  /** The message that showed the answer while it was written (groups); it becomes the first part. */
  placeholderId?: number | undefined;
}

export interface DeliverOptions {
  /** The stored answer's id: its last part may carry buttons about it (🎨 Picture). */
  answerId?: number;
  /**
   * The answer stopped at the token limit (finish_reason "length"): it ends with a note saying so
   * and a button that asks for the rest (a new user turn).
   */
  cut?: boolean;
}

/** Sending failed. `permanent`: retrying cannot help (blocked, chat gone); `blocked`: do not even tell the user. */
export class ReplyDeliveryError extends Error {
  override name = 'ReplyDeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly blocked: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Where a generated answer goes while it is being written and when it is done. The chat service
 * speaks Markdown text; the Telegram implementation turns it into drafts, edits and messages.
 */
export interface ReplyOutput {
  /** Show that an answer is coming (typing indicator). */
  typing(): Promise<void>;
  /** The answer so far; implementations throttle and may skip intermediate states. */
  progress(text: string): void;
  /** Stop showing progress; resolves with the placeholder message it used, if any. */
  settle(): Promise<number | undefined>;
  /**
   * Send the parts of the final answer that `progress.sent` does not list yet, calling `onSent`
   * after each one (so a crash or a retry never sends a part twice). Throws ReplyDeliveryError.
   */
  deliver(
    text: string,
    progress: DeliveryProgress,
    onSent: (progress: DeliveryProgress) => Promise<void>,
    opts?: DeliverOptions,
  ): Promise<void>;
  /**
   * Tell the user the answer failed: in the given placeholder message, or the one this output used;
   * `null` sends the notice as a new message (a part already delivered is never overwritten).
   */
  fail(reason: ReplyFailure, placeholderId?: number | null): Promise<void>;
}

export interface ReplyTarget {
  chatId: number;
  chatType: string;
  user: User;
}

export type ReplyOutputFactory = (target: ReplyTarget) => ReplyOutput;
