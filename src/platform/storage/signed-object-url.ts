import { createHmac, timingSafeEqual } from 'node:crypto';

/** Below this an HMAC key could be guessed offline from one link. */
export const MIN_SIGNING_SECRET_LENGTH = 32;
const PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;
const EXP = /^\d{1,12}$/;

export type SignedUrlCheck = { ok: true; expiresAt: number } | { ok: false; reason: 'invalid' | 'expired' };

export function assertSigningOptions(secret: string, prefix: string): void {
  if (typeof secret !== 'string' || secret.length < MIN_SIGNING_SECRET_LENGTH) {
    throw new Error(
      `the object link signing secret must be at least ${MIN_SIGNING_SECRET_LENGTH} characters`,
    );
  }
  if (!PREFIX.test(prefix)) {
    throw new Error(`the object link prefix must look like "/admin/objects" (got ${JSON.stringify(prefix)})`);
  }
}

// The version tag lets a later scheme refuse old links instead of misreading them.
function signature(key: string, expiresAt: number, secret: string): string {
  return createHmac('sha256', secret).update(`v1\n${key}\n${expiresAt}`).digest('base64url');
}

/**
 * `<prefix>/<key>?exp=<unix seconds>&sig=<HMAC-SHA256>`: the key needs no escaping because
 * `assertObjectKey` allows only URL-safe characters.
 */
export function signObjectUrl(opts: {
  prefix: string;
  key: string;
  expiresAt: number;
  secret: string;
}): string {
  return `${opts.prefix}/${opts.key}?exp=${opts.expiresAt}&sig=${signature(opts.key, opts.expiresAt, opts.secret)}`;
}

/**
 * Checks a link's `exp` and `sig` query values for `key` (as the route decoded it). The signature
 * is compared in constant time and checked before the expiry, so a forged link learns nothing
 * about whether its expiry was acceptable.
 */
export function verifySignedObjectUrl(
  params: { key: string; exp: unknown; sig: unknown },
  secret: string,
  nowMs: number = Date.now(),
): SignedUrlCheck {
  const { key, exp, sig } = params;
  if (typeof exp !== 'string' || !EXP.test(exp) || typeof sig !== 'string')
    return { ok: false, reason: 'invalid' };
  const expiresAt = Number(exp);
  const expected = Buffer.from(signature(key, expiresAt, secret));
  const given = Buffer.from(sig);
  // The length of a valid signature is public (43 characters), so checking it first leaks nothing.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'invalid' };
  if (expiresAt * 1000 <= nowMs) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt };
}
