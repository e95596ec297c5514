import { ComfyExecutionError, ComfyInterruptedError } from './comfyui-errors.js';
import type { ComfyHttpClient } from './comfyui-http.js';
import type { ExecutionErrorData, HistoryEntry, ImageRef } from './comfyui-types.js';

/** Where a prompt is on a backend. */
export type Located =
  | { where: 'history'; entry: HistoryEntry }
  | { where: 'running' }
  | { where: 'pending'; position: number }
  | { where: 'nowhere' };

/**
 * History, then queue, then history again: ComfyUI moves a finished prompt from the queue to the
 * history in one step, so a prompt in neither on the second look was never there (or was deleted).
 * `position` counts every prompt ahead of ours, running ones included (0 = next).
 */
export async function locatePrompt(http: ComfyHttpClient, promptId: string): Promise<Located> {
  const entry = await http.history(promptId);
  if (entry) return { where: 'history', entry };
  const queue = await http.queue();
  if (queue.queue_running.some((item) => item[1] === promptId)) return { where: 'running' };
  const mine = queue.queue_pending.find((item) => item[1] === promptId);
  if (mine) {
    const ahead = queue.queue_pending.filter((item) => item[0] < mine[0]).length;
    return { where: 'pending', position: queue.queue_running.length + ahead };
  }
  const late = await http.history(promptId);
  return late ? { where: 'history', entry: late } : { where: 'nowhere' };
}

/**
 * Takes a pending prompt off the queue, or interrupts it if it is the running one. `/interrupt` is
 * global on older servers, so it is sent only after `/queue` shows our prompt running.
 */
export async function cancelPrompt(
  http: ComfyHttpClient,
  promptId: string,
): Promise<'dequeued' | 'interrupted' | 'not-queued'> {
  const queue = await http.queue();
  if (queue.queue_pending.some((item) => item[1] === promptId)) {
    await http.deleteFromQueue([promptId]);
    return 'dequeued';
  }
  if (queue.queue_running.some((item) => item[1] === promptId)) {
    await http.interrupt(promptId);
    return 'interrupted';
  }
  return 'not-queued';
}

/** The image a finished prompt saved; a failed one throws the error its history recorded. */
export function historyImage(
  entry: HistoryEntry,
  backend: string,
  promptId: string,
  outputNode: string | undefined,
): ImageRef {
  const noImage = (message: string) =>
    new ComfyExecutionError(backend, promptId, {
      node_id: outputNode ?? '',
      node_type: 'output',
      exception_type: 'NoImageOutput',
      exception_message: message,
    });
  if (entry.status?.status_str === 'error') {
    const messages = entry.status.messages ?? [];
    const error = messages.find(([event]) => event === 'execution_error');
    if (error) throw new ComfyExecutionError(backend, promptId, error[1] as unknown as ExecutionErrorData);
    if (messages.some(([event]) => event === 'execution_interrupted'))
      throw interruptedError(backend, promptId);
    throw noImage('ComfyUI recorded an error without details');
  }
  const outputs = entry.outputs ?? {};
  const image =
    outputNode !== undefined
      ? outputs[outputNode]?.images?.[0]
      : Object.values(outputs).find((o) => o.images?.[0])?.images?.[0];
  if (!image) throw noImage('the workflow finished without saving an image');
  return image;
}

export function interruptedError(backend: string, promptId: string): ComfyInterruptedError {
  return new ComfyInterruptedError(`prompt ${promptId} was interrupted on ${backend}`, backend);
}
