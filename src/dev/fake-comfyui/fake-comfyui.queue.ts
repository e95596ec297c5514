import { setTimeout as sleep } from 'node:timers/promises';
import { executionOrder } from './fake-comfyui.nodes.js';
import { drawPicture } from './fake-comfyui.png.js';
import type { FakeComfyFault } from './fake-comfyui.types.js';

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;
type Data = Record<string, unknown>;

export interface Task {
  number: number;
  id: string;
  prompt: Graph;
  extra: Data;
  outputs: string[];
  fault?: FakeComfyFault;
  interrupted?: boolean;
  wake?: () => void;
  /** The node executing now. */
  node?: string;
}

export interface QueueHooks {
  /** An execution message for one client (ComfyUI sends them only to the prompt's client id). */
  send(clientId: string, type: string, data: Data): void;
  /** A binary frame for one client: a sampler preview. */
  sendBinary(clientId: string, frame: Buffer): void;
  /** `status` to every socket: the queue changed. */
  queueChanged(): void;
  /** Closes the client's sockets and refuses new ones until `allowClient`. */
  dropClient(clientId: string): void;
  allowClient(clientId: string): void;
  saveImage(key: string, png: Buffer): void;
}

const OOM_MESSAGE =
  'Allocation on device \nThis error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.';

/** ComfyUI's prompt queue: one prompt at a time, lowest number first, history kept by prompt id. */
export class FakeQueue {
  pending: Task[] = [];
  running: Task | undefined;
  history = new Map<string, Data>();
  counts = { completed: 0, failed: 0, interrupted: 0 };
  private working = false;
  private closed = false;
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly hooks: QueueHooks,
    private readonly opts: { stepMs: number; maxImageSide: number },
  ) {}

  put(task: Task): void {
    this.pending.push(task);
    this.pending.sort((a, b) => a.number - b.number);
    this.hooks.queueChanged();
    void this.work();
  }

  remaining(): number {
    return this.pending.length + (this.running ? 1 : 0);
  }

  /** Removes a pending prompt; a running one is untouched, like ComfyUI's `delete_queue_item`. */
  delete(id: string): boolean {
    const i = this.pending.findIndex((t) => t.id === id);
    if (i < 0) return false;
    this.pending.splice(i, 1);
    this.hooks.queueChanged();
    return true;
  }

  /** Stops the running prompt, or only the named one when `promptId` is given (newer ComfyUI). */
  interrupt(promptId?: string): boolean {
    const task = this.running;
    if (!task || (promptId && task.id !== promptId)) return false;
    task.interrupted = true;
    task.wake?.();
    return true;
  }

  close(): void {
    this.closed = true;
    this.running?.wake?.();
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      for (let task = this.pending.shift(); task && !this.closed; task = this.pending.shift()) {
        this.running = task;
        this.hooks.queueChanged();
        await this.execute(task);
        this.running = undefined;
        this.hooks.queueChanged();
        this.emit(task, 'executing', { node: null, prompt_id: task.id });
        if (task.fault?.kind === 'drop-socket') this.hooks.allowClient(String(task.extra.client_id));
      }
    } finally {
      this.working = false;
    }
  }

  /** ComfyUI's preview frame: event type 1 (PREVIEW_IMAGE), image type 2 (PNG), the image. */
  private preview(task: Task, step: number): void {
    const client = task.extra.client_id;
    if (typeof client !== 'string' || task.fault?.kind === 'silent') return;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(1, 0);
    header.writeUInt32BE(2, 4);
    const { text, seed } = pictureInputs(task.prompt);
    this.hooks.sendBinary(client, Buffer.concat([header, drawPicture(text, seed + step, 16, 16)]));
  }

  private emit(task: Task, type: string, data: Data): void {
    const client = task.extra.client_id;
    if (typeof client === 'string' && task.fault?.kind !== 'silent') this.hooks.send(client, type, data);
  }

  private async execute(task: Task): Promise<void> {
    const messages: [string, Data][] = [];
    const record = (type: string, data: Data) => {
      const stamped = { ...data, prompt_id: task.id, timestamp: Date.now() };
      messages.push([type, stamped]);
      this.emit(task, type, stamped);
    };
    const outputs: Record<string, Data> = {};
    const executed: string[] = [];
    record('execution_start', {});
    record('execution_cached', { nodes: [] });
    let failure: { type: 'execution_error' | 'execution_interrupted'; data: Data } | undefined;
    for (const id of executionOrder(task.prompt, task.outputs)) {
      const node = task.prompt[id] as Graph[string];
      task.node = id;
      this.emit(task, 'executing', { node: id, display_node: id, prompt_id: task.id });
      if (node.class_type === 'KSampler') failure = await this.sample(task, id, node);
      if (failure) {
        const data = { node_id: id, node_type: node.class_type, executed, ...failure.data };
        record(failure.type, data);
        break;
      }
      if (node.class_type === 'SaveImage') {
        const images = [this.save(task, node)];
        outputs[id] = { images };
        this.emit(task, 'executed', { node: id, display_node: id, output: { images }, prompt_id: task.id });
      }
      executed.push(id);
    }
    if (!failure) record('execution_success', {});
    if (failure?.type === 'execution_interrupted') this.counts.interrupted += 1;
    else if (failure) this.counts.failed += 1;
    else this.counts.completed += 1;
    this.history.set(task.id, {
      prompt: [task.number, task.id, task.prompt, task.extra, task.outputs],
      outputs,
      status: { status_str: failure ? 'error' : 'success', completed: !failure, messages },
      meta: Object.fromEntries(
        Object.keys(outputs).map((id) => [
          id,
          { node_id: id, display_node: id, parent_node: null, real_node_id: id },
        ]),
      ),
    });
  }

  /** The sampler's steps with progress; faults strike halfway. */
  private async sample(
    task: Task,
    id: string,
    node: Graph[string],
  ): Promise<{ type: 'execution_error' | 'execution_interrupted'; data: Data } | undefined> {
    const steps = Number(node.inputs.steps) || 1;
    const stepMs = task.fault?.kind === 'slow' ? task.fault.stepMs : this.opts.stepMs;
    const half = Math.ceil(steps / 2);
    for (let value = 1; value <= steps; value++) {
      await sleep(stepMs);
      if (task.interrupted || this.closed) return { type: 'execution_interrupted', data: {} };
      this.emit(task, 'progress', { value, max: steps, prompt_id: task.id, node: id });
      this.preview(task, value);
      if (value !== half) continue;
      const fault = task.fault?.kind;
      if (fault === 'oom' || fault === 'error') {
        const message = fault === 'oom' ? OOM_MESSAGE : (task.fault as { message?: string }).message;
        return {
          type: 'execution_error',
          data: {
            exception_type: fault === 'oom' ? 'torch.OutOfMemoryError' : 'RuntimeError',
            exception_message: message ?? 'mat1 and mat2 shapes cannot be multiplied',
            traceback: ['  File "execution.py", line 1, in execute\n'],
            current_inputs: {},
            current_outputs: {},
          },
        };
      }
      if (fault === 'drop-socket') this.hooks.dropClient(String(task.extra.client_id));
      if (fault === 'hang') {
        await new Promise<void>((resolve) => {
          task.wake = resolve;
          if (task.interrupted || this.closed) resolve();
        });
        return { type: 'execution_interrupted', data: {} };
      }
    }
    return undefined;
  }

  private save(task: Task, node: Graph[string]): { filename: string; subfolder: string; type: string } {
    const prefix = String(node.inputs.filename_prefix ?? 'ComfyUI');
    const slash = prefix.lastIndexOf('/');
    const subfolder = slash < 0 ? '' : prefix.slice(0, slash);
    const stem = prefix.slice(slash + 1);
    const counter = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, counter);
    const filename = `${stem}_${String(counter).padStart(5, '0')}_.png`;
    const { text, seed, width, height } = pictureInputs(task.prompt);
    const scale = Math.min(1, this.opts.maxImageSide / Math.max(width, height));
    const png = drawPicture(
      text,
      seed,
      Math.max(1, Math.round(width * scale)),
      Math.max(1, Math.round(height * scale)),
      {
        // SaveImage embeds the graph; non-Latin-1 text is escaped to stay a valid tEXt chunk.
        prompt: JSON.stringify(task.prompt).replace(
          /[^\x20-\x7e]/g,
          (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
        ),
      },
    );
    this.hooks.saveImage(`${subfolder}/${filename}`, png);
    return { filename, subfolder, type: 'output' };
  }
}

/** The positive prompt, the seed and the latent size the first sampler of the graph works with. */
function pictureInputs(graph: Graph): { text: string; seed: number; width: number; height: number } {
  const sampler = Object.values(graph).find((n) => n.class_type === 'KSampler');
  const linked = (v: unknown) => (Array.isArray(v) ? graph[String(v[0])] : undefined);
  const positive = linked(sampler?.inputs.positive);
  const latent = linked(sampler?.inputs.latent_image);
  return {
    text: String(positive?.inputs.text ?? ''),
    seed: Number(sampler?.inputs.seed ?? 0),
    width: Number(latent?.inputs.width ?? 512),
    height: Number(latent?.inputs.height ?? 512),
  };
}
