/**
 * A scripted failure. Plain JSON, so tests in another process can send it through `/_fake/faults`.
 * - `reject`: 400 on `POST /prompt`, in ComfyUI's validation shape;
 * - `oom`: the sampler raises `torch.OutOfMemoryError` halfway (an `execution_error`);
 * - `error`: the sampler raises a plain `RuntimeError` halfway;
 * - `hang`: the sampler stops halfway and never finishes until `/interrupt`;
 * - `drop-socket`: the client's socket is closed halfway and refused until the prompt ends;
 * - `silent`: no socket message about the prompt at all (the history still records it);
 * - `slow`: every sampler step takes `stepMs`;
 * - `slow-submit`: `POST /prompt` answers (and queues the prompt) only after `ms`.
 */
export type FakeComfyFault =
  | { kind: 'reject' }
  | { kind: 'oom' }
  | { kind: 'error'; message?: string }
  | { kind: 'hang' }
  | { kind: 'drop-socket' }
  | { kind: 'silent' }
  | { kind: 'slow'; stepMs: number }
  | { kind: 'slow-submit'; ms: number };

export interface FakeComfyOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** When set, every request and the socket upgrade must carry exactly this Authorization header. */
  authorization?: string;
  /** Time a sampler step takes (default 10 ms). */
  stepMs?: number;
  /** What `CheckpointLoaderSimple` offers (default `sd_xl_base_1.0.safetensors`). */
  checkpoints?: string[];
  /** Behave like ComfyUI before mid-2025: ignore a client's `prompt_id` and make a uuid. */
  legacyPromptIds?: boolean;
  /** The drawn PNG keeps the requested aspect but is at most this wide or high (default 512). */
  maxImageSide?: number;
}

export interface FakeComfyStats {
  /** `POST /prompt` calls per prompt id, refused ones included. */
  submits: Record<string, number>;
  accepted: number;
  rejected: number;
  /** Prompts executed to the end, failed, or interrupted. */
  completed: number;
  failed: number;
  interrupted: number;
  /** `POST /interrupt` calls, and those that hit a running prompt. */
  interruptRequests: number;
  /** Pending prompts removed through `POST /queue {delete}`. */
  deleted: number;
  historyRequests: number;
  viewRequests: number;
  /** Requests (socket upgrades included) refused for a missing or wrong Authorization header. */
  unauthorized: number;
  /** Socket connections accepted since start, and open now. */
  socketConnections: number;
  socketsOpen: number;
}

export interface FakeComfyControl {
  /** The fault for one prompt id (applied when it is submitted). */
  failPrompt(promptId: string, fault: FakeComfyFault): void;
  /** The fault for each of the next `count` submitted prompts. */
  failNext(fault: FakeComfyFault, count?: number): void;
  /** While false the server answers 503 to everything and refuses and closes sockets. */
  setAvailable(available: boolean): void;
  /** Prompt ids running and pending, in order. */
  queue(): { running: string[]; pending: string[] };
  stats(): FakeComfyStats;
  /** Forgets faults, counters, history and images (the queue is left alone). */
  reset(): void;
}

export interface FakeComfy extends FakeComfyControl {
  /** Base URL to configure, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  close(): Promise<void>;
}
