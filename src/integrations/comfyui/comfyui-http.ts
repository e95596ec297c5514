import type { ComfyBackendConfig } from './comfyui-backends.js';
import { ComfyUnavailableError, ComfyValidationError } from './comfyui-errors.js';
import type {
  ApiWorkflow,
  HistoryEntry,
  ImageRef,
  NodeError,
  ObjectInfo,
  QueueState,
  SubmitErrorBody,
  SubmitResponse,
  SystemStats,
} from './comfyui-types.js';

export interface ComfyHttpOptions {
  /** Per request; `/view` and `/object_info` (large bodies) get `slowTimeoutMs`. */
  timeoutMs: number;
  slowTimeoutMs: number;
}

/** Image bytes as `/view` served them. */
export interface ViewedImage {
  bytes: Buffer;
  contentType: string;
}

/**
 * ComfyUI's HTTP API for one backend, on global fetch. Every request carries the backend's
 * Authorization header and its own timeout; transport failures, 5xx, 401 and 403 become
 * ComfyUnavailableError (the backend, not the request, is at fault).
 */
export class ComfyHttpClient {
  constructor(
    private readonly backend: ComfyBackendConfig,
    private readonly opts: ComfyHttpOptions,
  ) {}

  get name(): string {
    return this.backend.name;
  }

  /** `POST /prompt`; a 400 becomes ComfyValidationError with ComfyUI's `error` and `node_errors`. */
  async submit(prompt: ApiWorkflow, clientId: string, promptId: string): Promise<SubmitResponse> {
    const res = await this.request('POST', '/prompt', {
      body: { prompt, client_id: clientId, prompt_id: promptId },
      accept: [400],
    });
    if (res.status === 400) {
      const body = (await readJson(res, this.name)) as Partial<SubmitErrorBody>;
      const nodeErrors = Array.isArray(body.node_errors) ? {} : (body.node_errors ?? {});
      throw new ComfyValidationError(this.name, body.error, nodeErrors as Record<string, NodeError>);
    }
    return (await readJson(res, this.name)) as SubmitResponse;
  }

  async queue(): Promise<QueueState> {
    return (await readJson(await this.request('GET', '/queue'), this.name)) as QueueState;
  }

  /** Removes pending prompts; a running one is untouched (that takes `interrupt`). */
  async deleteFromQueue(promptIds: string[]): Promise<void> {
    await drain(await this.request('POST', '/queue', { body: { delete: promptIds } }), this.name);
  }

  /**
   * `POST /interrupt`. Newer servers stop only the named prompt; older ones stop whatever runs,
   * so callers check `/queue` first.
   */
  async interrupt(promptId: string): Promise<void> {
    await drain(await this.request('POST', '/interrupt', { body: { prompt_id: promptId } }), this.name);
  }

  /** The prompt's history entry, or undefined while it is queued, running or unknown. */
  async history(promptId: string): Promise<HistoryEntry | undefined> {
    const res = await this.request('GET', `/history/${encodeURIComponent(promptId)}`);
    const body = (await readJson(res, this.name)) as Record<string, HistoryEntry>;
    return body[promptId];
  }

  async view(image: ImageRef): Promise<ViewedImage> {
    const query = new URLSearchParams({
      filename: image.filename,
      subfolder: image.subfolder,
      type: image.type,
    });
    const res = await this.request('GET', `/view?${query}`, { slow: true });
    const bytes = await readBody(res, this.name);
    return { bytes, contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  async systemStats(): Promise<SystemStats> {
    return (await readJson(await this.request('GET', '/system_stats'), this.name)) as SystemStats;
  }

  /** `GET /prompt`: just `exec_info.queue_remaining`, far lighter than `/queue`. */
  async queueRemaining(): Promise<number> {
    const body = (await readJson(await this.request('GET', '/prompt'), this.name)) as {
      exec_info?: { queue_remaining?: number };
    };
    return body.exec_info?.queue_remaining ?? 0;
  }

  async objectInfo(): Promise<ObjectInfo> {
    return (await readJson(
      await this.request('GET', '/object_info', { slow: true }),
      this.name,
    )) as ObjectInfo;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    opts: { body?: unknown; accept?: number[]; slow?: boolean } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.backend.authorization) headers.authorization = this.backend.authorization;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = opts.slow ? this.opts.slowTimeoutMs : this.opts.timeoutMs;
    const where = `${method} ${path.split('?')[0]}`;
    let res: Response;
    try {
      res = await fetch(`${this.backend.baseUrl}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? null : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const reason = timedOut ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw new ComfyUnavailableError(`${where} on ${this.name} failed: ${reason}`, this.name, undefined, {
        cause: err,
      });
    }
    if (res.ok || opts.accept?.includes(res.status)) return res;
    const text = (await res.text().catch(() => '')).slice(0, 200);
    throw new ComfyUnavailableError(
      `${where} on ${this.name} answered ${res.status}${text ? `: ${text}` : ''}`,
      this.name,
      res.status,
    );
  }
}

/** Reads a body; a body cut off or timed out midway is the backend's failure too. */
async function readBody(res: Response, backend: string): Promise<Buffer> {
  try {
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    throw new ComfyUnavailableError(
      `${backend}: reading the answer failed: ${(err as Error).message}`,
      backend,
      res.status,
      {
        cause: err,
      },
    );
  }
}

async function readJson(res: Response, backend: string): Promise<unknown> {
  const body = await readBody(res, backend);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ComfyUnavailableError(`${backend} answered with non-JSON`, backend, res.status, { cause: err });
  }
}

async function drain(res: Response, backend: string): Promise<void> {
  await readBody(res, backend);
}
