/**
 * ComfyUI's wire format, as its `server.py`, `execution.py` and `main.py` speak it. Only the fields
 * we read are typed; everything else passes through untouched.
 */

/** One node of an API-format graph ("Save (API Format)"). Links are `[nodeId, outputIndex]`. */
export interface ApiNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}

/** An API-format workflow: node id → node. */
export type ApiWorkflow = Record<string, ApiNode>;

/** Where a saved image lives, as `executed` and `/history` report it; `/view` takes the same fields. */
export interface ImageRef {
  filename: string;
  subfolder: string;
  type: string;
}

/** `POST /prompt` → 200. */
export interface SubmitResponse {
  prompt_id: string;
  number: number;
  node_errors: Record<string, unknown>;
}

/** `POST /prompt` → 400. Very old servers sent `error` as a bare string. */
export interface SubmitErrorBody {
  error: { type: string; message: string; details: string; extra_info: Record<string, unknown> } | string;
  node_errors: Record<string, NodeError> | unknown[];
}

export interface NodeError {
  errors: { type: string; message: string; details: string; extra_info?: Record<string, unknown> }[];
  dependent_outputs: string[];
  class_type: string;
}

/** A queue item: `[number, prompt_id, prompt, extra_data, outputs_to_execute, …]`. */
export type QueueItem = [number, string, ...unknown[]];

/** `GET /queue`. */
export interface QueueState {
  queue_running: QueueItem[];
  queue_pending: QueueItem[];
}

/** A message recorded in a history entry's status: `[event, data]`. */
export type StatusMessage = [string, Record<string, unknown>];

/** One entry of `GET /history/{prompt_id}` (the response maps the id to it). */
export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, { images?: ImageRef[] } & Record<string, unknown>>;
  status?: { status_str: 'success' | 'error'; completed: boolean; messages: StatusMessage[] } | null;
}

/** `GET /system_stats`. */
export interface SystemStats {
  system: Record<string, unknown>;
  devices: { name: string; type: string; vram_total: number; vram_free: number }[];
}

/** `GET /object_info`: class name → node definition. */
export type ObjectInfo = Record<string, { input?: Record<string, unknown>; output?: unknown[] }>;

/** `execution_error` data (the same object is kept in the history entry's status messages). */
export interface ExecutionErrorData {
  prompt_id: string;
  node_id: string;
  node_type: string;
  exception_message: string;
  exception_type: string;
  traceback?: string[];
}

/**
 * A JSON frame of `/ws`: `{type, data}`. Execution messages reach only the socket whose `clientId`
 * was given with the prompt; `status` is broadcast to every socket.
 */
export type WsMessage =
  | { type: 'status'; data: { status: { exec_info: { queue_remaining: number } }; sid?: string } }
  | { type: 'execution_start'; data: { prompt_id: string } }
  | { type: 'execution_cached'; data: { prompt_id: string; nodes: string[] } }
  | { type: 'executing'; data: { prompt_id?: string; node: string | null; display_node?: string } }
  | { type: 'progress'; data: { prompt_id?: string; value: number; max: number; node?: string } }
  | { type: 'executed'; data: { prompt_id: string; node: string; output: { images?: ImageRef[] } } }
  | { type: 'execution_success'; data: { prompt_id: string } }
  | { type: 'execution_error'; data: ExecutionErrorData }
  | { type: 'execution_interrupted'; data: { prompt_id: string; node_id: string; node_type: string } };

/** Execution messages that concern one prompt (everything but `status`). */
export type PromptMessage = Exclude<WsMessage, { type: 'status' }>;
