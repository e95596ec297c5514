import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** PNG's CRC-32 (ISO 3309) over a chunk's type and data. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

/** An 8-bit RGB PNG of `rgb` (row-major, 3 bytes a pixel), with optional tEXt chunks. */
export function encodePng(
  width: number,
  height: number,
  rgb: Uint8Array,
  text: Record<string, string> = {},
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  // compression, filter and interlace methods stay 0
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    // Each row starts with its filter type, 0 (none), which Buffer.alloc already wrote.
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const texts = Object.entries(text).map(([k, v]) =>
    chunk('tEXt', Buffer.concat([Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(v, 'latin1')])),
  );
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...texts,
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** mulberry32: a small deterministic generator, enough to place shapes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A picture drawn from the prompt and the seed: the prompt picks the palette (so different prompts
 * look different at a glance), the seed places the shapes. Same inputs, same bytes.
 */
export function drawPicture(
  prompt: string,
  seed: number,
  width: number,
  height: number,
  text: Record<string, string> = {},
): Buffer {
  const hash = createHash('sha256').update(prompt).digest();
  const rand = random(hash.readUInt32BE(0) ^ (seed % 4_294_967_296));
  const colour = (i: number): [number, number, number] => [hash[i] ?? 0, hash[i + 1] ?? 0, hash[i + 2] ?? 0];
  const [top, bottom] = [colour(0), colour(3)];
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const t = height > 1 ? y / (height - 1) : 0;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++)
        rgb[o + c] = Math.round((top[c] as number) * (1 - t) + (bottom[c] as number) * t);
    }
  }
  const shapes = 3 + ((hash[6] ?? 0) % 5);
  for (let s = 0; s < shapes; s++) {
    const fill = colour(7 + s * 3);
    const cx = rand() * width;
    const cy = rand() * height;
    const r = (0.08 + rand() * 0.25) * Math.min(width, height);
    const round = rand() < 0.6;
    const [x0, x1] = [Math.max(0, Math.floor(cx - r)), Math.min(width, Math.ceil(cx + r))];
    const [y0, y1] = [Math.max(0, Math.floor(cy - r)), Math.min(height, Math.ceil(cy + r))];
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (round && (x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        rgb.set(fill, (y * width + x) * 3);
      }
    }
  }
  return encodePng(width, height, rgb, text);
}
