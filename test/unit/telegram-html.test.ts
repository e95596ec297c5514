import { describe, expect, it } from 'vitest';
import {
  escapeHtml,
  htmlToPlainText,
  parseTelegramHtml,
  TelegramHtmlError,
  telegramTextLength,
  tokenizeTelegramHtml,
  validateTelegramHtml,
} from '../../src/integrations/telegram/format/telegram-html.js';

function parseError(html: string): string {
  try {
    parseTelegramHtml(html);
  } catch (err) {
    expect(err).toBeInstanceOf(TelegramHtmlError);
    return (err as TelegramHtmlError).description;
  }
  throw new Error(`expected ${JSON.stringify(html)} to be refused`);
}

const P = "Bad Request: can't parse entities: ";

describe('parseTelegramHtml: entities', () => {
  it('maps every tag alias to its Bot API entity type', () => {
    const cases: [string, string][] = [
      ['b', 'bold'],
      ['strong', 'bold'],
      ['i', 'italic'],
      ['em', 'italic'],
      ['u', 'underline'],
      ['ins', 'underline'],
      ['s', 'strikethrough'],
      ['strike', 'strikethrough'],
      ['del', 'strikethrough'],
      ['tg-spoiler', 'spoiler'],
      ['code', 'code'],
      ['pre', 'pre'],
      ['blockquote', 'blockquote'],
    ];
    for (const [tag, type] of cases) {
      expect(parseTelegramHtml(`x <${tag}>yz</${tag}>`)).toEqual({
        text: 'x yz',
        entities: [{ type, offset: 2, length: 2 }],
      });
    }
    expect(parseTelegramHtml('<span class="tg-spoiler">s</span>').entities).toEqual([
      { type: 'spoiler', offset: 0, length: 1 },
    ]);
    expect(parseTelegramHtml('<blockquote expandable>q</blockquote>').entities).toEqual([
      { type: 'expandable_blockquote', offset: 0, length: 1 },
    ]);
  });

  it('counts offsets and lengths in UTF-16 code units', () => {
    expect(parseTelegramHtml('🏟 🏟<i>🏟 &lt🏟</i>')).toEqual({
      text: '🏟 🏟🏟 <🏟',
      entities: [{ type: 'italic', offset: 5, length: 6 }],
    });
    expect(parseTelegramHtml('➡️ ➡️<b>➡️ ➡️</b>').entities).toEqual([{ type: 'bold', offset: 5, length: 5 }]);
  });

  it('nests formatting and sorts entities like Telegram (offset, then longer first)', () => {
    const { text, entities } = parseTelegramHtml('<b>bold <i>both <u>all</u></i></b> <s>x</s>');
    expect(text).toBe('bold both all x');
    expect(entities).toEqual([
      { type: 'bold', offset: 0, length: 13 },
      { type: 'italic', offset: 5, length: 8 },
      { type: 'underline', offset: 10, length: 3 },
      { type: 'strikethrough', offset: 14, length: 1 },
    ]);
  });

  it('turns <pre><code class="language-x"> into one pre entity with the language', () => {
    const code = '<pre><code class="language-typescript">const a = 1 &lt; 2;</code></pre>';
    expect(parseTelegramHtml(code)).toEqual({
      text: 'const a = 1 < 2;',
      entities: [{ type: 'pre', offset: 0, length: 16, language: 'typescript' }],
    });
    expect(parseTelegramHtml('<code class="language-py"><pre>x</pre></code>').entities).toEqual([
      { type: 'pre', offset: 0, length: 1, language: 'py' },
    ]);
    expect(parseTelegramHtml('<pre><code>x</code></pre>').entities).toEqual([
      { type: 'pre', offset: 0, length: 1 },
    ]);
    expect(parseTelegramHtml('<pre>a <b>b</b></pre>').entities).toEqual([
      { type: 'pre', offset: 0, length: 3 },
    ]);
  });

  it('reads links: quoted, unquoted, entities in the URL, text as URL, unsupported schemes dropped', () => {
    expect(parseTelegramHtml('<a href="https://ex.com/?a=1&amp;b=&quot;2&quot;">l</a>').entities).toEqual([
      { type: 'text_link', offset: 0, length: 1, url: 'https://ex.com/?a=1&b="2"' },
    ]);
    expect(parseTelegramHtml("<a   href=  'telegram.org?&lt;'   > </a>").entities).toEqual([
      { type: 'text_link', offset: 0, length: 1, url: 'http://telegram.org/?<' },
    ]);
    expect(parseTelegramHtml('<a href=telegram.org>t</a>').entities[0]).toMatchObject({
      url: 'http://telegram.org/',
    });
    expect(parseTelegramHtml('<a>telegram.org</a>').entities).toEqual([
      { type: 'text_link', offset: 0, length: 12, url: 'http://telegram.org/' },
    ]);
    expect(parseTelegramHtml('<a>telegram.org </a>').entities).toEqual([]);
    expect(parseTelegramHtml('<a href="javascript:alert(1)">x</a>')).toEqual({ text: 'x', entities: [] });
    expect(parseTelegramHtml('<a href="tg://user?id=1">x</a>').entities[0]).toMatchObject({
      url: 'tg://user?id=1',
    });
    expect(parseTelegramHtml('<a href="mailto:a@b.c">x</a>').entities[0]).toMatchObject({
      url: 'mailto:a@b.c',
    });
  });

  it('reads custom emoji and refuses a bad emoji id', () => {
    expect(parseTelegramHtml('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>').entities).toEqual([
      { type: 'custom_emoji', offset: 0, length: 2, custom_emoji_id: '5368324170671202286' },
    ]);
    expect(parseError('<tg-emoji emoji-id="abc">👍</tg-emoji>')).toBe(
      `${P}Invalid custom emoji identifier specified`,
    );
    expect(parseError('<tg-emoji>👍</tg-emoji>')).toBe(`${P}Invalid custom emoji identifier specified`);
  });

  it('decodes only the four named entities and numeric ones; the rest stays literal', () => {
    expect(parseTelegramHtml('&lt;&gt;&amp;&quot;&laquo;&raquo;&#12345678;').text).toBe(
      '<>&"&laquo;&raquo;&#12345678;',
    );
    expect(parseTelegramHtml('&#128512; &#x1F600; &#65 &amp &nbsp; Tom & Jerry &#0; &#;').text).toBe(
      '😀 😀 A & &nbsp; Tom & Jerry &#0; &#;',
    );
    expect(parseTelegramHtml('&LT; &#X41;').text).toBe('&LT; &#X41;');
  });

  it('accepts upper-case tags, spaces before > and the empty end tag </>', () => {
    expect(parseTelegramHtml('<B>x</b>').entities).toEqual([{ type: 'bold', offset: 0, length: 1 }]);
    expect(parseTelegramHtml('<i>a</i   >').entities).toEqual([{ type: 'italic', offset: 0, length: 1 }]);
    expect(parseTelegramHtml('<i>a</>').entities).toEqual([{ type: 'italic', offset: 0, length: 1 }]);
    expect(parseTelegramHtml('<b></b>x')).toEqual({ text: 'x', entities: [] });
  });
});

describe('parseTelegramHtml: refusals', () => {
  it.each([
    ['<foo>', 'Unsupported start tag "foo" at byte offset 0'],
    ['<p>text</p>', 'Unsupported start tag "p" at byte offset 0'],
    ['a < b', 'Unsupported start tag "" at byte offset 2'],
    ['x <b', 'Unclosed start tag at byte offset 2'],
    ['<b>x', 'Can\'t find end tag corresponding to start tag "b"'],
    ['<b><i>x</i>', 'Can\'t find end tag corresponding to start tag "b"'],
    ['<b>x</i>', 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'],
    ['</b>', 'Unexpected end tag at byte offset 0'],
    ['<a href', 'Unclosed start tag "a" at byte offset 0'],
    ['<a href=https://x>y</a>', 'Unexpected end of name token at byte offset 8'],
    ['<span>s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'],
    ['<br/>', 'Unsupported start tag "br/" at byte offset 0'],
    ['🏟 🏟&lt;<abacaba', 'Unclosed start tag at byte offset 13'],
    ['🏟 🏟&lt;<abac aba>', 'Unsupported start tag "abac" at byte offset 13'],
    ['🏟 🏟&lt;<i   =aba>', 'Empty attribute name in the tag "i" at byte offset 13'],
    ['🏟 🏟&lt;<i    aba  =  ', 'Unclosed start tag "i" at byte offset 13'],
    ['🏟 🏟&lt;<i    aba  =  190azAz-.,', 'Unexpected end of name token at byte offset 27'],
    ['🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', 'Unclosed start tag at byte offset 13'],
    ['🏟 🏟&lt;</', 'Unexpected end tag at byte offset 13'],
    ['🏟 🏟&lt;<b></b></', 'Unexpected end tag at byte offset 20'],
    ['🏟 🏟&lt;<i>a</i   ', 'Unclosed end tag at byte offset 17'],
    ['🏟 🏟&lt;<i>a</em   >', 'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"'],
    [
      '&#xDFDF;',
      'Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units',
    ],
  ])('%j', (html, reason) => {
    expect(parseError(html)).toBe(P + reason);
  });

  it('refuses lone surrogates and null bytes', () => {
    expect(parseError('a\ud83d')).toBe('Bad Request: strings must be encoded in UTF-8');
    expect(parseError('a\0b')).toBe(`${P}Text must not contain null bytes`);
  });

  it('is a TelegramHtmlError with name, description and reason', () => {
    try {
      parseTelegramHtml('<foo>');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TelegramHtmlError);
      const e = err as TelegramHtmlError;
      expect(e.name).toBe('TelegramHtmlError');
      expect(e.message).toBe(e.description);
      expect(e.reason).toBe('Unsupported start tag "foo" at byte offset 0');
    }
  });
});

describe('helpers', () => {
  it('validateTelegramHtml reports the length or the Bot API error', () => {
    expect(validateTelegramHtml('<b>hi</b> 😀')).toEqual({ ok: true, length: 5 });
    expect(validateTelegramHtml('<b>hi')).toEqual({
      ok: false,
      error: `${P}Can't find end tag corresponding to start tag "b"`,
    });
    expect(validateTelegramHtml('<b> </b>\n')).toEqual({
      ok: false,
      error: 'Bad Request: message text is empty',
    });
    expect(validateTelegramHtml('abcd', { maxLength: 3 })).toEqual({
      ok: false,
      error: 'Bad Request: message is too long',
    });
  });

  it('telegramTextLength counts UTF-16 units of the parsed text', () => {
    expect(telegramTextLength('<b>a&amp;b</b> 😀')).toBe(6);
    expect(() => telegramTextLength('<x>')).toThrow(TelegramHtmlError);
  });

  it('htmlToPlainText strips valid and invalid HTML', () => {
    expect(htmlToPlainText('<b>a &lt; b</b> &amp; <a href="https://x.y">c</a>')).toBe('a < b & c');
    expect(htmlToPlainText('<p>para</p> <b>unclosed &#x1F600; &quot;q&quot; 2 < 3')).toBe(
      'para unclosed 😀 "q" 2 < 3',
    );
  });

  it('escapeHtml round-trips any text through the parser', () => {
    const samples = ['<b>&amp;</b>', 'a < b > c & "d"', '&#128512;', '&lt', '🏟 \n\t x', '<', '&'];
    for (const s of samples) expect(parseTelegramHtml(escapeHtml(s))).toEqual({ text: s, entities: [] });
  });

  it('tokenizeTelegramHtml gives tokens whose raw parts rebuild the input', () => {
    const html = '<b>a&amp;😀</b> <a href="https://x.y/?q=1&amp;r=2">l</a>&#65;';
    const tokens = tokenizeTelegramHtml(html);
    expect(tokens.map((t) => t.raw).join('')).toBe(html);
    expect(tokens.filter((t) => t.kind === 'text').map((t) => t.text)).toEqual([
      'a',
      '&',
      '😀',
      ' ',
      'l',
      'A',
    ]);
  });
});

describe('parseTelegramHtml: fuzz', () => {
  it('either parses or throws TelegramHtmlError, and escaped text always round-trips', () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const atoms = [
      '<',
      '>',
      '&',
      ';',
      '#',
      'x',
      '/',
      '"',
      "'",
      '=',
      ' ',
      'b',
      'a',
      'i',
      'pre',
      'code',
      'amp',
      'lt',
    ];
    const extra = ['<b>', '</b>', '&amp;', '😀', 'é', '\n', '<a href="', '">', '</a>', '<code>', '</code>'];
    for (let n = 0; n < 3000; n++) {
      let s = '';
      const len = Math.floor(rand() * 20);
      for (let k = 0; k < len; k++) {
        const pool = rand() < 0.7 ? atoms : extra;
        s += pool[Math.floor(rand() * pool.length)];
      }
      try {
        const { text, entities } = parseTelegramHtml(s);
        for (const e of entities) {
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.length).toBeGreaterThan(0);
          expect(e.offset + e.length).toBeLessThanOrEqual(text.length);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(TelegramHtmlError);
      }
      expect(parseTelegramHtml(escapeHtml(s)).text).toBe(s);
    }
  });
});
