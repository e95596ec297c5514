import { InlineKeyboard } from 'grammy';

/** `settings:notifications:on|off` carries the wanted state, so a double tap changes nothing twice. */
export const NOTIFICATIONS_CALLBACK = /^settings:notifications:(on|off)$/;

/** One toggle: its label shows the current state, pressing it switches to the other one. */
export function settingsKeyboard(notificationsEnabled: boolean, t: (key: string) => string): InlineKeyboard {
  const label = t(notificationsEnabled ? 'settings-notifications-on' : 'settings-notifications-off');
  return new InlineKeyboard().text(label, `settings:notifications:${notificationsEnabled ? 'off' : 'on'}`);
}
