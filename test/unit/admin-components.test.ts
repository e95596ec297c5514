import { describe, expect, it } from 'vitest';
import { html } from '../../src/admin/html.js';
import { listTable, PAGE_LABELS, pager } from '../../src/admin/views/components.js';

describe('admin pager', () => {
  it('on the first page links only onward, with the filters and the cursor', () => {
    const out = String(
      pager({
        path: '/admin/images',
        filters: { status: 'failed', user: 7 },
        onFirstPage: true,
        nextCursor: 40,
      }),
    );
    expect(out).not.toContain('« Newest');
    expect(out).toContain('href="/admin/images?status=failed&amp;user=7&amp;before=40"');
    expect(out).toContain('Older »');
  });

  it('further on links back without the cursor, leaves out empty filters, and has no onward link at the end', () => {
    const out = String(
      pager({
        path: '/admin/users',
        filters: { q: '', plan: 'pro', status: undefined },
        onFirstPage: false,
        nextCursor: null,
        labels: PAGE_LABELS,
      }),
    );
    expect(out).toContain('<a href="/admin/users?plan=pro">« First page</a>');
    expect(out).not.toContain('Next page');
  });
});

describe('admin list table', () => {
  const columns = ['ID', ['Stars', 'num']] as const;

  it('renders a header cell per column and a row per item', () => {
    const out = String(
      listTable({
        columns,
        items: [1, 2],
        row: (n) => html`<tr><td>${n}</td></tr>`,
        empty: 'None.',
        testId: 'x',
      }),
    );
    expect(out).toContain('<table data-testid="x">');
    expect(out).toContain('<th>ID</th><th class="num">Stars</th>');
    expect(out.match(/<tr><td>/g)).toHaveLength(2);
    expect(out).not.toContain('None.');
  });

  it('fills the whole width with the empty text when there are no items', () => {
    const out = String(listTable({ columns, items: [], row: () => html``, empty: 'None.' }));
    expect(out).toContain('<td colspan="2" class="muted">None.</td>');
    expect(out).toContain('<table>');
  });
});
