import { describe, expect, it } from 'vitest';
import { markdownToTelegramHtml } from '../../src/integrations/telegram/format/markdown.js';
import { splitPlainText, splitTelegramHtml } from '../../src/integrations/telegram/format/split.js';
import {
  parseTelegramHtml,
  TelegramHtmlError,
} from '../../src/integrations/telegram/format/telegram-html.js';

/**
 * The original text must be the chunks' texts in order with only whitespace between them (the
 * whitespace dropped at the cuts).
 */
function expectSameText(original: string, chunks: string[]): void {
  let pos = 0;
  for (const chunk of chunks) {
    const gap = original.slice(pos, original.indexOf(chunk, pos));
    expect(
      original.indexOf(chunk, pos),
      `chunk not found in order: ${JSON.stringify(chunk.slice(0, 40))}`,
    ).toBeGreaterThanOrEqual(pos);
    expect(gap.trim(), 'only whitespace may be dropped between chunks').toBe('');
    pos += gap.length + chunk.length;
  }
  expect(original.slice(pos).trim()).toBe('');
}

function expectValidChunks(html: string, limit: number): string[] {
  const chunks = splitTelegramHtml(html, limit);
  const texts = chunks.map((chunk) => {
    const { text } = parseTelegramHtml(chunk);
    expect(text.length).toBeLessThanOrEqual(limit);
    expect(text.trim()).not.toBe('');
    return text;
  });
  expectSameText(parseTelegramHtml(html).text, texts);
  return chunks;
}

function longAnswer(): string {
  const parts: string[] = ['# A long answer', ''];
  for (let s = 1; s <= 12; s++) {
    parts.push(`## Section ${s}`, '');
    parts.push(
      `Paragraph ${s} with **bold text**, _italic_, \`inline < code\`, a [link](https://example.com/?s=${s}&x="y") and ` +
        'some more words to make it longer. '.repeat(8),
      '',
    );
    for (let i = 1; i <= 6; i++)
      parts.push(`${i}. Item ${i} of section ${s}: **important** 😀 detail & more`);
    parts.push('', '```ts');
    for (let l = 0; l < 12; l++)
      parts.push(`const value${l} = compute(${l}) < limit && ok; // line ${l} of block ${s}`);
    parts.push('```', '');
  }
  return parts.join('\n');
}

describe('splitTelegramHtml', () => {
  it('returns short HTML unchanged', () => {
    expect(splitTelegramHtml('<b>hi</b> &amp; bye')).toEqual(['<b>hi</b> &amp; bye']);
  });

  it('splits a 10,000+ character answer into valid chunks of at most 4096, keeping everything in order', () => {
    const html = markdownToTelegramHtml(longAnswer());
    const text = parseTelegramHtml(html).text;
    expect(text.length).toBeGreaterThan(10_000);
    const chunks = expectValidChunks(html, 4096);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    // Code blocks cut in the middle are reopened with their language.
    for (const chunk of chunks) {
      for (const e of parseTelegramHtml(chunk).entities) if (e.type === 'pre') expect(e.language).toBe('ts');
    }
  });

  it('prefers paragraph breaks, then line breaks, then spaces', () => {
    const para = `${'a'.repeat(60)}\n${'b'.repeat(20)}\n\n${'c'.repeat(30)}`;
    expect(splitTelegramHtml(para, 100)).toEqual([`${'a'.repeat(60)}\n${'b'.repeat(20)}`, 'c'.repeat(30)]);
    const lines = `${'a'.repeat(50)} ${'b'.repeat(20)}\n${'c'.repeat(50)}`;
    expect(splitTelegramHtml(lines, 100)).toEqual([`${'a'.repeat(50)} ${'b'.repeat(20)}`, 'c'.repeat(50)]);
    const words = `${'a '.repeat(40)}${'b'.repeat(40)}`;
    expect(splitTelegramHtml(words, 90)).toEqual([`${'a '.repeat(40).trimEnd()}`, 'b'.repeat(40)]);
  });

  it('closes tags at a cut and reopens them with the same attributes', () => {
    const html = `<b>bold <a href="https://ex.com/?a=1&amp;b=&quot;2&quot;">${'word '.repeat(30)}</a> tail</b>`;
    const chunks = expectValidChunks(html, 64);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks.slice(0, -1)) {
      const { entities, text } = parseTelegramHtml(chunk);
      expect(entities.find((e) => e.type === 'bold')).toEqual({
        type: 'bold',
        offset: 0,
        length: text.length,
      });
      expect(entities.find((e) => e.type === 'text_link')).toMatchObject({
        url: 'https://ex.com/?a=1&b="2"',
      });
    }
    const pre = `<pre><code class="language-python">${'print(1)\n'.repeat(30)}</code></pre>`;
    for (const chunk of expectValidChunks(pre, 50)) {
      expect(chunk.startsWith('<pre><code class="language-python">')).toBe(true);
      expect(parseTelegramHtml(chunk).entities[0]).toMatchObject({ type: 'pre', language: 'python' });
    }
    const quote = `<blockquote expandable>${'quoted words '.repeat(20)}</blockquote>`;
    for (const chunk of expectValidChunks(quote, 40))
      expect(chunk.startsWith('<blockquote expandable>')).toBe(true);
  });

  it('never cuts inside an entity, a tag or a surrogate pair (hard cuts)', () => {
    const html = `<i>${'&amp;&lt;😀x'.repeat(500)}</i>`;
    for (const limit of [2, 3, 4, 5, 7, 100, 4096]) expectValidChunks(html, limit);
    const emoji = '😀'.repeat(3000);
    const chunks = expectValidChunks(emoji, 4096);
    expect(chunks.map((c) => c.length)).toEqual([4096, 1904]);
    const shifted = `x${'😀'.repeat(3000)}`;
    expect(expectValidChunks(shifted, 4096).map((c) => c.length)).toEqual([4095, 1906]);
  });

  it('fuzz: random valid HTML always splits into valid chunks within the limit', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const words = [
      'word',
      '😀',
      '&amp;',
      '&lt;',
      'é',
      ' ',
      ' ',
      '\n',
      '\n\n',
      'x',
      '🏟🏟',
      'long-token-without-spaces',
    ];
    const tags = [
      'b',
      'i',
      'u',
      's',
      'code',
      'tg-spoiler',
      'a href="https://a.b/?q=1&amp;r=2"',
      'blockquote',
    ];
    for (let n = 0; n < 300; n++) {
      let html = '';
      const stack: string[] = [];
      const len = 20 + Math.floor(rand() * 200);
      for (let k = 0; k < len; k++) {
        const r = rand();
        if (r < 0.1 && stack.length < 3) {
          const tag = tags[Math.floor(rand() * tags.length)]!;
          html += `<${tag}>`;
          stack.push(tag.split(' ')[0]!);
        } else if (r < 0.18 && stack.length > 0) {
          html += `</${stack.pop()}>`;
        } else {
          html += words[Math.floor(rand() * words.length)];
        }
      }
      while (stack.length > 0) html += `</${stack.pop()}>`;
      if (parseTelegramHtml(html).text.trim() === '') continue;
      expectValidChunks(html, 2 + Math.floor(rand() * 60));
    }
  });

  it('refuses invalid HTML and a limit below 2', () => {
    expect(() => splitTelegramHtml('<b>x')).toThrow(TelegramHtmlError);
    expect(() => splitTelegramHtml('x', 1)).toThrow(RangeError);
  });
});

describe('splitPlainText', () => {
  it('splits at boundaries without breaking surrogate pairs', () => {
    const text = `${'line of text\n'.repeat(500)}\n\n${'😀'.repeat(3000)}`;
    const chunks = splitPlainText(text, 4096);
    for (const chunk of chunks) {
      expect(chunk.length).toBeLessThanOrEqual(4096);
      expect(chunk).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    }
    expectSameText(text, chunks);
    expect(splitPlainText('short')).toEqual(['short']);
    expect(splitPlainText('   ')).toEqual([]);
  });
});
