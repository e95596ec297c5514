/** SQLSTATEs of a server that is going away, starting, overloaded or cut off (not of a bad query). */
const UNAVAILABLE_CODES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '57014', // query_canceled: the statement timeout ran out (locks, an overloaded server)
]);

/** Socket errors of a database that cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** What node-postgres says when a connection breaks or cannot be had in time (errors without a code). */
const POOL_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'connection timeout',
];

/**
 * True when `err` (or an error it wraps) says the database could not be reached or did not answer —
 * the work may succeed later — rather than that the query or the data were wrong.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      typeof code === 'string' &&
      (code.startsWith('08') || UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code))
    )
      return true;
    if (typeof message === 'string' && POOL_MESSAGES.some((m) => message.includes(m))) return true;
  }
  return false;
}
