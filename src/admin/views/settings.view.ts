import type { SettingView } from '../../domain/settings/settings.service.js';
import type { ValidationIssue } from '../../platform/errors.js';
import { html, type SafeHtml } from '../html.js';
import { badge, csrfField, notice } from './components.js';
import { editorFor, generalIssues } from './setting-editors.js';

export interface SettingCardOptions {
  setting: SettingView;
  csrf: string;
  canEdit: boolean;
  issues?: ValidationIssue[];
  saved?: boolean;
}

export function cardId(key: string): string {
  return `setting-${key.replace(/[^a-z0-9]+/gi, '-')}`;
}

/** One setting: its description, an editor with errors next to the fields, save and reset. */
export function settingCard(o: SettingCardOptions): SafeHtml {
  const { setting: s } = o;
  const issues = o.issues ?? [];
  const general = generalIssues(s.key, issues);
  const action = `/admin/settings/${s.key}`;
  return html`<section class="card" id="${cardId(s.key)}" data-setting="${s.key}">
    <form method="post" action="${action}" hx-post="${action}" hx-target="#${cardId(s.key)}" hx-swap="outerHTML">
      ${csrfField(o.csrf)}
      <div class="page-head" style="margin-bottom:.5rem">
        <h2 style="margin:0"><code>${s.key}</code></h2>
        <div class="actions">${s.isDefault ? badge('default', 'info') : badge('customized')}${o.saved ? badge('saved', 'ok') : ''}</div>
      </div>
      <p class="muted small">${s.description}</p>
      ${issues.length ? notice('error', general.length ? general.map((i) => i.message).join(' · ') : 'Please fix the marked fields.') : ''}
      <fieldset ${o.canEdit ? '' : html`disabled`} style="border:0;padding:0;margin:0">
        ${editorFor(s.key).render(s.value, issues)}
      </fieldset>
      ${
        o.canEdit
          ? html`<div class="actions"><button type="submit">Save</button>
              ${s.isDefault ? '' : html`<button type="submit" class="secondary" formaction="${action}/reset" hx-post="${action}/reset" data-confirm="Reset ${s.key} to its default?">Reset to default</button>`}
            </div>`
          : ''
      }
    </form>
  </section>`;
}

/** Every setting's card; `replace` puts a given card (e.g. one showing errors) in place of a stored one. */
export function settingsBody(
  settings: SettingView[],
  csrf: string,
  canEdit: boolean,
  replace?: { key: string; card: SafeHtml },
): SafeHtml {
  return html`<p class="muted">Changes apply to every process within seconds; no restart needed.</p>
    ${settings.map((s) => (s.key === replace?.key ? replace.card : settingCard({ setting: s, csrf, canEdit })))}`;
}
