/** Sends an error to the error tracker with the context of the log line that carried it. */
export type ReportError = (err: Error, context: Record<string, unknown>) => void;

export interface ErrorReporter {
  report: ReportError | undefined;
  /** Flush what is queued (bounded) before the process exits. */
  close(): Promise<void>;
}

/**
 * Sentry when SENTRY_DSN is set, nothing otherwise. The SDK is loaded only then (it is heavy), and
 * every error the app logs (the error boundary, 500s, failed jobs) reaches it through the logger.
 */
export async function createErrorReporter(opts: {
  dsn: string | undefined;
  environment: string;
  release: string;
  role: string;
}): Promise<ErrorReporter> {
  if (!opts.dsn) return { report: undefined, close: async () => {} };
  const Sentry = await import('@sentry/node');
  Sentry.init({
    dsn: opts.dsn,
    environment: opts.environment,
    release: `vitte@${opts.release}`,
    initialScope: { tags: { role: opts.role } },
    // Errors only, and only those the app logs: no auto-instrumentation of every library (its
    // tracing hooks cost on every request) and no global process handlers (main.ts owns those).
    tracesSampleRate: 0,
    defaultIntegrations: false,
    integrations: [
      Sentry.linkedErrorsIntegration(),
      Sentry.dedupeIntegration(),
      Sentry.contextLinesIntegration(),
    ],
  });
  return {
    report: (err, context) => {
      Sentry.captureException(err, { extra: context });
    },
    close: async () => {
      await Sentry.close(2_000);
    },
  };
}

/**
 * Error-level log lines with an `err` go to the reporter as well, through the same scrubber as the
 * log output (bot tokens and configured secrets never leave the process).
 */
export function reportingHook(report: ReportError, scrub: (text: string) => string) {
  return function logMethod(
    this: unknown,
    args: unknown[],
    method: (...a: unknown[]) => void,
    level: number,
  ) {
    const [first, msg] = args;
    if (level >= 50 && first && typeof first === 'object') {
      const { err, ...context } = first as { err?: unknown } & Record<string, unknown>;
      const error = err instanceof Error ? err : first instanceof Error ? first : undefined;
      if (error) {
        const clean = new Error(scrub(error.message));
        clean.name = error.name;
        clean.stack = scrub(error.stack ?? '');
        report(clean, JSON.parse(scrub(JSON.stringify({ ...context, msg }))) as Record<string, unknown>);
      }
    }
    method.apply(this, args);
  };
}
