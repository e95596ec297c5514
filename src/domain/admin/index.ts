import type { Db } from '../../platform/db/database.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import type { Redis } from '../../platform/redis.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { UsersService } from '../users/users.service.js';
import { AdminRepository } from './admin.repository.js';
import { AdminAccountsService } from './admin-accounts.service.js';
import { AdminAuthService, type AuthPolicy, DEFAULT_AUTH_POLICY } from './admin-auth.service.js';
import { AuditService } from './audit.service.js';
import { SettingsAdminService } from './settings-admin.service.js';
import { UserAdminService } from './user-admin.service.js';

export { LoginFailedError, LoginThrottledError } from './admin.errors.js';
export type { AdminView, BootstrapResult } from './admin-accounts.service.js';
export { ADMIN_ROLES, AdminAccountsService, adminView } from './admin-accounts.service.js';
export type { ActiveSession, SignedIn } from './admin-auth.service.js';
export { AdminAuthService, safeEqual } from './admin-auth.service.js';
export type { Actor, AuditChange } from './audit.service.js';
export { AuditService } from './audit.service.js';
export { SettingsAdminService } from './settings-admin.service.js';
export { UserAdminService } from './user-admin.service.js';

/** Everything the admin panel needs from the domain besides the shared services. */
export interface AdminServices {
  auth: AdminAuthService;
  accounts: AdminAccountsService;
  audit: AuditService;
  users: UserAdminService;
  settings: SettingsAdminService;
}

export interface AdminServicesDeps {
  db: Db;
  redis: Redis | undefined;
  redisPrefix: string;
  users: UsersService;
  settings: SettingsService;
  logger: Logger;
  metrics: Metrics;
  policy?: Partial<AuthPolicy>;
  /** Failed sign-ins per address and per username per lockout window (default 30 and maxFailures). */
  loginLimits?: { perIp: number; perUsername: number };
  /** The time sessions and lockouts are measured by (tests move it). */
  clock?: () => number;
}

export function createAdminServices(deps: AdminServicesDeps): AdminServices {
  const logger = deps.logger.child({ component: 'admin' });
  const policy = { ...DEFAULT_AUTH_POLICY, ...deps.policy };
  const window = Math.round(policy.lockMs / 1000);
  const limits = deps.loginLimits ?? { perIp: 30, perUsername: policy.maxFailures };
  const limiter = (name: string, points: number) =>
    createRateLimiter({
      redis: deps.redis,
      keyPrefix: `${deps.redisPrefix}:rl:admin-login-${name}`,
      points,
      durationS: window,
    });
  const audit = new AuditService(deps.db, logger);
  return {
    audit,
    auth: new AdminAuthService(
      new AdminRepository(deps.db),
      { ip: limiter('ip', limits.perIp), username: limiter('user', limits.perUsername) },
      logger,
      deps.metrics,
      policy,
      deps.clock,
    ),
    accounts: new AdminAccountsService(deps.db, audit, logger),
    users: new UserAdminService(deps.db, deps.users, deps.settings, audit, logger),
    settings: new SettingsAdminService(deps.settings, audit),
  };
}
