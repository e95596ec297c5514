import { describe, expect, it } from 'vitest';
import { type BroadcastAction, nextStatus } from '../../src/domain/broadcasts/broadcast-transitions.js';
import type { BroadcastStatus } from '../../src/platform/db/schema.js';

const STATUSES: BroadcastStatus[] = ['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled'];

/** status → action → the status it leads to; a missing entry is refused (a 409 for the operator). */
const EXPECTED: Record<BroadcastStatus, Partial<Record<BroadcastAction | 'complete', BroadcastStatus>>> = {
  draft: { schedule: 'scheduled', start: 'running', cancel: 'cancelled' },
  scheduled: { schedule: 'scheduled', start: 'running', cancel: 'cancelled' },
  running: { pause: 'paused', cancel: 'cancelled', complete: 'completed' },
  paused: { resume: 'running', cancel: 'cancelled' },
  completed: {},
  cancelled: {},
};

const ACTIONS: (BroadcastAction | 'complete')[] = [
  'schedule',
  'start',
  'pause',
  'resume',
  'cancel',
  'complete',
];

describe('broadcast transitions', () => {
  const cases = STATUSES.flatMap((status) =>
    ACTIONS.map((action) => [status, action, EXPECTED[status][action]] as const),
  );
  it.each(cases)('%s + %s → %s', (status, action, to) => {
    expect(nextStatus(status, action)).toBe(to);
  });
});
