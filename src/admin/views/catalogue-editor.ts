import { html } from '../html.js';
import { field, issuesAt, select } from './components.js';
import { num, obj, rows, type SettingEditor, str } from './setting-editor-fields.js';

const KINDS = [
  ['plan', 'Plan for N days'],
  ['pack', 'Image pack'],
  ['subscription', 'Star subscription (monthly)'],
] as const;

/**
 * The catalogue: one row per product (plus an empty one to add a product). Problems show next to
 * their field; the schema (payments/catalogue.ts) says what Telegram would refuse.
 */
export const catalogueEditor: SettingEditor = {
  render(value, issues) {
    const list = [...(Array.isArray(value) ? value : []), undefined];
    return html`<div class="table-wrap"><table>
      <thead><tr><th>Product</th><th>Grants</th><th>Title and description (en / ru)</th><th>On sale</th></tr></thead>
      <tbody>${list.map((product, i) => {
        const p = obj(product);
        const title = obj(p.title);
        const description = obj(p.description);
        const at = (path: string) => (product ? issuesAt(issues, `${i}.${path}`) : []);
        const name = (f: string) => `products.${i}.${f}`;
        const n = (v: unknown) => (v === undefined ? '' : String(v));
        return html`<tr>
          <td style="min-width:9rem">
            ${field({ label: product ? 'Code' : 'New product code', name: name('code'), value: str(p.code), errors: at('code') })}
            ${select({ label: 'Kind', name: name('kind'), value: str(p.kind) || 'plan', options: KINDS, errors: at('kind') })}
            ${field({ label: 'Price (Stars)', name: name('price'), type: 'number', value: n(p.price), errors: at('price') })}
          </td>
          <td style="min-width:8rem">
            ${field({ label: 'Plan', name: name('plan'), value: str(p.plan), errors: at('plan'), hint: 'plans and subscriptions' })}
            ${field({ label: 'Days', name: name('days'), type: 'number', value: n(p.days), errors: at('days'), hint: 'plans' })}
            ${field({ label: 'Images', name: name('images'), type: 'number', value: n(p.images), errors: at('images'), hint: 'packs' })}
          </td>
          <td style="min-width:16rem">
            ${field({ label: 'Title (en, ≤ 32)', name: name('title_en'), value: str(title.en), errors: at('title.en') })}
            ${field({ label: 'Title (ru, ≤ 32)', name: name('title_ru'), value: str(title.ru), errors: at('title.ru') })}
            ${field({ label: 'Description (en, ≤ 255)', name: name('description_en'), type: 'textarea', rows: 2, value: str(description.en), errors: at('description.en') })}
            ${field({ label: 'Description (ru, ≤ 255)', name: name('description_ru'), type: 'textarea', rows: 2, value: str(description.ru), errors: at('description.ru') })}
          </td>
          <td>
            <input type="hidden" name="${name('row')}" value="1">
            <label class="small"><input type="checkbox" name="${name('active')}" value="1" ${p.active !== false ? html`checked` : ''}> on sale</label>
            ${product ? html`<br><label class="small"><input type="checkbox" name="${name('remove')}" value="1"> remove</label>` : ''}
          </td>
        </tr>`;
      })}</tbody></table></div>
      <p class="small muted">A price change applies to new orders only; withdrawing a product (unticking "on sale") refuses its open invoices at checkout.</p>`;
  },
  parse(form) {
    const out: unknown[] = [];
    for (const i of rows(form, 'products')) {
      const v = (f: string) => (form[`products.${i}.${f}`] ?? '').trim();
      // The empty row for a new product is skipped; a product whose code was cleared is not (that
      // would delete it without a word): validation names the missing code instead.
      const typed = ['code', 'price', 'title_en', 'title_ru', 'description_en', 'description_ru'];
      if (v('remove') || typed.every((f) => !v(f))) continue;
      const optional = (key: string, value: unknown) =>
        value === undefined || value === '' ? {} : { [key]: value };
      out.push({
        code: v('code'),
        kind: v('kind'),
        price: num(v('price')),
        ...optional('plan', v('plan')),
        ...optional('days', num(v('days'))),
        ...optional('images', num(v('images'))),
        title: { en: v('title_en'), ru: v('title_ru') },
        description: { en: v('description_en'), ru: v('description_ru') },
        active: v('active') === '1',
      });
    }
    return out;
  },
};
