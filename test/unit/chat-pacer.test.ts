import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatPacer } from '../../src/integrations/telegram/chat-pacer.js';

describe('ChatPacer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('sends one call per chat at a time, the next one interval after the previous answer, newest state only', async () => {
    const pacer = new ChatPacer(() => 1000);
    const sent: [number, string][] = [];
    const task =
      (text: string, ms = 100) =>
      async () => {
        await new Promise((r) => setTimeout(r, ms));
        sent.push([Date.now(), text]);
      };
    const t0 = Date.now();
    pacer.submit(1, 'msg', task('10%'));
    await vi.advanceTimersByTimeAsync(10);
    pacer.submit(1, 'msg', task('20%'));
    pacer.submit(1, 'msg', task('30%'));
    pacer.submit(2, 'msg', task('other chat'));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent.map(([, t]) => t)).toEqual(['10%', 'other chat', '30%']);
    const [first, , third] = sent.map(([at]) => at - t0);
    // 100 ms for the first call, then 1000 ms from its answer, then 100 ms for the second call.
    expect(third! - first!).toBe(1100);
  });

  it('waits out a pause (flood control) before the next call', async () => {
    const pacer = new ChatPacer(() => 1000);
    const at: number[] = [];
    const t0 = Date.now();
    pacer.pause(5, 3000);
    expect(pacer.pausedMs(5)).toBe(3000);
    pacer.submit(5, 'msg', async () => {
      at.push(Date.now() - t0);
    });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(at).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(at).toEqual([3000]);
    // The interval after an edit delays the next edit, not other messages.
    expect(pacer.pausedMs(5)).toBe(0);
  });

  it('drops what a finished picture still had waiting', async () => {
    const pacer = new ChatPacer(() => 1000);
    const sent: string[] = [];
    pacer.submit(7, 'a', async () => void sent.push('a1'));
    pacer.submit(7, 'b', async () => void sent.push('b1'));
    await vi.advanceTimersByTimeAsync(1);
    await pacer.drop(7, 'b');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sent).toEqual(['a1']);
  });
});
