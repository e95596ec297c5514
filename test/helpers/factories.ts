import type { App } from '../../src/app.js';
import type { CreateBroadcastInput } from '../../src/domain/broadcasts/broadcasts.service.js';
import type { Db } from '../../src/platform/db/database.js';
import type { Broadcast, Dialog, MessageRole, User } from '../../src/platform/db/schema.js';

/**
 * Test data built the way the product builds it: users are registered by the users service (with
 * their free subscription) and changed by the services an operator or the bot would call. Only what
 * no service writes — a past creation or activity time, stored messages — is written in SQL here.
 */

/** Telegram ids for users a test does not name; far above the ids tests pick themselves. */
let nextUserId = 10_000_000;

export interface UserSpec {
  /** Telegram id; a fresh one when omitted. */
  id?: number;
  firstName?: string;
  lastName?: string;
  username?: string;
  /** Telegram's language_code. */
  languageCode?: string;
  /** The language chosen in /language. */
  language?: string;
  /** A plan other than free, granted until `planExpiresAt` (default: no end). */
  plan?: string;
  planExpiresAt?: Date | null;
  banned?: boolean;
  /** The user blocked the bot. */
  blocked?: boolean;
  /** False: opted out of reminders and broadcasts. */
  notifications?: boolean;
  createdAt?: Date;
  lastActiveAt?: Date;
}

/** A registered user, on the free plan unless `spec.plan` says otherwise. */
export async function createUser(app: App, spec: UserSpec = {}): Promise<User> {
  const id = spec.id ?? nextUserId++;
  await app.users.register({
    id,
    first_name: spec.firstName ?? `User ${id}`,
    last_name: spec.lastName,
    username: spec.username,
    language_code: spec.languageCode,
  });
  if (spec.plan) await app.subscriptions.grantPlan(id, spec.plan, spec.planExpiresAt ?? null);
  if (spec.language) await app.users.setLanguage(id, spec.language);
  if (spec.notifications === false) await app.users.setNotifications(id, false);
  if (spec.banned) await app.users.ban(id, 'test');
  if (spec.blocked) await app.users.markBotBlocked(id);
  if (spec.createdAt || spec.lastActiveAt) {
    await app.db
      .updateTable('users')
      .set({
        ...(spec.createdAt ? { created_at: spec.createdAt } : {}),
        ...(spec.lastActiveAt ? { last_active_at: spec.lastActiveAt } : {}),
      })
      .where('id', '=', id)
      .execute();
  }
  return app.users.get(id);
}

/** `n` users alike; their ids, in order. */
export async function createUsers(app: App, n: number, spec: Omit<UserSpec, 'id'> = {}): Promise<number[]> {
  const ids = Array.from({ length: n }, () => nextUserId++);
  // A few at a time: a thousand at once would wait on the connection pool past its timeout.
  for (let i = 0; i < ids.length; i += 8) {
    await Promise.all(ids.slice(i, i + 8).map((id) => createUser(app, { ...spec, id })));
  }
  return ids;
}

export interface MessageSpec {
  role: MessageRole;
  content?: string;
  createdAt?: Date;
}

/** A dialog (the user's active one, in their private chat) holding `messages`, oldest first. */
export async function createDialog(
  app: App,
  spec: { userId?: number; title?: string; messages?: MessageSpec[] } = {},
): Promise<{ dialog: Dialog; messageIds: number[] }> {
  const userId = spec.userId ?? (await createUser(app)).id;
  const dialog = await app.dialogs.create(userId, spec.title ?? 'Dialog');
  const messageIds: number[] = [];
  for (const m of spec.messages ?? []) {
    const row = await app.db
      .insertInto('messages')
      .values({
        dialog_id: dialog.id,
        role: m.role,
        content: m.content ?? `${m.role} message`,
        ...(m.createdAt ? { created_at: m.createdAt } : {}),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    messageIds.push(row.id);
  }
  return { dialog, messageIds };
}

/**
 * A running broadcast whose recipients are chosen (one delivery row each), as after its start job:
 * to `recipients` new users, or to whoever the audience finds when `recipients` is omitted.
 */
export async function createRunningBroadcast(
  app: App,
  spec: Partial<CreateBroadcastInput> & { recipients?: number } = {},
): Promise<{ broadcast: Broadcast; recipients: number[] }> {
  const { recipients: count, ...input } = spec;
  const recipients = count === undefined ? [] : await createUsers(app, count);
  const created = await app.broadcasts.create({
    text: '<b>Hello</b> everyone',
    audience: { kind: 'all' },
    createdBy: 'test',
    ...input,
  });
  await app.broadcasts.start(created.id);
  await app.broadcasts.runStart(created.id);
  return { broadcast: await app.broadcasts.get(created.id), recipients };
}

/** What the bot stored of the user's questions, oldest first. */
export async function questionsOf(db: Db, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('messages')
    .innerJoin('dialogs', 'dialogs.id', 'messages.dialog_id')
    .select('messages.content')
    .where('dialogs.user_id', '=', userId)
    .where('messages.role', '=', 'user')
    .orderBy('messages.id')
    .execute();
  return rows.map((r) => r.content);
}
