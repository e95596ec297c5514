import { createFakeLlm } from '../src/dev/fake-llm/index.js';
import { createDatabase } from '../src/platform/db/database.js';
import { silentLogger } from '../test/helpers/db.js';
import {
  type BenchEnvironment,
  startBenchEnvironment,
  startVitteRole,
  type VitteRole,
  WEBHOOK_PATH,
  WEBHOOK_SECRET,
} from './harness/bench-environment.js';
import { type ClosedLoopResult, runClosedLoop, webhookPoster } from './harness/load-generator.js';
import { chatIteration, registerUsers } from './harness/scenarios.js';
import { benchUser, createUpdateFactory } from './harness/telegram-updates.js';
import type { Report } from './run.js';

/** Buyers pressing Pay over and over; they are also among the chatting users. */
const BUYERS = 10;
const CHATTERS = 50;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const PRICE = 99;

const updates = createUpdateFactory();
const ms = (v: number) => `${v.toFixed(1)} ms`;

/** An open order per buyer, as /buy makes them (a 20-image pack), straight into the database. */
async function insertOrders(env: BenchEnvironment): Promise<string[]> {
  const database = createDatabase(
    {
      url: env.databaseUrl,
      dataDir: '',
      poolMax: 2,
      statementTimeoutMs: 30_000,
      connectTimeoutMs: 5_000,
      applicationName: 'vitte-bench',
    },
    silentLogger,
  );
  try {
    const refs = Array.from({ length: BUYERS }, (_, u) => `obench${u}-${Date.now().toString(36)}`);
    await database.db
      .insertInto('orders')
      .values(
        refs.map((reference, u) => ({
          reference,
          user_id: benchUser(u).id,
          product_code: 'pack_20',
          kind: 'pack' as const,
          title: '20 images',
          price: PRICE,
          images: 20,
          expires_at: new Date(Date.now() + 3_600_000),
        })),
      )
      .execute();
    return refs;
  } finally {
    await database.close();
  }
}

/** Answers the api counted, from its /metrics: every one must be an "ok". */
async function answers(api: VitteRole): Promise<Record<string, number>> {
  const text = await (await fetch(`${api.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^vitte_precheckout_answers_total\{result="(\w+)"\} (\d+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * Issue 11: how long a pre_checkout_query waits for its answer — alone, and while 50 users chat
 * (a streaming fake LLM; the buyers are among them, so their own chats are busy). `vitte api` in
 * webhook mode answers with answerPreCheckoutQuery before the webhook request returns, so the
 * request's time is the answer's (Telegram allows 10 s; the target is < 1 s at p99).
 */
export default async function payments(report: Report): Promise<void> {
  const env = await startBenchEnvironment('payments');
  // Answers stream for about a second (drafts on the way), like a short real answer.
  const llm = await createFakeLlm({
    defaultReply: {
      text: 'A streamed answer from the fake model, in many small pieces. '.repeat(3),
      chunkSize: 12,
      chunkDelayMs: 60,
    },
  });
  const chatEnv = { LLM_BASE_URL: llm.url, WORKER_CONCURRENCY: '32', LLM_MAX_CONCURRENCY: '64' };
  const roles: VitteRole[] = [];
  let post: ReturnType<typeof webhookPoster> | undefined;
  try {
    roles.push(await startVitteRole(env, 'worker', { env: chatEnv }));
    const api = await startVitteRole(env, 'api', { env: chatEnv });
    roles.push(api);
    post = webhookPoster({ url: `${api.url}${WEBHOOK_PATH}`, secret: WEBHOOK_SECRET });
    const poster = post;
    await registerUsers(poster, updates, CHATTERS);
    const refs = await insertOrders(env);
    const preCheckout = async (u: number) => ({
      answer: await poster.post(updates.preCheckoutQuery(benchUser(u), refs[u]!, PRICE)),
    });
    const measure = (users: number, iteration: (u: number) => Promise<Record<string, number>>) =>
      runClosedLoop({ users, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, iteration });
    const summary = (r: ClosedLoopResult) => r.latencies.answer!;

    const alone = await measure(BUYERS, preCheckout);
    const a = summary(alone);
    report(
      'precheckout_alone_p50',
      a.p50,
      'ms',
      `${BUYERS} buyers in a closed loop, nothing else; ${alone.completed} answers`,
    );
    report('precheckout_alone_p99', a.p99, 'ms', 'target < 1000 (Telegram: 10 s)');

    const chat = chatIteration(poster, updates, env.sink);
    const [loaded, chatting] = await Promise.all([
      measure(BUYERS, preCheckout),
      runClosedLoop({ users: CHATTERS, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, iteration: chat }),
    ]);
    const l = summary(loaded);
    const c = chatting.latencies.answer;
    report(
      'precheckout_under_chat_p50',
      l.p50,
      'ms',
      `${BUYERS} buyers while ${CHATTERS} users chat (buyers among them); ${loaded.completed} answers`,
    );
    report('precheckout_under_chat_p99', l.p99, 'ms', 'target < 1000');
    report('precheckout_under_chat_max', l.max, 'ms');
    report(
      'chat_messages_per_second_during',
      chatting.perSecond,
      'msg/s',
      `${chatting.completed} answers, ${chatting.errors} unanswered; answer p99 ${c ? ms(c.p99) : '-'}`,
    );
    const counted = await answers(api);
    const refused = Object.entries(counted).filter(([k]) => k !== 'ok');
    report(
      'precheckout_refused',
      refused.reduce((n, [, v]) => n + v, 0),
      'answers',
      refused.length ? JSON.stringify(counted) : 'every answer was ok',
    );
    process.stderr.write(
      `\npre-checkout answer  alone p50 ${ms(a.p50)} p99 ${ms(a.p99)}  |  under ${CHATTERS}-user chat load p50 ${ms(l.p50)} p99 ${ms(l.p99)} max ${ms(l.max)} (target p99 < 1000 ms)\n`,
    );
  } finally {
    post?.close();
    await Promise.all(roles.map((r) => r.stop()));
    await llm.close();
    await env.close();
  }
}
