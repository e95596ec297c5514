import type { ValidationIssue } from '../../platform/errors.js';
import type { SafeHtml } from '../html.js';

/** How one setting is edited in a form: its fields, and the value read back from the posted form. */
export interface SettingEditor {
  render(value: unknown, issues: ValidationIssue[]): SafeHtml;
  parse(form: Record<string, string>): unknown;
}

type Form = Record<string, string>;

export const str = (v: unknown) => (typeof v === 'string' ? v : '');
export const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** A number field: numbers go to the schema as numbers, anything else as typed so the schema names the problem. */
export function num(s: string | undefined): unknown {
  const t = (s ?? '').trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** Row indexes posted as `<prefix>.<n>.<field>`, in order. */
export function rows(form: Form, prefix: string): number[] {
  const seen = new Set<number>();
  for (const k of Object.keys(form)) {
    const m = new RegExp(`^${prefix.replace('.', '\\.')}\\.(\\d{1,3})\\.`).exec(k);
    if (m) seen.add(Number(m[1]));
  }
  return [...seen].sort((a, b) => a - b);
}
