import type { BotApiEmulator, EmulatorEvent } from '../../src/dev/bot-api-emulator/index.js';
import type { FakeLlmRequest } from '../../src/dev/fake-llm/index.js';

/** Every question carries a tag the fake LLM repeats in its answer: `q<user>-<n>`. */
const TAG = /\bq\d+-\d+\b/g;

/** What the bot may say instead of an answer, by the translations' English openings. */
const NOTICES: [kind: Notice, opening: RegExp][] = [
  ['quota', /^You have used all your messages|^Your plan has no messages/],
  ['rate_limited', /^You are sending messages too fast/],
  ['apology', /^Sorry, something went wrong/],
  [
    'failed',
    /^Sorry, I could not get an answer|^The AI is (busy|not available)|^Sorry, the rest of this answer/,
  ],
];
type Notice = 'quota' | 'rate_limited' | 'apology' | 'failed';

/**
 * The fake LLM's answer: the tags of every question since the last answer (a reply may answer
 * several at once), after a short pause per piece so sends are in flight when a process dies.
 */
export function taggedAnswer(req: FakeLlmRequest) {
  const messages = req.body.messages;
  const lastAnswer = messages.map((m) => m.role).lastIndexOf('assistant');
  const tags = messages
    .slice(lastAnswer + 1)
    .filter((m) => m.role === 'user')
    .flatMap((m) => String(m.content).match(TAG) ?? []);
  return {
    text: `Answer to ${tags.join(' ') || 'nothing'}. ${'Some words to stream. '.repeat(4)}`,
    chunkSize: 16,
    chunkDelayMs: 60,
  };
}

interface Question {
  tag: string;
  userId: number;
  sentAt: number;
  answers: number[];
  notice?: Notice;
}

export interface TrafficReport {
  sent: number;
  answered: number;
  answeredTwice: number;
  /** Refused by the quota or the rate limit (counted apart, as the platform meant to refuse them). */
  refused: number;
  /** The user was told it failed (an apology or a failure notice), never answered. */
  failedWithNotice: number;
  neverAnswered: number;
  /** The tags of the questions in each group, for a look at the logs. */
  unanswered: string[];
  duplicated: string[];
  answerLatencyMs: { p50: number; p99: number; max: number };
}

export interface TrafficOptions {
  users: number;
  /** Ids from here on; each user chats in their private chat. */
  firstUserId: number;
  /** A user waits this long for an answer before asking the next question anyway. */
  patienceMs: number;
  /** Pause between an answer and the next question. */
  thinkMs: number;
}

/**
 * N people chatting with the bot through the emulator, each asking, waiting for the answer (or
 * running out of patience), and asking again. Answers are matched by tag from the emulator's own
 * event stream, so nothing the bot sent is missed or counted twice by the harness.
 */
export class Traffic {
  private readonly questions = new Map<string, Question>();
  private readonly outstanding = new Map<number, Question>();
  private readonly waiters = new Map<string, () => void>();
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly unsubscribe: () => void;

  constructor(
    private readonly emulator: BotApiEmulator,
    private readonly opts: TrafficOptions,
  ) {
    this.unsubscribe = emulator.subscribe((e) => this.onEvent(e));
  }

  private onEvent(e: EmulatorEvent): void {
    if (e.type !== 'message' || e.chat_id === undefined) return;
    const text = String((e.data.message as { text?: unknown } | undefined)?.text ?? '');
    const tags = text.match(TAG);
    if (tags) {
      for (const tag of tags) {
        const q = this.questions.get(tag);
        if (!q) continue;
        q.answers.push(e.at);
        this.waiters.get(tag)?.();
      }
      return;
    }
    const kind = NOTICES.find(([, opening]) => opening.test(text))?.[0];
    const q = this.outstanding.get(e.chat_id);
    if (kind && q && !q.notice) {
      q.notice = kind;
      this.waiters.get(q.tag)?.();
    }
  }

  /** Ask `text` as user `userId`; resolves when it is answered or the user runs out of patience. */
  async ask(userId: number, tag: string): Promise<boolean> {
    const q: Question = { tag, userId, sentAt: Date.now(), answers: [] };
    this.questions.set(tag, q);
    this.outstanding.set(userId, q);
    const done = new Promise<void>((resolve) => this.waiters.set(tag, resolve));
    await this.emulator.client.injectMessage({
      user: { id: userId, first_name: `Chaos${userId}`, language_code: 'en' },
      text: `Question ${tag}: tell me something`,
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, this.opts.patienceMs)))]);
    clearTimeout(timer);
    this.waiters.delete(tag);
    return q.answers.length > 0;
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.opts.users }, (_, i) => this.loop(this.opts.firstUserId + i));
  }

  private async loop(userId: number): Promise<void> {
    for (let n = 1; this.running; n++) {
      await this.ask(userId, `q${userId}-${n}`);
      await new Promise((r) => setTimeout(r, this.opts.thinkMs * (0.5 + Math.random())));
    }
  }

  /** Stop asking; questions already asked keep being watched until report(). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** True once every question has an answer or a notice. */
  settled(): boolean {
    return [...this.questions.values()].every((q) => q.answers.length > 0 || q.notice);
  }

  report(): TrafficReport {
    const all = [...this.questions.values()];
    const answered = all.filter((q) => q.answers.length > 0);
    const latencies = answered.map((q) => (q.answers[0] as number) - q.sentAt).sort((a, b) => a - b);
    const at = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
    const unanswered = all.filter((q) => q.answers.length === 0);
    return {
      sent: all.length,
      answered: answered.length,
      answeredTwice: all.filter((q) => q.answers.length > 1).length,
      refused: unanswered.filter((q) => q.notice === 'quota' || q.notice === 'rate_limited').length,
      failedWithNotice: unanswered.filter((q) => q.notice === 'apology' || q.notice === 'failed').length,
      neverAnswered: unanswered.filter((q) => !q.notice).length,
      unanswered: unanswered.map((q) => `${q.tag}${q.notice ? ` (${q.notice})` : ''}`),
      duplicated: all.filter((q) => q.answers.length > 1).map((q) => q.tag),
      answerLatencyMs: { p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0 },
    };
  }

  close(): void {
    this.unsubscribe();
  }
}
