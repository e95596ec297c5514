const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Default 30 s. */
  timeoutMs?: number;
  /** Between two checks; default 20 ms. */
  intervalMs?: number;
}

/**
 * Polls `check` until it returns something other than undefined or false, and resolves with it.
 * A check that throws is tried again; on timeout the error names `what` and the last failure.
 * For state that has no event to await (a row, a metric, a process's side effect).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out waiting for ${what}${reason}`);
    }
    await sleep(opts.intervalMs ?? 20);
  }
}
