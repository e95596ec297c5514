import type { LlmClient } from '../../integrations/llm/llm-client.js';
import type { Dialog } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { ChatMetrics } from './chat.metrics.js';
import type { ChatRepository } from './chat.repository.js';
import { splitForSummary, summaryRequest } from './context-builder.js';
import { HISTORY_LIMIT } from './reply-runner.js';

export interface SummaryServiceDeps {
  repo: ChatRepository;
  dialogs: { find(id: number): Promise<Dialog | undefined> };
  settings: SettingsService;
  llm: LlmClient;
  metrics: ChatMetrics;
  logger: Logger;
  contextTokens: number;
  maxAnswerTokens: number;
}

/** Rolling dialog summaries: what no longer fits the context is folded into one, so it is not forgotten. */
export class SummaryService {
  constructor(private readonly d: SummaryServiceDeps) {}

  /**
   * The `chat.summarize` job: fold the messages that no longer fit (all but the newest half of the
   * budget, and of the history a reply reads) into the dialog's summary, so later answers still know
   * what was said.
   */
  async summarize(dialogId: number, signal?: AbortSignal): Promise<{ folded: number }> {
    const dialog = await this.d.dialogs.find(dialogId);
    if (!dialog) return { folded: 0 };
    const history = await this.d.repo.contextMessages(dialog, 400);
    const { fold } = splitForSummary(
      history,
      Math.floor((this.d.contextTokens - this.d.maxAnswerTokens) / 2),
      HISTORY_LIMIT / 2,
    );
    const last = fold.at(-1);
    if (!last) return { folded: 0 };
    const model = await this.d.settings.get('llm.model');
    const result = await this.d.llm.stream({
      messages: summaryRequest(dialog.summary, fold),
      model: model || undefined,
      signal,
    });
    if (!result.text.trim()) return { folded: 0 };
    await this.d.repo.saveSummary(dialog.id, result.text.trim(), last.id);
    this.d.metrics.summaries.inc();
    this.d.logger.info({ dialogId, folded: fold.length }, 'dialog summary updated');
    return { folded: fold.length };
  }
}
