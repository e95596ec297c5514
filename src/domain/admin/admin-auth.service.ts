import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdminSession, AdminUser } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { RateLimiter } from '../../platform/rate-limit.js';
import { LoginFailedError, LoginThrottledError } from './admin.errors.js';
import type { AdminRepository } from './admin.repository.js';
import type { Actor, AuditService } from './audit.service.js';
import { hashPassword, needsRehash, verifyPassword } from './passwords.js';

export interface AuthPolicy {
  /** Sliding session lifetime: each request moves the end this far ahead. */
  sessionTtlMs: number;
  /** Hard limit from sign-in, however active the session is. */
  sessionMaxAgeMs: number;
  /** Consecutive failures that lock an account… */
  maxFailures: number;
  /** …for this long. */
  lockMs: number;
}

export const DEFAULT_AUTH_POLICY: AuthPolicy = {
  sessionTtlMs: 12 * 3_600_000,
  sessionMaxAgeMs: 7 * 24 * 3_600_000,
  maxFailures: 5,
  lockMs: 15 * 60_000,
};

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
 * Sign-in and sessions of the admin panel: argon2id passwords, throttling of failed attempts per
 * address and per username, temporary lockout after repeated failures, sliding server-side
 * sessions with a CSRF token each. Times come from `now` (tests move it to end sessions).
 */
export class AdminAuthService {
  private dummyHash: Promise<string> | undefined;
  private readonly logins;

  constructor(
    private readonly tx: Transactor,
    private readonly repo: AdminRepository,
    private readonly audit: AuditService,
    private readonly limiters: { ip: RateLimiter; username: RateLimiter },
    private readonly logger: Logger,
    metrics: Metrics,
    readonly policy: AuthPolicy = DEFAULT_AUTH_POLICY,
    private readonly now: () => number = Date.now,
  ) {
    this.logins = metrics.counter({
      name: 'vitte_admin_logins_total',
      help: 'Admin sign-in attempts by result',
      labelNames: ['result'],
    });
  }

  async login(input: LoginInput): Promise<SignedIn> {
    const username = input.username.trim().toLowerCase();
    const log = { admin: username, ip: input.ip };
    const ipKey = input.ip ?? 'unknown';
    // Every attempt is counted before the password is checked; a success is given back below.
    const [byIp, byName] = await Promise.all([
      this.limiters.ip.consume(ipKey),
      this.limiters.username.consume(username),
    ]);
    if (!byIp.allowed || !byName.allowed) {
      this.logins.inc({ result: 'throttled' });
      this.logger.warn(log, 'admin login throttled');
      throw new LoginThrottledError(Math.max(byIp.msBeforeNext, byName.msBeforeNext));
    }

    const admin = username ? await this.repo.findByUsername(username) : undefined;
    if (admin?.locked_until && admin.locked_until.getTime() > this.now()) {
      this.logins.inc({ result: 'locked' });
      this.logger.warn(log, 'admin login refused: account locked');
      throw new LoginThrottledError(admin.locked_until.getTime() - this.now());
    }
    // Verify even without an account so the answer takes as long as for a wrong password.
    const ok = await verifyPassword(admin?.password_hash ?? (await this.dummy()), input.password);
    if (!admin || !ok || admin.disabled_at) {
      this.logins.inc({ result: 'failure' });
      if (admin && !ok) {
        const after = await this.repo.recordFailure(
          admin.id,
          this.policy.maxFailures,
          new Date(this.now() + this.policy.lockMs),
        );
        if (after?.locked_until && after.locked_until.getTime() > this.now()) {
          this.logger.warn({ ...log, until: after.locked_until }, 'admin account locked after failed logins');
        }
      }
      this.logger.info(log, 'admin login failed');
      throw new LoginFailedError();
    }

    // Only failures stay counted: the address gets this attempt back, the account starts over.
    await Promise.all([this.limiters.ip.giveBack(ipKey), this.limiters.username.clear(username)]);
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
    return { token, session, admin: { ...admin, failed_logins: 0, locked_until: null } };
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
