import type { Transactor } from '../../platform/db/transactor.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import { createRateLimiter } from '../../platform/rate-limit.js';
import type { Redis } from '../../platform/redis.js';
import type { BroadcastsService } from '../broadcasts/broadcasts.service.js';
import type { PaymentsService } from '../payments/payments.service.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { SubscriptionsService } from '../subscriptions/subscriptions.service.js';
import type { UsersService } from '../users/users.service.js';
import type { AdminRepository } from './admin.repository.js';
import { AdminAccountsService } from './admin-accounts.service.js';
import { AdminAuthService, type AuthPolicy, DEFAULT_AUTH_POLICY } from './admin-auth.service.js';
import type { AuditRepository } from './audit.repository.js';
import { AuditService } from './audit.service.js';
import { BroadcastAdminService } from './broadcast-admin.service.js';
import { PaymentAdminService } from './payment-admin.service.js';
import { SettingsAdminService } from './settings-admin.service.js';
import { UserAdminService } from './user-admin.service.js';

export type { BroadcastAction } from '../broadcasts/broadcast-transitions.js';
export { LoginFailedError, LoginThrottledError } from './admin.errors.js';
export type { AdminView, BootstrapResult } from './admin-accounts.service.js';
export { ADMIN_ROLES, AdminAccountsService, adminView } from './admin-accounts.service.js';
export type { ActiveSession, SignedIn } from './admin-auth.service.js';
export { AdminAuthService, safeEqual } from './admin-auth.service.js';
export type { Actor, AuditChange } from './audit.service.js';
export { AuditService } from './audit.service.js';
export { BroadcastAdminService } from './broadcast-admin.service.js';
export { PaymentAdminService } from './payment-admin.service.js';
export { SettingsAdminService } from './settings-admin.service.js';
export { UserAdminService } from './user-admin.service.js';

/** Everything the admin panel needs from the domain besides the shared services. */
export interface AdminServices {
  auth: AdminAuthService;
  accounts: AdminAccountsService;
  audit: AuditService;
  users: UserAdminService;
  settings: SettingsAdminService;
  broadcasts: BroadcastAdminService;
  payments: PaymentAdminService;
}

export interface AdminServicesDeps {
  tx: Transactor;
  repos: { admin: AdminRepository; audit: AuditRepository };
  redis: Redis | undefined;
  redisPrefix: string;
  users: UsersService;
  subscriptions: SubscriptionsService;
  settings: SettingsService;
  broadcasts: BroadcastsService;
  payments: PaymentsService;
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
  const audit = new AuditService(deps.repos.audit, logger);
  return {
    audit,
    auth: new AdminAuthService(
      deps.tx,
      deps.repos.admin,
      audit,
      { ip: limiter('ip', limits.perIp), username: limiter('user', limits.perUsername) },
      logger,
      deps.metrics,
      policy,
      deps.clock,
    ),
    accounts: new AdminAccountsService(deps.tx, deps.repos.admin, audit, logger),
    users: new UserAdminService(deps.tx, deps.users, deps.subscriptions, audit),
    settings: new SettingsAdminService(deps.tx, deps.settings, audit),
    broadcasts: new BroadcastAdminService(deps.tx, deps.broadcasts, audit),
    payments: new PaymentAdminService(deps.tx, deps.payments, audit),
  };
}
