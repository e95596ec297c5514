import type { Migration } from 'kysely';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-chat-state.js';
import * as m0003 from './0003-broadcasts-retention.js';
import * as m0004 from './0004-admin.js';
import * as m0005 from './0005-stats-indexes.js';
import * as m0006 from './0006-dialog-chats-replies.js';
import * as m0007 from './0007-broadcast-claims.js';
import * as m0008 from './0008-payments.js';
import * as m0009 from './0009-images.js';
import * as m0010 from './0010-admin-sign-in.js';

/** Every migration, by name. Names sort in the order they must run. */
export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-chat-state': m0002,
  '0003-broadcasts-retention': m0003,
  '0004-admin': m0004,
  '0005-stats-indexes': m0005,
  '0006-dialog-chats-replies': m0006,
  '0007-broadcast-claims': m0007,
  '0008-payments': m0008,
  '0009-images': m0009,
  '0010-admin-sign-in': m0010,
};
