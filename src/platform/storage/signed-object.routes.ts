import type { FastifyInstance } from 'fastify';
import { sendError } from '../http.js';
import type { Logger } from '../logger.js';
import { ObjectNotFoundError } from './errors.js';
import type { ObjectStore } from './object-store.js';
import { assertSigningOptions, verifySignedObjectUrl } from './signed-object-url.js';

export interface SignedObjectRoutesOptions {
  store: Pick<ObjectStore, 'get'>;
  /** The `signingSecret` the local store signs its links with. */
  secret: string;
  /** The store's `urlPrefix`; register the plugin without a Fastify prefix of its own. */
  prefix: string;
  logger: Logger;
  now?: () => number;
}

// Objects are served from the admin panel's origin, where a stored HTML or SVG file could
// otherwise run script with the admin's cookies.
const SANDBOX = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

/**
 * `GET <prefix>/<key>?exp=…&sig=…`: serves an object to whoever holds a link from
 * `store.signedUrl`. A wrong or expired signature is a 403, a missing object a 404.
 */
export function signedObjectRoutes(opts: SignedObjectRoutesOptions) {
  assertSigningOptions(opts.secret, opts.prefix);
  const now = opts.now ?? Date.now;
  const log = opts.logger.child({ component: 'storage' });
  return async (f: FastifyInstance) => {
    f.get(`${opts.prefix}/*`, { schema: { hide: true } }, async (req, reply) => {
      const key = (req.params as { '*': string })['*'];
      const query = req.query as Record<string, unknown>;
      const nowMs = now();
      const check = verifySignedObjectUrl({ key, exp: query.exp, sig: query.sig }, opts.secret, nowMs);
      if (!check.ok) {
        log.info({ key: key.slice(0, 200), reason: check.reason, ip: req.ip }, 'object link refused');
        const message = check.reason === 'expired' ? 'this link has expired' : 'invalid link signature';
        return sendError(reply, 403, 'forbidden', message);
      }
      try {
        const object = await opts.store.get(key);
        const maxAge = Math.max(0, check.expiresAt - Math.ceil(nowMs / 1000));
        return reply
          .header('content-type', object.contentType)
          .header('content-length', object.size)
          .header('cache-control', `private, max-age=${maxAge}`)
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', SANDBOX)
          .send(object.bytes);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) return sendError(reply, 404, 'not_found', 'no such object');
        throw err;
      }
    });
  };
}
