import { InlineKeyboard } from 'grammy';
import type { Product } from '../../domain/payments/catalogue.js';
import type { Locale } from '../../platform/i18n/i18n.js';

/** `buy:menu` opens the catalogue; `buy:<code>` makes an order and sends its invoice. */
export const BUY_MENU = 'buy:menu';
export const BUY_PRODUCT = /^buy:([a-z0-9_]{1,32})$/;
/** `sub:cancel` / `sub:resume`: the wanted state, so a double tap changes nothing twice. */
export const SUBSCRIPTION_RENEWAL = /^sub:(cancel|resume)$/;

type T = (key: string, vars?: Record<string, string | number>) => string;

/** One button per product on sale, in catalogue order. */
export function catalogueKeyboard(products: Product[], locale: Locale, t: T): InlineKeyboard {
  const kb = new InlineKeyboard();
  for (const p of products) {
    kb.text(t('buy-product-button', { title: p.title[locale], price: p.price }), `buy:${p.code}`).row();
  }
  return kb;
}

/** The single "upgrade" button other replies carry (quota exhausted, /start, /status). */
export function buyButton(t: T): InlineKeyboard {
  return new InlineKeyboard().text(t('buy-button'), BUY_MENU);
}

/** Renewal on or off for a running Star subscription. */
export function renewalButton(kb: InlineKeyboard, canceled: boolean, t: T): InlineKeyboard {
  return canceled
    ? kb.row().text(t('sub-resume-button'), 'sub:resume')
    : kb.row().text(t('sub-cancel-button'), 'sub:cancel');
}
