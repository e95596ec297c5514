/**
 * The port for telling a user something in their language (a translation key and its variables),
 * implemented over Telegram by `integrations/telegram/notifier.ts`.
 */
export type Notify = (userId: number, key: string, vars?: Record<string, string | number>) => Promise<void>;
