import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminSession, AdminUser } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { FailureLog, FailureRecord } from '../../platform/failure-log.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { LoginFailedError, LoginThrottledError } from './admin.errors.js';
import type { AdminRepository } from './admin.repository.js';
import type { Actor, AuditService } from './audit.service.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';

/** Growing delays for one kind of key: `free` failures cost nothing, then each doubles the wait. */
export interface BackoffPolicy {
  free: number;
  baseMs: number;
  maxMs: number;
}

/**
 * Failed sign-ins are throttled by where they come from, never by locking an account: a stranger
 * who knows a user name cannot keep its owner out. Three counts, each forgotten after `windowMs`
 * without a failure:
 * - `address`: every user name tried from one address (password spraying);
 * - `addressUsername`: one user name from one address (the typist and the single-source guesser);
 * - `username`: one user name from everywhere (a botnet). Only a slow-down, and only for addresses
 *   that have failed themselves: the right password from a clean address always gets in.
 */
export interface LoginThrottlePolicy {
  windowMs: number;
  address: BackoffPolicy;
  addressUsername: BackoffPolicy;
  username: BackoffPolicy;
}

export interface AuthPolicy {
  /** Sliding session lifetime: each request moves the end this far ahead. */
  sessionTtlMs: number;
  /** Hard limit from sign-in, however active the session is. */
  sessionMaxAgeMs: number;
  throttle: LoginThrottlePolicy;
}

export const DEFAULT_AUTH_POLICY: AuthPolicy = {
  sessionTtlMs: 12 * 3_600_000,
  sessionMaxAgeMs: 7 * 24 * 3_600_000,
  throttle: {
    windowMs: 15 * 60_000,
    address: { free: 10, baseMs: 1_000, maxMs: 15 * 60_000 },
    addressUsername: { free: 5, baseMs: 1_000, maxMs: 15 * 60_000 },
    username: { free: 20, baseMs: 1_000, maxMs: 60_000 },
  },
};

/** How long the next attempt must wait after `record`'s failures (0: it may go now). */
export function backoffWait(record: FailureRecord | undefined, p: BackoffPolicy, now: number): number {
  if (!record || record.count < p.free) return 0;
  const delay = Math.min(p.baseMs * 2 ** Math.min(record.count - p.free, 40), p.maxMs);
  return Math.max(0, record.lastAt + delay - now);
}

type ThrottleScope = 'address' | 'address_username' | 'username';

/** Last-seen is written at most this often, so a busy page does not write on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export interface LoginInput {
  username: string;
  password: string;
  ip: string | null;
  userAgent: string | null;
}

export interface SignedIn {
  /** Goes into the cookie and nowhere else; the database keeps only its SHA-256. */
  token: string;
  session: AdminSession;
  admin: AdminUser;
}

export interface ActiveSession {
  session: AdminSession;
  admin: AdminUser;
}

export function sessionIdOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time string comparison (length is not secret: both sides are fixed-size tokens). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Sign-in and sessions of the admin panel: argon2id passwords, failed attempts throttled with
 * growing delays by address (see LoginThrottlePolicy), logged and audited; sliding server-side
 * sessions with a CSRF token each. Times come from `now` (tests move it to end sessions).
 */
export class AdminAuthService {
  private dummyHash: Promise<string> | undefined;
  private readonly logins;
  private readonly throttled;

  constructor(
    private readonly tx: Transactor,
    private readonly repo: AdminRepository,
    private readonly audit: AuditService,
    private readonly failures: FailureLog,
    private readonly logger: Logger,
    metrics: Metrics,
    readonly policy: AuthPolicy = DEFAULT_AUTH_POLICY,
    private readonly now: () => number = Date.now,
  ) {
    this.logins = metrics.counter({
      name: 'vitte_admin_logins_total',
      help: 'Admin sign-in attempts by result (success, failure, throttled)',
      labelNames: ['result'],
    });
    this.throttled = metrics.counter({
      name: 'vitte_admin_logins_throttled_total',
      help: 'Admin sign-in attempts refused before the password was checked, by the count that refused them',
      labelNames: ['scope'],
    });
  }

  async login(input: LoginInput): Promise<SignedIn> {
    const username = input.username.trim().toLowerCase();
    const ip = input.ip ?? 'unknown';
    const log = { admin: username, ip: input.ip };
    const keys = [`a:${ip}`, `au:${ip}:${username}`, `u:${username}`];
    await this.throttle(keys, log);

    const admin = username ? await this.repo.findByUsername(username) : undefined;
    // Verify even without an account so the answer takes as long as for a wrong password.
    const ok = await verifyPassword(admin?.password_hash ?? (await this.dummy()), input.password);
    if (!admin || !ok || admin.disabled_at) {
      await this.failed(
        keys,
        input,
        admin,
        !admin ? 'unknown_username' : !ok ? 'wrong_password' : 'disabled',
      );
      throw new LoginFailedError();
    }

    // The address's own count stays (a success must not reset a sprayer's tally); this pair starts over.
    await this.failures.clear(keys[1] as string);
    const rehashed = needsRehash(admin.password_hash) ? await hashPassword(input.password) : undefined;
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const session = await this.tx.run(async () => {
      await this.repo.recordSuccess(admin.id, rehashed);
      const created = await this.repo.insertSession({
        id: sessionIdOf(token),
        adminUserId: admin.id,
        csrfToken: randomBytes(32).toString('base64url'),
        ip: input.ip,
        userAgent: input.userAgent?.slice(0, 300) ?? null,
        createdAt: new Date(now),
        expiresAt: new Date(now + this.policy.sessionTtlMs),
      });
      await this.audit.record(
        { id: admin.id, username: admin.username, ip: input.ip },
        { action: 'auth.login', targetType: 'admin', targetId: admin.id },
      );
      return created;
    });
    this.logins.inc({ result: 'success' });
    this.logger.info({ ...log, role: admin.role }, 'admin signed in');
    void this.repo.deleteExpiredSessions(new Date(now)).catch((err: unknown) => {
      this.logger.warn({ err }, 'expired admin sessions not deleted');
    });
    return { token, session, admin };
  }

  /** Refuse the attempt, before any password is checked, while one of its counts says wait. */
  private async throttle(keys: string[], log: Record<string, unknown>): Promise<void> {
    const now = this.now();
    const p = this.policy.throttle;
    const [address, pair, name] = await this.failures.get(keys, now);
    const waits: [ThrottleScope, number][] = [
      ['address', backoffWait(address, p.address, now)],
      ['address_username', backoffWait(pair, p.addressUsername, now)],
      // An address that has not been failing is never slowed by what others did to the name.
      ['username', address ? backoffWait(name, p.username, now) : 0],
    ];
    const [scope, waitMs] = waits.reduce((a, b) => (b[1] > a[1] ? b : a));
    if (waitMs <= 0) return;
    this.logins.inc({ result: 'throttled' });
    this.throttled.inc({ scope });
    this.logger.warn({ ...log, scope, waitMs }, 'admin sign-in throttled');
    throw new LoginThrottledError(waitMs);
  }

  /** Count the failure against the address, the pair and the name, then log and audit it. */
  private async failed(
    keys: string[],
    input: LoginInput,
    admin: AdminUser | undefined,
    reason: 'unknown_username' | 'wrong_password' | 'disabled',
  ): Promise<void> {
    const username = input.username.trim().toLowerCase();
    const [address, pair, name] = await this.failures.add(keys, this.now());
    this.logins.inc({ result: 'failure' });
    this.logger.warn(
      {
        admin: username,
        ip: input.ip,
        reason,
        failures: { address: address?.count, addressUsername: pair?.count, username: name?.count },
      },
      'admin sign-in failed',
    );
    await this.audit.record(
      { id: admin?.id ?? null, username, ip: input.ip },
      {
        action: 'auth.login_failed',
        targetType: 'admin',
        ...(admin ? { targetId: admin.id } : {}),
        after: { reason, userAgent: input.userAgent?.slice(0, 300) ?? null },
      },
    );
  }

  /** The live session behind a cookie token, its end moved ahead; undefined when expired or revoked. */
  async resolve(token: string): Promise<ActiveSession | undefined> {
    if (!token || token.length > 200) return undefined;
    const now = this.now();
    const found = await this.repo.findSession(sessionIdOf(token), new Date(now));
    if (!found) return undefined;
    const { session, admin } = found;
    if (admin.disabled_at || session.created_at.getTime() + this.policy.sessionMaxAgeMs <= now) {
      await this.repo.deleteSession(session.id);
      return undefined;
    }
    if (now - session.last_seen_at.getTime() > TOUCH_INTERVAL_MS) {
      const expiresAt = new Date(
        Math.min(now + this.policy.sessionTtlMs, session.created_at.getTime() + this.policy.sessionMaxAgeMs),
      );
      await this.repo.extendSession(session.id, new Date(now), expiresAt);
      session.last_seen_at = new Date(now);
      session.expires_at = expiresAt;
    }
    return found;
  }

  /** End a session; signing out (an `actor`) is audited, a session replaced at sign-in is not. */
  logout(sessionId: string, actor?: Actor): Promise<void> {
    return this.tx.run(async () => {
      await this.repo.deleteSession(sessionId);
      if (actor)
        await this.audit.record(actor, { action: 'auth.logout', targetType: 'admin', targetId: actor.id });
    });
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    return this.dummyHash;
  }
}
