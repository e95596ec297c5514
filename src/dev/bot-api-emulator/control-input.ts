/** A bad control request; answered as 4xx `{ error }`. */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** An integer from a query string or JSON body; undefined when absent. */
export function optionalInt(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new ControlError(`${name} must be an integer`);
  return n;
}

/** A JSON object body, typed by the caller (each route checks the fields it reads). */
export function body<T>(value: unknown): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ControlError('the body must be a JSON object');
  }
  return value as T;
}
