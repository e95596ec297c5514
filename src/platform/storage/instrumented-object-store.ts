import { ValidationError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LATENCY_BUCKETS, type Metrics } from '../metrics.js';
import { ObjectNotFoundError, type ObjectStoreOp } from './errors.js';
import type { ObjectStore } from './object-store.js';

type Result = 'ok' | 'not_found' | 'invalid' | 'error';

function resultOf(err: unknown): Result {
  if (err instanceof ObjectNotFoundError) return 'not_found';
  if (err instanceof ValidationError) return 'invalid';
  return 'error';
}

/**
 * Wraps a store with one counter by operation and result, one latency histogram by operation,
 * and a log line for every failure naming the operation and the key. Both adapters go through
 * it, so dashboards and alerts do not care which one runs.
 */
export function instrumentObjectStore(
  store: ObjectStore,
  deps: { logger: Logger; metrics: Metrics },
): ObjectStore {
  const operations = deps.metrics.counter({
    name: 'vitte_storage_operations_total',
    help: 'Object store operations by backend, operation and result (ok, not_found, invalid, error)',
    labelNames: ['backend', 'op', 'result'],
  });
  const duration = deps.metrics.histogram({
    name: 'vitte_storage_operation_duration_seconds',
    help: 'Object store operation duration by backend and operation',
    labelNames: ['backend', 'op'],
    buckets: LATENCY_BUCKETS,
  });
  const backend = store.kind;
  const log = deps.logger.child({ component: 'storage', backend });

  async function measure<T>(
    op: ObjectStoreOp,
    key: string | undefined,
    fn: () => Promise<T>,
    found: (value: T) => boolean = () => true,
  ): Promise<T> {
    const end = duration.startTimer({ backend, op });
    try {
      const value = await fn();
      operations.inc({ backend, op, result: found(value) ? 'ok' : 'not_found' });
      return value;
    } catch (err) {
      const result = resultOf(err);
      operations.inc({ backend, op, result });
      if (result === 'error') log.error({ err, op, key }, 'storage operation failed');
      else if (result === 'invalid') log.warn({ err, op, key }, 'storage operation refused');
      throw err;
    } finally {
      end();
    }
  }

  return {
    kind: store.kind,
    ensureReady: () => measure('ensure_ready', undefined, () => store.ensureReady()),
    ping: () => measure('ping', undefined, () => store.ping()),
    put: (key, bytes, opts) => measure('put', key, () => store.put(key, bytes, opts)),
    get: (key) => measure('get', key, () => store.get(key)),
    head: (key) =>
      measure(
        'head',
        key,
        () => store.head(key),
        (info) => info !== null,
      ),
    delete: (key) => measure('delete', key, () => store.delete(key)),
    signedUrl: (key, opts) => measure('sign', key, () => store.signedUrl(key, opts)),
    close: () => store.close(),
  };
}
