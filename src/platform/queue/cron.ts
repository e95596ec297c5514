import { CronExpressionParser } from 'cron-parser';
import { JobDefinitionError } from './errors.js';

/**
 * The next tick of a cron pattern (5 fields, or 6 with seconds first) strictly after `after`.
 * Both adapters check patterns with this, so a bad pattern fails the same way on either.
 */
export function nextCronTick(jobName: string, cron: string, tz: string | undefined, after: Date): Date {
  try {
    const expression = CronExpressionParser.parse(cron, { currentDate: after, ...(tz ? { tz } : {}) });
    return expression.next().toDate();
  } catch (err) {
    throw new JobDefinitionError(
      `schedule "${jobName}": invalid cron "${cron}"${tz ? ` (tz ${tz})` : ''}: ${(err as Error).message}`,
      jobName,
    );
  }
}
