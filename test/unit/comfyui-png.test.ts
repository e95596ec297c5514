import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, drawPicture } from '../../src/dev/fake-comfyui/index.js';

interface Chunk {
  type: string;
  data: Buffer;
}

/** Splits a PNG into chunks, checking the signature and every chunk's CRC. */
function readPng(png: Buffer): Chunk[] {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const typeAndData = png.subarray(at + 4, at + 8 + length);
    expect(png.readUInt32BE(at + 8 + length)).toBe(crc32(typeAndData));
    chunks.push({
      type: typeAndData.subarray(0, 4).toString('latin1'),
      data: Buffer.from(typeAndData.subarray(4)),
    });
    at += 12 + length;
  }
  return chunks;
}

function pixels(png: Buffer): { width: number; height: number; rgb: Buffer } {
  const chunks = readPng(png);
  const ihdr = chunks[0] as Chunk;
  const width = ihdr.data.readUInt32BE(0);
  const height = ihdr.data.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  expect(raw.length).toBe(height * (width * 3 + 1));
  const rows = Array.from({ length: height }, (_, y) => {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    return raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1));
  });
  return { width, height, rgb: Buffer.concat(rows) };
}

describe("the fake ComfyUI's pictures", () => {
  it('are valid PNGs: signature, IHDR first, IEND last, every CRC right', () => {
    const png = drawPicture('a lighthouse at dusk', 5, 96, 64, { prompt: '{"6":{}}' });
    const chunks = readPng(png);
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'tEXt', 'IDAT', 'IEND']);
    const ihdr = chunks[0]?.data as Buffer;
    expect({
      width: ihdr.readUInt32BE(0),
      height: ihdr.readUInt32BE(4),
      depth: ihdr[8],
      colour: ihdr[9],
      rest: [...ihdr.subarray(10)],
    }).toEqual({ width: 96, height: 64, depth: 8, colour: 2, rest: [0, 0, 0] });
    expect(chunks[1]?.data.toString('latin1')).toBe('prompt\0{"6":{}}');
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
  });

  it('differ by prompt and by seed, and repeat for the same inputs', () => {
    const fox = pixels(drawPicture('a red fox', 1, 64, 64));
    const whale = pixels(drawPicture('a blue whale', 1, 64, 64));
    const fox2 = pixels(drawPicture('a red fox', 2, 64, 64));
    const differing = (a: Buffer, b: Buffer) =>
      a.reduce((n, byte, i) => n + (byte === b[i] ? 0 : 1), 0) / a.length;
    expect(differing(fox.rgb, whale.rgb)).toBeGreaterThan(0.5);
    expect(differing(fox.rgb, fox2.rgb)).toBeGreaterThan(0.01);
    expect(drawPicture('a red fox', 1, 64, 64).equals(drawPicture('a red fox', 1, 64, 64))).toBe(true);
    // More than a flat fill: a gradient and shapes.
    expect(
      new Set(Array.from({ length: 64 * 64 }, (_, i) => fox.rgb.readUIntBE(i * 3, 3))).size,
    ).toBeGreaterThan(8);
  });
});
