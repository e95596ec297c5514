import { describe, expect, it } from 'vitest';
import { markdownToTelegramHtml } from '../../src/integrations/telegram/format/markdown.js';
import { tokenizeTelegramHtml } from '../../src/integrations/telegram/format/telegram-html.js';

/**
 * Answers as models write them. None uses `<br>` or `<https://…>` autolinks, the only places where a
 * `<` the model typed is markup, so every `<` of the input must reach the reader as text.
 */
const ANSWERS: Record<string, string> = {
  'code with comparisons': [
    'Sure! Here is a function that checks the range:',
    '',
    '```python',
    'def in_range(x, lo, hi):',
    '    """Return True if lo <= x < hi."""',
    '    return lo <= x and x < hi  # **not bold**',
    '```',
    '',
    'And the same in TypeScript, with `a < b && c > d`:',
    '',
    '```ts',
    'const inRange = (x: number) => lo <= x && x < hi; // <T>',
    '```',
  ].join('\n'),
  'nested lists': [
    '## Steps',
    '',
    '1. Install the tools:',
    '    - Node.js **20** or newer',
    '    - `npm` (comes with Node)',
    '        * check with `node -v`',
    '2. Clone the repo',
    '',
    '   Then run the set-up script.',
    '3. Start it:',
    '   ```sh',
    '   npm start',
    '   ```',
    '- a bullet after the numbers',
    '+ another list marker',
  ].join('\n'),
  links: [
    'See the [official docs](https://nodejs.org/api/fs.html#fs_readfile "fs docs") and',
    '[this **great** guide](https://example.com/guide_(v2)_final?a=1&b=2).',
    'Bare URLs stay as they are: https://github.com/some_org/some_repo/blob/main/read_me.md.',
    'A relative link [here](./local) and an image ![diagram](https://example.com/d.png).',
    'Email me at [mail](mailto:someone@example.com) or see [docs][ref].',
    '',
    '[ref]: https://example.com/reference',
  ].join('\n'),
  'bold and italic mixes': [
    '**Important:** the *quick* brown fox jumps over the ***lazy*** dog.',
    'Variables like snake_case_name and __init__ or __dunder__ methods, `__slots__` too.',
    'Math: 2 * 3 * 4 = 24, and a*b*c is a product; **bold with _italic_ inside** works.',
    '_Underscore italic_ and __underscore bold__, **unclosed bold at the end',
  ].join('\n'),
  table: [
    'Here is a comparison:',
    '',
    '| Language | Typing | Speed | Notes |',
    '|:---------|:------:|------:|-------|',
    '| **Python** | dynamic | 🐢 slow | `list[int]` hints, a \\| b |',
    '| Rust | static | 🚀 fast | `Vec<u8>` & lifetimes |',
    '| TypeScript | static | ok | [site](https://www.typescriptlang.org) |',
    'The table shows that x < y.',
  ].join('\n'),
  quotes: [
    '> **Note:** quotes can hold *formatting*',
    '> > and nested quotes',
    '> ```js',
    '> if (a < b) return;',
    '> ```',
    '',
    'Back to normal text.',
  ].join('\n'),
  'raw html in prose': [
    'Use <div class="box"> for a container and <script>alert("x")</script> is escaped.',
    'Tags like <b>this</b> and <i>that</i> are shown, not applied: <a href="https://x.y">x</a>.',
    '',
    '```html',
    '<!DOCTYPE html>',
    '<p>Hello &amp; welcome</p>',
    '```',
  ].join('\n'),
  'math and symbols': [
    'If a < b and b < c, then a < c. Also 5 > 3 & 2 < 4.',
    'The formula is x_1 + x_2 ~ 3 and y = a * x^2 + b * x + c.',
    'Entities stay as typed: &lt; &amp; &#60; &copy;',
    'Escapes: \\*not italic\\*, \\_not either\\_, \\<not a tag\\>.',
  ].join('\n'),
  checklist: [
    '# Release checklist',
    '',
    '- [x] Write the changelog',
    '- [ ] Tag the release',
    '- [X] Run the tests',
    '',
    '---',
    '',
    '### Notes',
    'Remember to bump the version & push.',
  ].join('\n'),
  'russian answer': [
    '**Конечно!** Вот краткий ответ 😊',
    '',
    '1. Первый шаг — установите *пакет*:',
    '   ```bash',
    '   npm i vitte',
    '   ```',
    '2. Второй шаг: проверьте, что a < b.',
    '',
    '> Цитата с __жирным__ текстом',
    '',
    '| Имя | Значение |',
    '|-----|----------|',
    '| ключ | 42 |',
  ].join('\n'),
  'spoilers and strikethrough': [
    'The answer is ||42|| (spoiler), ~~not 41~~.',
    'Pipes in text: a || b, a | b, and |||triple|||.',
    'Tildes: ~5 minutes, ~~~not a fence here~~~.',
  ].join('\n'),
  'long mixed answer': [
    '# Summary',
    'A paragraph with a soft',
    'line break and a hard  ',
    'break.',
    '',
    '***',
    '',
    '~~~yaml',
    'key: <value>',
    '~~~',
    '',
    '## Details',
    '',
    '* Item with `code` and a [link](https://example.com/a_b)',
    '* Item with 😀 emoji **bold 😀**',
    '',
    'Final words: if (x < 10) { y++; }',
    '```js',
    'while (i < n) {',
  ].join('\n'),
};

const TAG = /^<(?:b|i|s|tg-spoiler|code|pre|blockquote|code class="language-[\w+#.-]+"|a href="[^"<>]*")>$/;

function count(text: string, ch: string): number {
  return text.split(ch).length - 1;
}

/** Renders and checks what Telegram would do with the result; returns the text a reader sees. */
function renderChecked(markdown: string): string {
  const html = markdownToTelegramHtml(markdown);
  const context = `${JSON.stringify(markdown)} → ${JSON.stringify(html)}`;
  const tokens = tokenizeTelegramHtml(html); // throws what Telegram would answer if it is not valid
  for (const token of tokens)
    if (token.kind === 'open') expect(token.raw, `tag not made by the renderer: ${context}`).toMatch(TAG);
  const text = tokens.map((t) => (t.kind === 'text' ? t.text : '')).join('');
  expect(count(text, '<'), `every typed < is shown as text: ${context}`).toBe(count(markdown, '<'));
  return text;
}

describe('markdownToTelegramHtml while an answer streams in', () => {
  it.each(Object.entries(ANSWERS))('every prefix of "%s" is valid Telegram HTML', (_name, answer) => {
    for (let i = 0; i <= answer.length; i++) renderChecked(answer.slice(0, i));
  });

  it('shows the full answers as intended', () => {
    const html = (name: string) => markdownToTelegramHtml(ANSWERS[name]!);
    expect(html('code with comparisons')).toContain(
      '<pre><code class="language-python">def in_range(x, lo, hi):\n    &quot;&quot;&quot;Return True if lo &lt;= x &lt; hi.&quot;&quot;&quot;',
    );
    expect(html('nested lists')).toBe(
      [
        '<b>Steps</b>',
        '',
        '1. Install the tools:',
        '   ◦ Node.js <b>20</b> or newer',
        '   ◦ <code>npm</code> (comes with Node)',
        '      ▪ check with <code>node -v</code>',
        '2. Clone the repo',
        '',
        '   Then run the set-up script.',
        '3. Start it:',
        '<pre><code class="language-sh">npm start</code></pre>',
        '• a bullet after the numbers',
        '• another list marker',
      ].join('\n'),
    );
    expect(html('links')).toBe(
      [
        'See the <a href="https://nodejs.org/api/fs.html#fs_readfile">official docs</a> and',
        '<a href="https://example.com/guide_(v2)_final?a=1&amp;b=2">this <b>great</b> guide</a>.',
        'Bare URLs stay as they are: https://github.com/some_org/some_repo/blob/main/read_me.md.',
        'A relative link here and an image <a href="https://example.com/d.png">diagram</a>.',
        'Email me at <a href="mailto:someone@example.com">mail</a> or see <a href="https://example.com/reference">docs</a>.',
      ].join('\n'),
    );
    expect(html('table')).toBe(
      [
        'Here is a comparison:',
        '',
        '<pre>Language   | Typing  |   Speed | Notes',
        '-----------+---------+---------+-----------------------',
        'Python     | dynamic | 🐢 slow | list[int] hints, a | b',
        'Rust       | static  | 🚀 fast | Vec&lt;u8&gt; &amp; lifetimes',
        'TypeScript | static  |      ok | site</pre>',
        'The table shows that x &lt; y.',
      ].join('\n'),
    );
    expect(html('checklist')).toBe(
      [
        '<b>Release checklist</b>',
        '',
        '☑ Write the changelog',
        '☐ Tag the release',
        '☑ Run the tests',
        '',
        '──────────',
        '',
        '<b>Notes</b>',
        'Remember to bump the version &amp; push.',
      ].join('\n'),
    );
    expect(html('spoilers and strikethrough')).toBe(
      [
        'The answer is <tg-spoiler>42</tg-spoiler> (spoiler), <s>not 41</s>.',
        'Pipes in text: a || b, a | b, and |||triple|||.',
        // markdown-it reads a run of three as `~` and `~~` (GFM would leave it alone).
        'Tildes: ~5 minutes, ~<s>not a fence here</s>~.',
      ].join('\n'),
    );
  });

  it('renders half a link, half a table and half a code fence sensibly', () => {
    expect(markdownToTelegramHtml('Read [the docs](https://exa')).toBe('Read [the docs](https://exa');
    expect(markdownToTelegramHtml('Read [the do')).toBe('Read [the do');
    expect(markdownToTelegramHtml('| a | b |\n|--')).toBe('| a | b |\n|--');
    expect(markdownToTelegramHtml('| a | b |\n|---|---|\n| 1 |')).toBe('<pre>a | b\n--+--\n1 |</pre>');
    expect(markdownToTelegramHtml('**bold** and *ital')).toBe('<b>bold</b> and *ital');
    expect(markdownToTelegramHtml('```js\nif (a <')).toBe(
      '<pre><code class="language-js">if (a &lt;</code></pre>',
    );
    expect(markdownToTelegramHtml('1. one\n2.')).toBe('1. one\n2.');
  });
});
