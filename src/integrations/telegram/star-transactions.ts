import type { StarTransaction } from 'grammy/types';

/** One getStarTransactions call. */
export type FetchTransactions = (offset: number, limit: number) => Promise<StarTransaction[]>;

const PAGE = 100;

/**
 * Whether a transaction dated from `since` on matches `match`, reading the bot's Star transactions
 * from the newest end back until a page reaches before `since`, in at most `maxCalls` calls (then
 * false: not seen).
 *
 * The Bot API documents getStarTransactions as chronological (oldest first), so the recent end is
 * the last page: its offset is found by doubling, then halving. MTProto's underlying call lists
 * newest first by default; the dates tell which order a list is in, so either is read right.
 */
export async function seenSince(
  fetch: FetchTransactions,
  since: number,
  match: (t: StarTransaction) => boolean,
  maxCalls: number,
): Promise<boolean> {
  let calls = 0;
  // Past the budget every page reads as empty, which ends each loop below.
  const page = async (offset: number) => (++calls > maxCalls ? [] : fetch(offset, PAGE));
  const first = await page(0);
  if (first.some(match)) return true;
  if (first.length < PAGE) return false;
  const firstDate = first[0]!.date;
  let total: number | undefined;
  if (firstDate <= first.at(-1)!.date) {
    total = await countAll(page);
    const [last] = await page(total - 1);
    // Newest first after all (its first page fell within one second).
    if (last && last.date < firstDate) total = undefined;
  }
  if (total === undefined) {
    for (let offset = PAGE; ; offset += PAGE) {
      const items = await page(offset);
      if (items.some(match)) return true;
      if (items.length < PAGE || items.at(-1)!.date < since) return false;
    }
  }
  for (let end = total; end > 0; end -= PAGE) {
    const items = await page(Math.max(0, end - PAGE));
    if (items.some(match)) return true;
    if ((items[0]?.date ?? Number.NEGATIVE_INFINITY) < since) return false;
  }
  return false;
}

/**
 * How many transactions there are, the first page being full: pages at doubling offsets until one
 * is short or empty, then halving between the last full one and the empty one.
 */
async function countAll(page: (offset: number) => Promise<StarTransaction[]>): Promise<number> {
  let lo = PAGE; // at least this many
  let hi: number | undefined; // at most this many
  while (hi === undefined || lo < hi) {
    const offset = hi === undefined ? lo * 2 - PAGE : lo + Math.floor((hi - lo) / 2);
    const n = (await page(offset)).length;
    if (n > 0 && n < PAGE) return offset + n;
    if (n === PAGE) lo = offset + PAGE;
    else hi = offset;
  }
  return lo;
}
