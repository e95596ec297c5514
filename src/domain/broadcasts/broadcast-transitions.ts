import type { BroadcastStatus } from '../../platform/db/schema.js';

/** What an operator can do to a broadcast (the panel, the API, the CLI). */
export type BroadcastAction = 'schedule' | 'start' | 'pause' | 'resume' | 'cancel';

interface Transition {
  /** The states the action may start from; from any other it is refused. */
  from: readonly BroadcastStatus[];
  to: BroadcastStatus;
}

/** Every move of a broadcast: the operator's actions, and `complete` once its last delivery ended. */
const TRANSITIONS = {
  schedule: { from: ['draft', 'scheduled'], to: 'scheduled' },
  start: { from: ['draft', 'scheduled'], to: 'running' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['draft', 'scheduled', 'running', 'paused'], to: 'cancelled' },
  complete: { from: ['running'], to: 'completed' },
} as const satisfies Record<BroadcastAction | 'complete', Transition>;

export function transitionOf(action: BroadcastAction | 'complete'): Transition {
  return TRANSITIONS[action];
}

/** Where `action` takes a broadcast that is `status`; undefined when it may not. */
export function nextStatus(
  status: BroadcastStatus,
  action: BroadcastAction | 'complete',
): BroadcastStatus | undefined {
  const t = transitionOf(action);
  return t.from.includes(status) ? t.to : undefined;
}
