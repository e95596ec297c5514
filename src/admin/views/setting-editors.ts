import type { ValidationIssue } from '../../platform/errors.js';
import { ValidationError } from '../../platform/errors.js';
import { html } from '../html.js';
import { catalogueEditor } from './catalogue-editor.js';
import { type FieldOptions, field, issuesAt } from './components.js';
import { num, obj, rows, type SettingEditor, str } from './setting-editor-fields.js';

export type { SettingEditor } from './setting-editor-fields.js';

const localized: SettingEditor = {
  render(value, issues) {
    const v = obj(value);
    return html`${field({ label: 'English', name: 'v.en', type: 'textarea', value: str(v.en), errors: issuesAt(issues, 'en') })}
      ${field({ label: 'Russian', name: 'v.ru', type: 'textarea', value: str(v.ru), errors: issuesAt(issues, 'ru') })}`;
  },
  parse: (form) => ({ en: form['v.en'] ?? '', ru: form['v.ru'] ?? '' }),
};

/**
 * A setting edited in one field named `v`, labelled Value: its problems are the value's own (path
 * ''). `show` puts the value in the field, `parse` reads the posted text back.
 */
function oneField(
  input: Pick<FieldOptions, 'type' | 'rows'>,
  show: (value: unknown) => string,
  parse: (posted: string) => unknown,
): SettingEditor {
  return {
    render: (value, issues) =>
      field({ label: 'Value', name: 'v', ...input, value: show(value), errors: issuesAt(issues, '') }),
    parse: (form) => parse(form.v ?? ''),
  };
}

const text = (rowsCount: number) => oneField({ type: 'textarea', rows: rowsCount }, str, (v) => v);
const line = oneField({}, str, (v) => v.trim());
const integer = oneField({ type: 'number' }, (v) => String(v ?? ''), num);

/** A list of strings, one a line (blank lines dropped); a problem names its line. */
const lines: SettingEditor = {
  render: (value, issues) =>
    field({
      label: 'One per line',
      name: 'v',
      type: 'textarea',
      rows: 8,
      value: (Array.isArray(value) ? value : []).join('\n'),
      errors: issues.map((i) =>
        /^\d+$/.test(i.path) ? `line ${Number(i.path) + 1}: ${i.message}` : i.message,
      ),
    }),
  parse: (form) =>
    (form.v ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
};

const plans: SettingEditor = {
  render(value, issues) {
    const entries = [...Object.entries(obj(value)), ['', { messages_limit: '', images_limit: '' }] as const];
    return html`<div class="table-wrap"><table>
      <thead><tr><th>Plan</th><th>Messages / period</th><th>Images / period</th><th>Remove</th></tr></thead>
      <tbody>${entries.map(([name, limits], i) => {
        const l = obj(limits);
        const nameErrors = name ? issuesAt(issues, name) : [];
        return html`<tr>
          <td>${field({ label: name ? 'Name' : 'New plan', name: `plans.${i}.name`, value: name, errors: nameErrors })}</td>
          <td>${field({ label: 'Messages', name: `plans.${i}.messages_limit`, type: 'number', value: String(l.messages_limit ?? ''), errors: name ? issuesAt(issues, `${name}.messages_limit`) : [] })}</td>
          <td>${field({ label: 'Images', name: `plans.${i}.images_limit`, type: 'number', value: String(l.images_limit ?? ''), errors: name ? issuesAt(issues, `${name}.images_limit`) : [] })}</td>
          <td>${name ? html`<label class="small"><input type="checkbox" name="plans.${i}.remove" value="1"> remove</label>` : ''}</td>
        </tr>`;
      })}</tbody></table></div>`;
  },
  parse(form) {
    const out: Record<string, unknown> = {};
    const issues: ValidationIssue[] = [];
    for (const i of rows(form, 'plans')) {
      const name = (form[`plans.${i}.name`] ?? '').trim();
      if (!name || form[`plans.${i}.remove`]) continue;
      if (name in out) issues.push({ path: name, message: 'the plan is listed twice' });
      out[name] = {
        messages_limit: num(form[`plans.${i}.messages_limit`]),
        images_limit: num(form[`plans.${i}.images_limit`]),
      };
    }
    if (issues.length) throw new ValidationError('invalid plans', { issues });
    return out;
  },
};

const stages: SettingEditor = {
  render(value, issues) {
    const list = [...(Array.isArray(value) ? value : []), undefined];
    return html`<div class="table-wrap"><table>
      <thead><tr><th>After days</th><th>English text</th><th>Russian text</th><th>Remove</th></tr></thead>
      <tbody>${list.map((stage, i) => {
        const s = obj(stage);
        const t = obj(s.text);
        const at = (p: string) => (stage ? issuesAt(issues, `${i}.${p}`) : []);
        return html`<tr>
          <td style="min-width:6rem">${field({ label: stage ? 'Days' : 'New stage', name: `stages.${i}.days`, type: 'number', value: String(s.days ?? ''), errors: at('days') })}</td>
          <td style="min-width:14rem">${field({ label: 'English', name: `stages.${i}.en`, type: 'textarea', rows: 3, value: str(t.en), errors: at('text.en') })}</td>
          <td style="min-width:14rem">${field({ label: 'Russian', name: `stages.${i}.ru`, type: 'textarea', rows: 3, value: str(t.ru), errors: at('text.ru') })}</td>
          <td>${stage ? html`<label class="small"><input type="checkbox" name="stages.${i}.remove" value="1"> remove</label>` : ''}</td>
        </tr>`;
      })}</tbody></table></div>`;
  },
  parse(form) {
    const out: unknown[] = [];
    for (const i of rows(form, 'stages')) {
      const days = form[`stages.${i}.days`] ?? '';
      const en = form[`stages.${i}.en`] ?? '';
      const ru = form[`stages.${i}.ru`] ?? '';
      if (form[`stages.${i}.remove`] || (!days.trim() && !en.trim() && !ru.trim())) continue;
      out.push({ days: num(days), text: { en, ru } });
    }
    return out;
  },
};

const window: SettingEditor = {
  render(value, issues) {
    const v = obj(value);
    return html`<div class="row">
      ${field({ label: 'From hour (0-23)', name: 'v.start_hour', type: 'number', value: String(v.start_hour ?? ''), errors: issuesAt(issues, 'start_hour') })}
      ${field({ label: 'Until hour (1-24)', name: 'v.end_hour', type: 'number', value: String(v.end_hour ?? ''), errors: issuesAt(issues, 'end_hour') })}
      ${field({ label: 'Time zone', name: 'v.time_zone', value: str(v.time_zone), errors: issuesAt(issues, 'time_zone'), hint: 'e.g. Europe/Moscow, UTC' })}
    </div>
    ${issuesAt(issues, '').length ? html`<div class="error-text">${issuesAt(issues, '').join(' · ')}</div>` : ''}`;
  },
  parse: (form) => ({
    start_hour: num(form['v.start_hour']),
    end_hour: num(form['v.end_hour']),
    time_zone: (form['v.time_zone'] ?? '').trim(),
  }),
};

/** Settings without a dedicated editor (added later) are edited as JSON. */
export const jsonEditor: SettingEditor = {
  render: (value, issues) =>
    field({
      label: 'Value (JSON)',
      name: 'json',
      type: 'textarea',
      rows: 6,
      value: JSON.stringify(value, null, 2),
      errors: issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)),
    }),
  parse(form) {
    try {
      return JSON.parse(form.json ?? '');
    } catch {
      throw new ValidationError('not valid JSON', { issues: [{ path: '', message: 'not valid JSON' }] });
    }
  },
};

const EDITORS: Record<string, SettingEditor> = {
  'bot.welcome_text': localized,
  'llm.system_prompt': text(8),
  'llm.model': line,
  plans,
  'quota.period_hours': integer,
  'messages.retention_days': integer,
  'retention.stages': stages,
  'retention.window': window,
  'payments.catalogue': catalogueEditor,
  'payments.order_ttl_hours': integer,
  'payments.orphan_policy': line,
  'support.contact': localized,
  'legal.privacy': localized,
  'legal.terms': localized,
  'images.max_prompt_length': integer,
  'images.per_user_in_flight': integer,
  'images.per_user_queued': integer,
  'images.timeout_seconds': integer,
  'images.deny_list': lines,
  'images.nsfw': line,
  'images.prompt_writer': text(6),
};

/** Settings edited as one text per language. */
const LOCALIZED = new Set(['bot.welcome_text', 'support.contact', 'legal.privacy', 'legal.terms']);

export function editorFor(key: string): SettingEditor {
  return EDITORS[key] ?? jsonEditor;
}

/** Issues a setting editor cannot place next to a field (shown above the form). */
export function generalIssues(key: string, issues: ValidationIssue[]): ValidationIssue[] {
  if (editorFor(key) === jsonEditor) return [];
  if (key === 'plans') return issues.filter((i) => i.path === '');
  if (key === 'retention.stages' || key === 'payments.catalogue')
    return issues.filter((i) => !/^\d+\./.test(i.path));
  if (key === 'retention.window' || key === 'images.deny_list') return [];
  if (LOCALIZED.has(key)) return issues.filter((i) => i.path !== 'en' && i.path !== 'ru');
  return issues.filter((i) => i.path !== '');
}
