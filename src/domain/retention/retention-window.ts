import type { SettingValue } from '../settings/settings.definitions.js';

export type RetentionWindow = SettingValue<'retention.window'>;

/** The hour of the day (0–23) at `at` in a time zone. */
export function hourIn(timeZone: string, at: Date): number {
  const part = new Intl.DateTimeFormat('en-GB', { hour: 'numeric', hourCycle: 'h23', timeZone })
    .formatToParts(at)
    .find((p) => p.type === 'hour');
  return Number(part?.value ?? Number.NaN);
}

/** Whether `at` falls inside the sending window: from start_hour (inclusive) to end_hour (exclusive). */
export function isInWindow(window: RetentionWindow, at: Date): boolean {
  const hour = hourIn(window.time_zone, at);
  return hour >= window.start_hour && hour < window.end_hour;
}
