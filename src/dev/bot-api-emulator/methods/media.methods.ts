import type { Message, PhotoSize } from 'grammy/types';
import { badRequest } from '../bot-api-error.js';
import { readImageInfo } from '../image-size.js';
import { readReplyMarkup } from '../reply-markup.js';
import type { StateStore, StoredFile } from '../state-store.js';
import { readTextContent, textFields } from '../text-content.js';
import { type MethodContext, type MethodTable, requireChat, sendBotMessage } from './method-context.js';

const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
/** Telegram keeps a few scaled copies; their longest sides. */
const SIZES = [90, 320, 800, 1280];
/** Size reported for photos given by URL: the emulator does not download them. */
const URL_PHOTO_SIDE = 1280;

function sizesFor(
  store: StateStore,
  file: Omit<StoredFile, 'file_id' | 'file_unique_id' | 'file_path'>,
  width: number,
  height: number,
  ext: string,
): PhotoSize[] {
  const longest = Math.max(width, height, 1);
  const sides = [...SIZES.filter((s) => s < longest), Math.min(longest, 2560)];
  return sides.map((side, i) => {
    const scale = side / longest;
    const isOriginal = i === sides.length - 1;
    const stored = store.putFile({ ...file, size: isOriginal ? file.size : undefined }, ext);
    return {
      file_id: stored.file_id,
      file_unique_id: stored.file_unique_id,
      width: Math.max(1, Math.round(width * scale)),
      height: Math.max(1, Math.round(height * scale)),
      ...(isOriginal && file.size !== undefined ? { file_size: file.size } : {}),
    };
  });
}

/** The PhotoSize list for an uploaded file, an HTTP URL or a known file_id. */
function readPhoto(ctx: MethodContext): PhotoSize[] {
  const { params, store } = ctx;
  const upload = params.upload('photo');
  if (upload) {
    if (upload.data.length > MAX_PHOTO_BYTES) throw badRequest('file is too big');
    const info = readImageInfo(upload.data);
    if (!info || info.width === 0 || info.height === 0) throw badRequest('IMAGE_PROCESS_FAILED');
    const file = { mimetype: info.mimetype, size: upload.data.length, data: upload.data };
    return sizesFor(store, file, info.width, info.height, info.extension);
  }
  const ref = params.string('photo');
  if (!ref) throw badRequest('there is no photo in the request');
  if (/^https?:\/\//i.test(ref)) {
    return sizesFor(store, { mimetype: 'image/jpeg', url: ref }, URL_PHOTO_SIDE, URL_PHOTO_SIDE, 'jpg');
  }
  const known = store.files.get(ref);
  if (!known) throw badRequest('wrong file identifier/HTTP URL specified');
  return [
    {
      file_id: known.file_id,
      file_unique_id: known.file_unique_id,
      width: URL_PHOTO_SIDE,
      height: URL_PHOTO_SIDE,
    },
  ];
}

function sendPhoto(ctx: MethodContext): Message {
  const state = requireChat(ctx);
  const photo = readPhoto(ctx);
  const caption = readTextContent(ctx.params, 'caption');
  const markup = readReplyMarkup(ctx.params);
  const content: Partial<Message> = {
    photo,
    ...(caption && caption.text !== '' ? textFields(caption, 'caption') : {}),
    ...(ctx.params.bool('has_spoiler') ? { has_media_spoiler: true } : {}),
    ...(ctx.params.bool('show_caption_above_media') ? { show_caption_above_media: true } : {}),
  };
  return sendBotMessage(ctx, state, content, markup);
}

function getFile(ctx: MethodContext): Record<string, unknown> {
  const id = ctx.params.string('file_id') ?? '';
  const file = ctx.store.files.get(id);
  if (!file) throw badRequest('invalid file_id');
  if (!file.data) throw badRequest('wrong file_id or the file is temporarily unavailable');
  return {
    file_id: file.file_id,
    file_unique_id: file.file_unique_id,
    file_size: file.data.length,
    file_path: file.file_path,
  };
}

export const mediaMethods: MethodTable = { sendPhoto, getFile };
