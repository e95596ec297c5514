import type { User } from '../../platform/db/schema.js';

/** What the placeholder shows while a picture is on its way. */
export type ImageProgress =
  /** Waiting for the user's earlier pictures: `position` 1 = next. */
  | { phase: 'waiting'; position: number }
  /** On a ComfyUI queue: `position` prompts ahead (0 = next), when known. */
  | { phase: 'queued'; position?: number | undefined }
  /** The AI writes the prompt (dialog pictures, variations). */
  | { phase: 'writing' }
  | { phase: 'drawing'; percent: number };

/** Why a picture did not come, each with its own localized notice. */
export type ImageNotice = 'failed' | 'timed_out' | 'refused' | 'refused_minors' | 'unavailable';

/** How sending the finished picture ended. */
export type PhotoOutcome =
  | { kind: 'sent'; messageId: number; fileId: string | undefined }
  /** 403: the user blocked the bot. */
  | { kind: 'blocked'; description: string }
  /** 400: this chat cannot get it (gone, or the photo refused). */
  | { kind: 'rejected'; description: string }
  /** 429 past the retries, 5xx, network: a later attempt may succeed. */
  | { kind: 'unavailable'; description: string };

export interface FinishedPicture {
  bytes: Buffer;
  /** The prompt, shown under the photo. */
  caption: string;
  /** Flagged NSFW: sent under a spoiler. */
  spoiler: boolean;
  /** Offer "🔁 Variation" (it needs the AI to vary the prompt). */
  variation: boolean;
}

/**
 * Where a picture's progress and result go. Progress is best-effort and throttled (at most one edit
 * a second per chat, never before a flood-control retry_after ends); `photo` must arrive.
 */
export interface ImageOutput {
  progress(progress: ImageProgress): void;
  /** Sends the finished picture, then removes the placeholder. Never throws for Bot API answers. */
  photo(picture: FinishedPicture): Promise<PhotoOutcome>;
  /** Tells the user the picture failed, in the placeholder (or a new message). */
  fail(notice: ImageNotice): Promise<void>;
  /** Stops progress updates (an edit in flight finishes first). */
  close(): Promise<void>;
}

export interface ImageTarget {
  jobId: number;
  chatId: number;
  user: User;
  placeholderId: number | null;
}

export type ImageOutputFactory = (target: ImageTarget) => ImageOutput;
