import type { ChatMessage } from '../../integrations/llm/llm-client.js';
import type { Message } from '../../platform/db/schema.js';

/**
 * A cheap, model-independent token estimate (≈ 4 characters per token for Latin text, fewer for
 * Cyrillic and CJK; erring high keeps requests inside the provider's window) plus per-message overhead.
 */
export function estimateTokens(text: string): number {
  let units = 0;
  for (const ch of text) units += charUnits(ch);
  return Math.ceil(units / 4) + 4;
}

function charUnits(ch: string): number {
  return ch.charCodeAt(0) < 0x80 ? 1 : 2.5;
}

/** The end of `text` that fits in `tokens` by the same estimate (the newest words matter most). */
function tailWithin(text: string, tokens: number): string {
  const chars = [...text];
  let units = 0;
  let start = chars.length;
  while (start > 0 && (units + charUnits(chars[start - 1] as string)) / 4 + 4 <= tokens) {
    start -= 1;
    units += charUnits(chars[start] as string);
  }
  return chars.slice(start).join('');
}

export interface ContextInput {
  systemPrompt: string;
  summary: string | null;
  /** Newest first, as the repository returns them. */
  history: Message[];
  /** The budget for everything sent (the answer's own tokens are reserved by the caller). */
  budgetTokens: number;
}

export interface BuiltContext {
  messages: ChatMessage[];
  /** Messages left out for lack of room (they could be summarized). */
  dropped: number;
  estimatedTokens: number;
}

/**
 * Conversation order: an answer belongs right after the last user message it answered, even when
 * later user messages were stored while it was being written.
 */
function conversationOrder(m: Message): number {
  const anchor = (m.metadata as { answered_up_to?: unknown }).answered_up_to;
  return m.role === 'assistant' && typeof anchor === 'number' ? anchor + 0.5 : m.id;
}

/**
 * System prompt, the rolling summary when there is one, then the newest messages that fit the
 * budget, oldest first. The newest message always goes in, cut from the front if it alone is too big.
 */
export function buildContext(input: ContextInput): BuiltContext {
  const head: ChatMessage[] = [{ role: 'system', content: input.systemPrompt }];
  if (input.summary) {
    head.push({ role: 'system', content: `Summary of the earlier conversation:\n${input.summary}` });
  }
  let used = head.reduce((n, m) => n + estimateTokens(m.content), 0);
  const picked: ChatMessage[] = [];
  let dropped = 0;
  const history = [...input.history].sort((a, b) => conversationOrder(b) - conversationOrder(a));
  for (const [i, m] of history.entries()) {
    const cost = estimateTokens(m.content);
    if (used + cost > input.budgetTokens) {
      if (i === 0) {
        const room = Math.max(input.budgetTokens - used, 64);
        picked.push({ role: m.role, content: tailWithin(m.content, room) });
        used += room;
      }
      dropped = history.length - picked.length;
      break;
    }
    picked.push({ role: m.role, content: m.content });
    used += cost;
  }
  return { messages: [...head, ...picked.reverse()], dropped, estimatedTokens: used };
}

const SUMMARY_INSTRUCTIONS =
  'You keep a running summary of a chat between a user and an AI assistant. Merge the previous summary ' +
  'and the new messages into one concise summary (at most 250 words) in the language of the conversation. ' +
  'Keep facts about the user, names, numbers, decisions, preferences and open questions; drop small talk. ' +
  'Answer with the summary only.';

/**
 * Split a dialog's context (newest first) into what stays verbatim and what goes into the summary:
 * the newest messages within `keepTokens` and at most `keepMessages` of them. Both bounds matter:
 * many short messages fit the token budget but not the history the reply reads, and a summary that
 * folds nothing would be asked for again after every message.
 */
export function splitForSummary(
  history: Message[],
  keepTokens: number,
  keepMessages = Number.POSITIVE_INFINITY,
): { keep: Message[]; fold: Message[] } {
  const byId = [...history].sort((a, b) => b.id - a.id);
  let used = 0;
  let cut = Math.min(byId.length, keepMessages);
  for (const [i, m] of byId.slice(0, cut).entries()) {
    used += estimateTokens(m.content);
    if (used > keepTokens) {
      cut = i;
      break;
    }
  }
  return { keep: byId.slice(0, cut), fold: byId.slice(cut).reverse() };
}

/** The request that folds older messages into the rolling summary. */
export function summaryRequest(previous: string | null, fold: Message[]): ChatMessage[] {
  const transcript = fold
    .map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`)
    .join('\n\n');
  return [
    { role: 'system', content: SUMMARY_INSTRUCTIONS },
    {
      role: 'user',
      content: `Previous summary:\n${previous ?? '(none)'}\n\nNew messages:\n${transcript}`,
    },
  ];
}
