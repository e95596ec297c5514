import type { ChatMessage, LlmClient } from '../../integrations/llm/llm-client.js';
import type { ImageJob } from '../../platform/db/schema.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { ImageJobsRepository } from './image-jobs.repository.js';

/** The dialog a picture is drawn from: this many newest messages, each cut to this many characters. */
const EXCERPT_MESSAGES = 12;
const EXCERPT_CHARS = 600;

export interface PromptWriterDeps {
  repo: Pick<ImageJobsRepository, 'dialogExcerpt' | 'find'>;
  llm: Pick<LlmClient, 'stream'>;
  settings: Pick<SettingsService, 'get'>;
}

/** What the AI is asked: the recent dialog (🎨), or the prompt to vary (🔁). */
export async function promptRequest(d: PromptWriterDeps, job: ImageJob): Promise<ChatMessage[] | undefined> {
  const system: ChatMessage = { role: 'system', content: await d.settings.get('images.prompt_writer') };
  if (job.source === 'variation') {
    const parent = job.parent_id === null ? undefined : await d.repo.find(job.parent_id);
    if (!parent?.prompt) return undefined;
    return [
      system,
      {
        role: 'user',
        content: `Write a close variation of this picture prompt: keep its subject and style, change one or two details.\n\n${parent.prompt}`,
      },
    ];
  }
  if (job.dialog_id === null || job.source_message_id === null) return undefined;
  const excerpt = await d.repo.dialogExcerpt(job.dialog_id, job.source_message_id, EXCERPT_MESSAGES);
  if (!excerpt.length) return undefined;
  const lines = excerpt
    .reverse()
    .map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content.slice(0, EXCERPT_CHARS)}`);
  return [
    system,
    { role: 'user', content: `The conversation:\n\n${lines.join('\n\n')}\n\nWrite the picture prompt.` },
  ];
}

/** The model's answer as a prompt: the first paragraph, without quotes or a "Prompt:" label. */
export function cleanPrompt(text: string): string {
  const first = text.trim().split(/\n\s*\n/)[0] ?? '';
  return first
    .replace(/^\s*(?:image\s+)?prompt\s*:\s*/i, '')
    .replace(/^["'«“]+|["'»”]+$/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Asks the AI for the job's prompt; undefined when there is nothing to draw from. */
export async function writePrompt(
  d: PromptWriterDeps,
  job: ImageJob,
  signal: AbortSignal,
): Promise<string | undefined> {
  const messages = await promptRequest(d, job);
  if (!messages) return undefined;
  const completion = await d.llm.stream({ messages, signal });
  return cleanPrompt(completion.text) || undefined;
}
