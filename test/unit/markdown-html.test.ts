import { describe, expect, it } from 'vitest';
import { markdownToTelegramHtml as md } from '../../src/integrations/telegram/format/markdown.js';
import { parseTelegramHtml } from '../../src/integrations/telegram/format/telegram-html.js';

/** Converts and asserts Telegram would accept the result. */
function render(markdown: string): string {
  const html = md(markdown);
  expect(
    () => parseTelegramHtml(html),
    `${JSON.stringify(markdown)} → ${JSON.stringify(html)}`,
  ).not.toThrow();
  return html;
}

describe('markdownToTelegramHtml: inline', () => {
  it('renders emphasis, strike, spoiler and code', () => {
    expect(render('**bold** __bold__ *it* _it_ ~~gone~~ ||secret|| `a<b>`')).toBe(
      '<b>bold</b> <b>bold</b> <i>it</i> <i>it</i> <s>gone</s> <tg-spoiler>secret</tg-spoiler> <code>a&lt;b&gt;</code>',
    );
  });

  it('nests formatting', () => {
    expect(render('***both***')).toBe('<i><b>both</b></i>');
    expect(render('**bold _and italic_ and `code`**')).toBe(
      '<b>bold <i>and italic</i> and <code>code</code></b>',
    );
    expect(render('*a **b** c*')).toBe('<i>a <b>b</b> c</i>');
  });

  it('leaves unbalanced and non-flanking markers literal', () => {
    expect(render('2 * 3 = 6')).toBe('2 * 3 = 6');
    expect(render('a lone * star')).toBe('a lone * star');
    expect(render('snake_case_names and __init__.py')).toBe('snake_case_names and <b>init</b>.py');
    expect(render('**unclosed')).toBe('**unclosed');
    expect(render('*a _b* c_')).toBe('<i>a _b</i> c_');
    expect(render('x ** y ~~ z || w')).toBe('x ** y ~~ z || w');
    expect(render('~5 minutes, a|b, ~~~')).toBe('~5 minutes, a|b, ~~~');
    expect(render('`unclosed code')).toBe('`unclosed code');
    expect(render('\\*escaped\\* \\_too\\_')).toBe('*escaped* _too_');
  });

  it('puts no markup inside code', () => {
    expect(render('`**not bold** <i>`')).toBe('<code>**not bold** &lt;i&gt;</code>');
    expect(render('```\n**x** [l](https://a.b)\n```')).toBe('<pre>**x** [l](https://a.b)</pre>');
    expect(render('``a ` b``')).toBe('<code>a ` b</code>');
  });

  it('escapes <, > and & everywhere', () => {
    expect(render('A & B <tag> &amp; &#65;')).toBe('A &amp; B &lt;tag&gt; &amp;amp; &amp;#65;');
    expect(parseTelegramHtml(render('if a < b && c > d')).text).toBe('if a < b && c > d');
  });

  it('renders links with allowed schemes and keeps the text of others', () => {
    expect(render('[site](https://ex.com/?a=1&b="2")')).toBe(
      '<a href="https://ex.com/?a=1&amp;b=&quot;2&quot;">site</a>',
    );
    expect(parseTelegramHtml(render('[site](https://ex.com/?a=1&b="2")')).entities).toEqual([
      { type: 'text_link', offset: 0, length: 4, url: 'https://ex.com/?a=1&b="2"' },
    ]);
    expect(render('[**bold** link](https://a.b/c_(d)_e "title")')).toBe(
      '<a href="https://a.b/c_(d)_e"><b>bold</b> link</a>',
    );
    expect(render('[x](javascript:alert(1)) [y](/relative)')).toBe('x y');
    expect(render('<https://a.b/x>')).toBe('<a href="https://a.b/x">https://a.b/x</a>');
    expect(render('[tg](tg://resolve?domain=x) [mail](mailto:a@b.c)')).toBe(
      '<a href="tg://resolve?domain=x">tg</a> <a href="mailto:a@b.c">mail</a>',
    );
    expect(render('[unfinished](https://a.b')).toBe('[unfinished](https://a.b');
  });

  it('keeps bare URLs intact', () => {
    expect(render('see https://ex.com/a_b_c_d and *x*.')).toBe('see https://ex.com/a_b_c_d and <i>x</i>.');
    expect(render('**https://ex.com/x**')).toBe('<b>https://ex.com/x</b>');
  });

  it('handles emoji and surrogates next to markers', () => {
    expect(render('😀**😀**😀 _🏟_')).toBe('😀<b>😀</b>😀 <i>🏟</i>');
    expect(parseTelegramHtml(render('lone \ud83d surrogate')).text).toBe('lone \ufffd surrogate');
  });
});

describe('markdownToTelegramHtml: blocks', () => {
  it('renders fenced code blocks with a language', () => {
    expect(render('Intro:\n```ts\nconst a = 1 < 2 && 3;\n  indented\n```\nAfter')).toBe(
      'Intro:\n<pre><code class="language-ts">const a = 1 &lt; 2 &amp;&amp; 3;\n  indented</code></pre>\nAfter',
    );
    expect(parseTelegramHtml(render('```python\nprint(1)\n```')).entities).toEqual([
      { type: 'pre', offset: 0, length: 8, language: 'python' },
    ]);
    expect(render('~~~\nx\n~~~')).toBe('<pre>x</pre>');
    expect(render('````md\n```\ninner\n```\n````')).toBe(
      '<pre><code class="language-md">```\ninner\n```</code></pre>',
    );
  });

  it('renders a code block indented under a list item', () => {
    expect(render('1. Run:\n   ```sh\n   npm test\n   ```')).toBe(
      '1. Run:\n<pre><code class="language-sh">npm test</code></pre>',
    );
  });

  it('renders headings as bold lines, and rules', () => {
    expect(render('# Title\n## Sub *it*\ntext\n\n---\n***')).toBe(
      '<b>Title</b>\n<b>Sub <i>it</i></b>\ntext\n\n──────────\n──────────',
    );
  });

  it('renders bullet, nested, numbered and task lists', () => {
    expect(render('- a\n* b\n  - c\n    + d\n1. one\n2) two\n- [ ] todo\n- [x] done')).toBe(
      '• a\n• b\n   ◦ c\n      ▪ d\n1. one\n2. two\n☐ todo\n☑ done',
    );
  });

  it('renders quotes (flattening nested ones)', () => {
    expect(render('> quote **b**\n> > nested\n\nafter')).toBe(
      '<blockquote>quote <b>b</b>\nnested</blockquote>\n\nafter',
    );
    expect(render('> ```js\n> x\n> ```')).toBe(
      '<blockquote><pre><code class="language-js">x</code></pre></blockquote>',
    );
  });

  it('renders tables as aligned preformatted text', () => {
    const html = render('| Name | Qty |\n|:-----|----:|\n| **apple** | 3 |\n| kiwi `x` | 12 |\nafter');
    expect(html).toBe('<pre>Name   | Qty\n-------+----\napple  |   3\nkiwi x |  12</pre>\nafter');
  });

  it('collapses runs of blank lines and trims the ends', () => {
    expect(render('\n\na\n\n\n\nb\n\n')).toBe('a\n\nb');
  });
});

describe('markdownToTelegramHtml: CommonMark details', () => {
  it("keeps blank lines between list items and indents an item's further lines", () => {
    expect(render('- a\n\n- b\n  more\n\n  second para\n- c')).toBe(
      '• a\n\n• b\n   more\n\n   second para\n• c',
    );
    expect(render('1. a\n2. b\n   - n\n\n3. c')).toBe('1. a\n2. b\n   ◦ n\n\n3. c');
  });

  it('ends a table at a line without a pipe, and reads <br> as a line break', () => {
    expect(render('| a | b |\n|---|---|\n| x<br>y | [l](https://x.y) |\n| 1 |\nafter')).toBe(
      '<pre>a   | b\n----+--\nx y | l\n1   |</pre>\nafter',
    );
    expect(render('line one<br>line two<br/>three')).toBe('line one\nline two\nthree');
  });

  it('shows raw HTML as text, inline and as a block', () => {
    expect(render('<b>x</b> <script>\n\n<div>\n*a*\n</div>')).toBe(
      '&lt;b&gt;x&lt;/b&gt; &lt;script&gt;\n\n&lt;div&gt;\n<i>a</i>\n&lt;/div&gt;',
    );
  });

  it('renders images as links to them, reference links, and never a link inside a link', () => {
    expect(
      render('![alt *x*](https://i.png) ![](https://i.png) [![logo](https://i.png)](https://site.com)'),
    ).toBe(
      '<a href="https://i.png">alt x</a> <a href="https://i.png">image</a> <a href="https://site.com">logo</a>',
    );
    expect(render('[docs][1]\n\n[1]: https://ex.com')).toBe('<a href="https://ex.com">docs</a>');
    expect(render('[](https://e.x) [a](<https://x y>)')).toBe('<a href="https://e.x">https://e.x</a> a');
  });

  it('reads --- under text as a rule and an indented line as text, not code', () => {
    expect(render('Text\n---\nmore\n\n    indented line')).toBe('Text\n──────────\nmore\n\nindented line');
  });

  it('pairs spoilers only as || and task boxes only in bullet items with text', () => {
    expect(render('||a **b**|| ||| x |||')).toBe('<tg-spoiler>a <b>b</b></tg-spoiler> ||| x |||');
    expect(render('- [ ] \n- [x]\n1. [ ] ordered')).toBe('• [ ]\n• [x]\n1. [ ] ordered');
  });
});

describe('markdownToTelegramHtml: streaming prefixes', () => {
  it('renders an unclosed fence as a code block so far', () => {
    expect(render('Here:\n```py\ndef f():\n    return 1 <')).toBe(
      'Here:\n<pre><code class="language-py">def f():\n    return 1 &lt;</code></pre>',
    );
    expect(render('```')).toBe('<pre></pre>');
  });

  it('keeps every prefix of a realistic answer valid', () => {
    const answer = [
      '# Plan',
      '',
      'Here is **the _answer_** with `code`, a [link](https://ex.com/?q=a&b=c) and ||a secret||.',
      '',
      '1. First ~~step~~',
      '2. Second: 2 * 3 = 6',
      '',
      '> Quote with *emphasis*',
      '',
      '| a | b |',
      '|---|---|',
      '| 1 | 2 |',
      '',
      '```ts',
      'const x = a < b && c > d; // **no**',
      '```',
      'Done 😀.',
    ].join('\n');
    for (let i = 0; i <= answer.length; i++) render(answer.slice(0, i));
  });
});

describe('markdownToTelegramHtml: fuzz', () => {
  it('always produces HTML Telegram accepts', () => {
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const atoms = [
      '*',
      '**',
      '***',
      '_',
      '__',
      '~~',
      '~',
      '||',
      '|',
      '`',
      '```',
      '[',
      ']',
      '(',
      ')',
      '!',
      '\\',
      '#',
      '# ',
      '>',
      '> ',
      '- ',
      '1. ',
      '\n',
      '\n\n',
      ' ',
      '  ',
      '<',
      '>',
      '&',
      '&amp;',
      '&#x1F600;',
      '"',
      "'",
      '---',
      '|---|',
      'https://a.b/c_d',
      '](https://x.y)',
      '](javascript:x)',
      'a',
      'word',
      'snake_case',
      '2 * 3',
      '😀',
      '🏟',
      'é',
      '\ud83d',
      '\ude00',
      '\t',
      '<b>',
      '</i>',
      '<br>',
      'ts',
      '\0',
      '\r\n',
    ] as const;
    for (let n = 0; n < 5000; n++) {
      let s = '';
      const len = 1 + Math.floor(rand() * 30);
      for (let k = 0; k < len; k++) s += pick(atoms);
      const html = md(s);
      try {
        parseTelegramHtml(html);
      } catch (err) {
        throw new Error(`invalid output for ${JSON.stringify(s)}: ${JSON.stringify(html)}`, { cause: err });
      }
    }
  });
});
