export interface ImageInfo {
  width: number;
  height: number;
  mimetype: string;
  extension: string;
}

const PNG = { mimetype: 'image/png', extension: 'png' };
const GIF = { mimetype: 'image/gif', extension: 'gif' };
const WEBP = { mimetype: 'image/webp', extension: 'webp' };
const JPEG = { mimetype: 'image/jpeg', extension: 'jpg' };

/**
 * Dimensions of a PNG, JPEG, GIF or WebP from its header. Telegram refuses a photo it cannot
 * decode (IMAGE_PROCESS_FAILED); the emulator does the same for anything else.
 */
export function readImageInfo(data: Buffer): ImageInfo | undefined {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('ascii', 12, 16) === 'IHDR') {
    return { ...PNG, width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (
    data.length >= 10 &&
    (data.toString('ascii', 0, 6) === 'GIF87a' || data.toString('ascii', 0, 6) === 'GIF89a')
  ) {
    return { ...GIF, width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  }
  if (
    data.length >= 30 &&
    data.toString('ascii', 0, 4) === 'RIFF' &&
    data.toString('ascii', 8, 12) === 'WEBP'
  ) {
    return webp(data);
  }
  if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8) return jpeg(data);
  return undefined;
}

function webp(data: Buffer): ImageInfo | undefined {
  const chunk = data.toString('ascii', 12, 16);
  if (chunk === 'VP8X') {
    return { ...WEBP, width: 1 + data.readUIntLE(24, 3), height: 1 + data.readUIntLE(27, 3) };
  }
  if (chunk === 'VP8 ') {
    return { ...WEBP, width: data.readUInt16LE(26) & 0x3fff, height: data.readUInt16LE(28) & 0x3fff };
  }
  if (chunk === 'VP8L') {
    const bits = data.readUInt32LE(21);
    return { ...WEBP, width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  return undefined;
}

function jpeg(data: Buffer): ImageInfo | undefined {
  let i = 2;
  while (i + 9 < data.length) {
    if (data[i] !== 0xff) return undefined;
    const marker = data[i + 1]!;
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    const length = data.readUInt16BE(i + 2);
    // SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { ...JPEG, height: data.readUInt16BE(i + 5), width: data.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return undefined;
}
