/**
 * Text from outside (a Telegram update, an admin form) on its way to PostgreSQL, which cannot store
 * U+0000 in `text` or `jsonb`: one statement with it fails, and when the text is a name that
 * failure repeats on every update of its user. Clean it once, where it enters.
 */

/** What a clean-up changed: fields cut to their limit, and NUL characters removed. */
export interface CleanReport {
  /** Paths of the strings cut to their limit, with the length they had. */
  cut: { path: string; length: number }[];
  nul: number;
}

/** The longest a string at `key` may be; undefined for no limit. */
export type LimitOf = (key: string) => number | undefined;

/** Cut to `max` UTF-16 units (Telegram's measure) without splitting a surrogate pair. */
export function cutTo(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text[max - 1] ?? '') ? max - 1 : max;
  return text.slice(0, end);
}

/**
 * Remove NUL from every string in `root` and cut strings to `limitOf(key)`, changing objects and
 * arrays in place (a parsed body belongs to the request). Iterative, so a deeply nested hostile
 * body cannot overflow the stack. Returns the root (a new string when the root itself is one).
 */
export function cleanStrings(
  root: unknown,
  limitOf: LimitOf = () => undefined,
): { value: unknown; report: CleanReport } {
  const report: CleanReport = { cut: [], nul: 0 };
  const clean = (s: string, key: string, path: string): string => {
    let out = s;
    if (out.includes('\0')) {
      const without = out.replaceAll('\0', '');
      report.nul += out.length - without.length;
      out = without;
    }
    const max = limitOf(key);
    if (max !== undefined && out.length > max) {
      report.cut.push({ path, length: out.length });
      out = cutTo(out, max);
    }
    return out;
  };
  if (typeof root === 'string') return { value: clean(root, '', ''), report };
  const stack: { node: Record<string, unknown> | unknown[]; path: string }[] = [];
  if (root && typeof root === 'object') stack.push({ node: root as Record<string, unknown>, path: '' });
  while (stack.length) {
    const { node, path } = stack.pop()!;
    const isArray = Array.isArray(node);
    for (const key of Object.keys(node)) {
      const record = node as Record<string, unknown>;
      const value = record[key];
      const here = path ? `${path}.${key}` : key;
      // An element of an array is limited like the array's own field.
      const field = isArray ? (path.split('.').at(-1) ?? '') : key;
      if (typeof value === 'string') {
        const cleaned = clean(value, field, here);
        if (cleaned !== value) record[key] = cleaned;
      } else if (value && typeof value === 'object') {
        stack.push({ node: value as Record<string, unknown>, path: here });
      }
    }
  }
  return { value: root, report };
}

/** True when the clean-up changed something. */
export function changed(report: CleanReport): boolean {
  return report.nul > 0 || report.cut.length > 0;
}
