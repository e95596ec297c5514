import { InlineKeyboard } from 'grammy';
import type { Translator } from '../../platform/i18n/i18n.js';

/** 🎨 under an AI answer: `img:pic:<answer message id>`. */
export const IMAGE_FROM_ANSWER = /^img:pic:(\d{1,15})$/;
/** ↻ / 🔁 under a delivered picture: `img:again:<job id>`, `img:var:<job id>`. */
export const IMAGE_REPEAT = /^img:(again|var):(\d{1,15})$/;
/** ✖ under a placeholder: `img:x:<job id>`. */
export const IMAGE_CANCEL = /^img:x:(\d{1,15})$/;

/** The buttons of pictures, in the user's language (the worker has no grammY context); the bot handles them. */
export function imageKeyboards(i18n: Translator) {
  return {
    picture: (answerId: number, locale: string) =>
      new InlineKeyboard().text(i18n.t(locale, 'button-picture'), `img:pic:${answerId}`),
    cancel: (jobId: number, locale: string) =>
      new InlineKeyboard().text(i18n.t(locale, 'button-image-cancel'), `img:x:${jobId}`),
    delivered: (jobId: number, locale: string, variation: boolean) => {
      const kb = new InlineKeyboard().text(i18n.t(locale, 'button-image-again'), `img:again:${jobId}`);
      return variation ? kb.text(i18n.t(locale, 'button-image-variation'), `img:var:${jobId}`) : kb;
    },
  };
}
