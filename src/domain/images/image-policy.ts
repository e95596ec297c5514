/**
 * What a picture prompt must pass before any GPU time or quota is spent: not empty, not too long,
 * nothing on the operator's deny-list, and the NSFW policy.
 *
 * The NSFW check is an honest keyword classifier, not a model: English and Russian words for
 * nudity and sex (stems for Russian endings), after undoing the usual disguises (case, accents,
 * zero-width characters, l33t digits, letters split by dots or dashes). It catches the plain
 * requests most users make and misses paraphrases; a deployment that needs more runs a classifier
 * node in its ComfyUI workflow. Sexual words together with words for children are always refused,
 * whatever the policy.
 */

export type PromptRefusal = 'empty' | 'too_long' | 'denied' | 'nsfw' | 'minors';

export interface PromptRules {
  maxLength: number;
  denyList: readonly string[];
  nsfw: 'refuse' | 'allow';
}

export type PromptCheck =
  | { ok: true; prompt: string; nsfw: boolean }
  | { ok: false; reason: PromptRefusal; max?: number };

// Word starts; an entry ending in `*` matches any ending (Russian declension, English plurals).
const SEXUAL = [
  'nude',
  'nudes',
  'naked',
  'nudity',
  'topless',
  'bottomless',
  'nsfw',
  'porn*',
  'hentai',
  'xxx',
  'sex',
  'sexual*',
  'erotic*',
  'orgasm*',
  'genital*',
  'penis*',
  'vagina*',
  'nipple*',
  'boobs',
  'tits',
  'undress*',
  'striptease',
  'blowjob*',
  'fetish*',
  'bdsm',
  'lewd',
  'голый',
  'голая',
  'голые',
  'голого',
  'голую',
  'голых',
  'обнаж*',
  'нагая',
  'нагой',
  'наготе',
  'порн*',
  'эроти*',
  'секс*',
  'хентай',
  'ню',
  'сиськ*',
  'раздет*',
  'раздева*',
  'стриптиз*',
  'интим*',
];

const MINORS = [
  'child*',
  'kid',
  'kids',
  'minor*',
  'underage*',
  'teen*',
  'preteen*',
  'loli*',
  'shota*',
  'schoolgirl*',
  'schoolboy*',
  'toddler*',
  'baby',
  'babies',
  'infant*',
  'ребен*',
  'ребён*',
  'дети',
  'детей',
  'детск*',
  'школьни*',
  'подрост*',
  'малолет*',
  'несовершеннолет*',
  'девочк*',
  'мальчик*',
  'лоли*',
];

/** "12 year old", "12-year-old", "12yo", "12 лет": an age under 18. */
const YOUNG_AGE =
  /(?:^|[^\p{L}\p{N}])(1[0-7]|[1-9])\s*(?:-?\s*years?\s*-?\s*old|yo|y\s*o|лет|года?)(?![\p{L}])/u;

function wordPattern(words: readonly string[]): RegExp {
  const alternatives = words.map((w) =>
    w.endsWith('*') ? `${escapeRegExp(w.slice(0, -1))}\\p{L}*` : `${escapeRegExp(w)}(?![\\p{L}])`,
  );
  return new RegExp(`(?<![\\p{L}])(?:${alternatives.join('|')})`, 'u');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const SEXUAL_RE = wordPattern(SEXUAL);
const MINORS_RE = wordPattern(MINORS);
const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};

/** Lower case, no accents or zero-width characters, single spaces. */
export function normalizePrompt(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC')
    .replace(/[\u200b-\u200d\u2060\ufeff\u00ad]/g, '')
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The same text with disguises undone: l33t digits inside words, and letters split by . _ - or *. */
function undisguised(normalized: string): string {
  return normalized
    .replace(/(?<=\p{L})[013457@$]|[013457@$](?=\p{L})/gu, (c) => LEET[c] ?? c)
    .replace(/(?<!\p{L})\p{L}(?:[._*-]\p{L})+(?!\p{L})/gu, (m) => m.replace(/[._*-]/g, ''));
}

/** Whether a prompt reads as sexual, and whether it speaks of children. */
export function classifyPrompt(text: string): { sexual: boolean; minors: boolean } {
  const plain = normalizePrompt(text);
  const variants = [plain, undisguised(plain)];
  return {
    sexual: variants.some((v) => SEXUAL_RE.test(v)),
    minors: variants.some((v) => MINORS_RE.test(v) || YOUNG_AGE.test(v)),
  };
}

/** The deny-list entry the prompt hits, if any: a whole word or phrase, or a `/regular expression/`. */
export function deniedBy(text: string, denyList: readonly string[]): string | undefined {
  const plain = normalizePrompt(text);
  const variants = [plain, undisguised(plain)];
  return denyList.find((entry) => {
    const re = /^\/(.+)\/$/.exec(entry);
    const pattern = re
      ? new RegExp(re[1] as string, 'iu')
      : new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(normalizePrompt(entry))}(?![\\p{L}\\p{N}])`, 'u');
    return variants.some((v) => pattern.test(v));
  });
}

/** The checks in the order a user should hear about them. */
export function checkPrompt(raw: string, rules: PromptRules): PromptCheck {
  const prompt = raw.replace(/\s+/g, ' ').trim();
  if (!prompt) return { ok: false, reason: 'empty' };
  if ([...prompt].length > rules.maxLength) return { ok: false, reason: 'too_long', max: rules.maxLength };
  if (deniedBy(prompt, rules.denyList) !== undefined) return { ok: false, reason: 'denied' };
  const c = classifyPrompt(prompt);
  if (c.sexual && c.minors) return { ok: false, reason: 'minors' };
  if (c.sexual && rules.nsfw === 'refuse') return { ok: false, reason: 'nsfw' };
  return { ok: true, prompt, nsfw: c.sexual };
}
