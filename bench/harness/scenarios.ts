import type { BotApiSink } from './bot-api-sink.js';
import type { WebhookPoster } from './load-generator.js';
import { benchUser, type UpdateFactory } from './telegram-updates.js';

/** Every user sends /start once, so later iterations find them registered (and cached). */
export async function registerUsers(
  poster: WebhookPoster,
  updates: UpdateFactory,
  users: number,
): Promise<void> {
  await Promise.all(
    Array.from({ length: users }, (_, u) => poster.post(updates.message(benchUser(u), '/start'))),
  );
}

/**
 * /status: the handler answers with sendMessage before the webhook request returns (in `vitte api`
 * and in the null bot alike), so the response time is the whole handling.
 */
export function statusIteration(poster: WebhookPoster, updates: UpdateFactory) {
  return async (u: number) => ({ latency: await poster.post(updates.message(benchUser(u), '/status')) });
}

/** A chat message with no answer by then failed, as far as its user can tell. */
const ANSWER_WITHIN_MS = 10_000;

export interface ChatIteration {
  (u: number): Promise<Record<string, number>>;
  /** Answers that came without any draft before them (then the draft time is the answer's). */
  readonly undrafted: number;
}

/**
 * A chat message, closed on the answer: post the text, wait for the first visible output at the
 * sink (sendMessageDraft, or the answer itself when the stream was too short for a draft) and for
 * the final sendMessage. The webhook answers as soon as the message is queued; the user waits for
 * the reply, as a person does.
 */
export function chatIteration(
  poster: WebhookPoster,
  updates: UpdateFactory,
  sink: BotApiSink,
): ChatIteration {
  let undrafted = 0;
  let n = 0;
  const iteration = async (u: number) => {
    const user = benchUser(u);
    const first = sink.next(user.id, ['sendMessageDraft', 'sendMessage'], ANSWER_WITHIN_MS);
    const answer = sink.next(user.id, ['sendMessage'], ANSWER_WITHIN_MS);
    // Whatever happens to the post, these must not become unhandled rejections later.
    first.catch(() => undefined);
    answer.catch(() => undefined);
    n += 1;
    const sent = performance.now();
    const accepted = await poster.post(
      updates.message(user, `Question number ${n}: what is the weather like?`),
    );
    const [draft, final] = await Promise.all([first, answer]);
    if (draft.method === 'sendMessage') undrafted += 1;
    return { accepted, firstDraft: draft.at - sent, answer: final.at - sent };
  };
  return Object.defineProperty(iteration, 'undrafted', { get: () => undrafted }) as unknown as ChatIteration;
}
