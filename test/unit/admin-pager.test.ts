import { describe, expect, it } from 'vitest';
import { PAGE_LABELS, pager } from '../../src/admin/views/components.js';

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
