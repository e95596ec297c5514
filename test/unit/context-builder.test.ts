import { describe, expect, it } from 'vitest';
import {
  buildContext,
  estimateTokens,
  splitForSummary,
  summaryRequest,
} from '../../src/domain/chat/context-builder.js';
import type { Message } from '../../src/platform/db/schema.js';

let nextId = 0;
function msg(role: 'user' | 'assistant', content: string, metadata: Record<string, unknown> = {}): Message {
  nextId += 1;
  return {
    id: nextId,
    dialog_id: 1,
    role,
    content,
    metadata,
    tokens: null,
    telegram_message_id: null,
    created_at: new Date(),
  };
}
/** The repository returns the newest first. */
const newestFirst = (...messages: Message[]) => [...messages].reverse();

describe('estimateTokens', () => {
  it('counts non-Latin text as heavier than Latin text of the same length', () => {
    expect(estimateTokens('a'.repeat(400))).toBe(104);
    expect(estimateTokens('я'.repeat(400))).toBe(254);
  });
});

describe('buildContext', () => {
  it('sends the system prompt, the summary, then the conversation oldest first', () => {
    const history = newestFirst(msg('user', 'one'), msg('assistant', 'two'), msg('user', 'three'));
    const ctx = buildContext({
      systemPrompt: 'Be nice.',
      summary: 'Earlier: cats.',
      history,
      budgetTokens: 1_000,
    });
    expect(ctx.messages).toEqual([
      { role: 'system', content: 'Be nice.' },
      { role: 'system', content: 'Summary of the earlier conversation:\nEarlier: cats.' },
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'two' },
      { role: 'user', content: 'three' },
    ]);
    expect(ctx.dropped).toBe(0);
  });

  it('keeps the newest messages that fit and counts the rest as dropped', () => {
    const old = Array.from({ length: 10 }, (_, i) => msg('user', `old ${i} ${'x'.repeat(400)}`));
    const history = newestFirst(...old, msg('user', 'newest'));
    const ctx = buildContext({ systemPrompt: 'S', summary: null, history, budgetTokens: 350 });
    expect(ctx.messages.at(-1)).toEqual({ role: 'user', content: 'newest' });
    expect(ctx.messages.length - 1 + ctx.dropped).toBe(11);
    expect(ctx.dropped).toBeGreaterThan(0);
    expect(ctx.estimatedTokens).toBeLessThanOrEqual(350);
  });

  it('cuts an oversized newest message from the front so it fits, for Cyrillic text too', () => {
    for (const ch of ['a', 'ж']) {
      const text = `${ch.repeat(20_000)}END`;
      const ctx = buildContext({
        systemPrompt: 'S',
        summary: null,
        history: [msg('user', text)],
        budgetTokens: 500,
      });
      const sent = ctx.messages.at(-1)!.content;
      expect(sent.endsWith('END')).toBe(true);
      expect(sent.length).toBeLessThan(text.length);
      expect(estimateTokens(sent) + estimateTokens('S')).toBeLessThanOrEqual(500);
    }
  });

  it('puts an answer right after the question it answered, even when later questions were stored first', () => {
    const q1 = msg('user', 'q1');
    const q2 = msg('user', 'q2 (arrived while q1 was being answered)');
    const a1 = msg('assistant', 'a1', { answered_up_to: q1.id });
    const ctx = buildContext({
      systemPrompt: 'S',
      summary: null,
      history: newestFirst(q1, q2, a1),
      budgetTokens: 1_000,
    });
    expect(ctx.messages.slice(1).map((m) => m.content)).toEqual([
      'q1',
      'a1',
      'q2 (arrived while q1 was being answered)',
    ]);
  });
});

describe('splitForSummary and summaryRequest', () => {
  it('keeps the newest within the budget and folds the older ones, oldest first', () => {
    const messages = Array.from({ length: 6 }, (_, i) =>
      msg(i % 2 ? 'assistant' : 'user', `m${i} ${'y'.repeat(200)}`),
    );
    const { keep, fold } = splitForSummary(newestFirst(...messages), 120);
    expect(keep.map((m) => m.id)).toEqual([messages[5]!.id, messages[4]!.id]);
    expect(fold.map((m) => m.id)).toEqual(messages.slice(0, 4).map((m) => m.id));
    const request = summaryRequest('before', fold.slice(0, 2));
    expect(request[1]!.content).toContain('Previous summary:\nbefore');
    expect(request[1]!.content).toContain(`User: ${messages[0]!.content}`);
    expect(request[1]!.content).toContain(`Assistant: ${messages[1]!.content}`);
  });

  it('also folds what exceeds the message bound, however few tokens it takes', () => {
    const messages = Array.from({ length: 10 }, (_, i) => msg(i % 2 ? 'assistant' : 'user', `m${i}`));
    const { keep, fold } = splitForSummary(newestFirst(...messages), 10_000, 4);
    expect(keep.map((m) => m.id)).toEqual(
      messages
        .slice(6)
        .reverse()
        .map((m) => m.id),
    );
    expect(fold.map((m) => m.id)).toEqual(messages.slice(0, 6).map((m) => m.id));
  });
});
