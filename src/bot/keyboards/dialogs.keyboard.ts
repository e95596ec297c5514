import { InlineKeyboard } from 'grammy';
import type { DialogSummary } from '../../domain/dialogs/dialogs.repository.js';

export const DIALOG_SWITCH = /^dlg:open:(\d+)$/;
/** The 🗑 next to a dialog: deletes an empty one, asks first about one with history. */
export const DIALOG_DELETE = /^dlg:del:(\d+)$/;
export const DIALOG_DELETE_CONFIRMED = /^dlg:delok:(\d+)$/;
export const DIALOG_LIST = 'dlg:list';

/** One row per dialog: the title (tap to switch) and a delete button. */
export function dialogsKeyboard(dialogs: DialogSummary[], deleteLabel: string): InlineKeyboard {
  const kb = new InlineKeyboard();
  for (const d of dialogs) {
    const label = `${d.is_active ? '✅ ' : ''}${d.title} · ${d.message_count}`;
    kb.text(label.length > 60 ? `${label.slice(0, 59)}…` : label, `dlg:open:${d.id}`)
      .text(deleteLabel, `dlg:del:${d.id}`)
      .row();
  }
  return kb;
}

/** "Delete it?": confirm, or go back to the list. */
export function deleteConfirmKeyboard(
  dialogId: number,
  labels: { confirm: string; cancel: string },
): InlineKeyboard {
  return new InlineKeyboard().text(labels.confirm, `dlg:delok:${dialogId}`).text(labels.cancel, DIALOG_LIST);
}
