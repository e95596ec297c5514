import type { ImageJobStatus } from '../../platform/db/schema.js';

/**
 * The image job's state machine as data:
 *
 *   queued ──claim──▶ running ──generated──▶ delivering ──succeed──▶ succeeded
 *     │                 │                        ├──undelivered──▶ undelivered (403: image kept)
 *     │                 │                        └──fail──▶ failed
 *     ├─cancel/time_out/fail─┴──▶ cancelled | timed_out | failed
 *
 * `claim` is not a transition here: it takes a queued job (or one whose holder's lease ran out)
 * without leaving the unfinished states (ImageJobsRepository.claim). Each action moves only from
 * the states listed, in one statement; the three that end a job without a delivered picture give
 * its quota unit back, in the same transaction, so the unit comes back at most once.
 */
export const ALLOWED = {
  generated: ['running'],
  succeed: ['delivering'],
  undelivered: ['delivering'],
  fail: ['queued', 'running', 'delivering'],
  time_out: ['queued', 'running'],
  cancel: ['queued', 'running'],
} as const satisfies Record<string, readonly ImageJobStatus[]>;

export type ImageAction = keyof typeof ALLOWED;

export const TARGET: Record<ImageAction, ImageJobStatus> = {
  generated: 'delivering',
  succeed: 'succeeded',
  undelivered: 'undelivered',
  fail: 'failed',
  time_out: 'timed_out',
  cancel: 'cancelled',
};

/** Actions after which the user got no picture: the unit goes back. */
export const GIVES_BACK: ReadonlySet<ImageAction> = new Set(['fail', 'time_out', 'cancel']);

/** A ComfyUI run's failure, as the runner classifies it. */
export type RunErrorKind =
  | 'validation'
  | 'out_of_memory'
  | 'execution'
  | 'interrupted'
  | 'unavailable'
  | 'no_backend'
  | 'timeout'
  | 'cancelled';

/** Why this attempt's own signal fired (when it did). */
export type AbortCause = 'none' | 'user' | 'lease_lost' | 'shutdown' | 'job_timeout';

/**
 * What to do about a failed run:
 * - `new_run`: the run is over; start a new one (new prompt id), `exclude` the backend it failed on;
 * - `wait`: no backend can take it right now; look again shortly, while the deadline allows;
 * - `fail` / `time_out`: end the job, give the unit back, tell the user;
 * - `stop`: someone else already ended the job (a cancel) or holds it now: do nothing more;
 * - `abandon`: the process is shutting down: hand the job back for another worker to resume.
 */
export type RunDecision =
  | { kind: 'new_run'; exclude: boolean }
  | { kind: 'wait' }
  | { kind: 'fail' }
  | { kind: 'time_out' }
  | { kind: 'stop' }
  | { kind: 'abandon' };

export function decideRunError(kind: RunErrorKind, cause: AbortCause, runsLeft: boolean): RunDecision {
  if (cause === 'user' || cause === 'lease_lost') return { kind: 'stop' };
  if (cause === 'shutdown') return { kind: 'abandon' };
  if (cause === 'job_timeout') return { kind: 'time_out' };
  switch (kind) {
    case 'timeout':
      return { kind: 'time_out' };
    case 'no_backend':
      return { kind: 'wait' };
    case 'out_of_memory':
    case 'unavailable':
      // The GPU or the server failed, not the request: once more, on another backend if there is one.
      return runsLeft ? { kind: 'new_run', exclude: true } : { kind: 'fail' };
    case 'interrupted':
      // Someone stopped the run on the server (an operator, another client's global /interrupt).
      return runsLeft ? { kind: 'new_run', exclude: false } : { kind: 'fail' };
    case 'validation':
    case 'execution':
      return { kind: 'fail' };
    case 'cancelled':
      // Our signal without a cause of ours cannot happen; treat it like a lost hold.
      return { kind: 'stop' };
  }
}
