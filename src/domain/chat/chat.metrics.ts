import type { Metrics } from '../../platform/metrics.js';
import { sendWindowHistogram } from '../send-window.js';

/** The chat's metrics, made once and shared by intake, the reply runner and summaries. */
export function createChatMetrics(metrics: Metrics) {
  return {
    accepted: metrics.counter({
      name: 'vitte_chat_messages_total',
      help: 'Chat messages from users by result',
      labelNames: ['result'],
    }),
    replies: metrics.counter({
      name: 'vitte_chat_replies_total',
      help: 'Reply generations by outcome',
      labelNames: ['outcome'],
    }),
    generating: metrics.gauge({
      name: 'vitte_chat_generations_in_flight',
      help: 'Replies being generated',
    }),
    leaseLost: metrics.counter({
      name: 'vitte_chat_reply_lease_lost_total',
      help: 'Replies given up because another job took the dialog over (a stall longer than the lease)',
    }),
    cut: metrics.counter({
      name: 'vitte_chat_replies_cut_total',
      help: 'Answers delivered cut at LLM_MAX_TOKENS (finish_reason "length"), offered to continue',
    }),
    sendWindow: sendWindowHistogram(metrics),
    summaries: metrics.counter({
      name: 'vitte_chat_summaries_total',
      help: 'Rolling dialog summaries written',
    }),
  };
}

export type ChatMetrics = ReturnType<typeof createChatMetrics>;
