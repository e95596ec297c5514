import type { App } from '../app.js';
import { signObjectUrl } from '../platform/storage/index.js';

/** Admin links to stored pictures last this long; a page older than that shows broken thumbnails. */
export const OBJECT_LINK_TTL_S = 3_600;

/**
 * A link to a stored object served by the admin app itself (`signedObjectRoutes`), for both kinds
 * of store: the bucket stays on the private network, the browser stays on the panel's origin (and
 * its CSP), and the link is the credential until it expires.
 */
export function objectLink(app: App, key: string, nowMs = Date.now()): string {
  return signObjectUrl({
    prefix: app.objectLinks.prefix,
    key,
    expiresAt: Math.floor(nowMs / 1000) + OBJECT_LINK_TTL_S,
    secret: app.objectLinks.secret,
  });
}
