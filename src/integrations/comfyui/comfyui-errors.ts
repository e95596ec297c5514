import type { ExecutionErrorData, NodeError } from './comfyui-types.js';

/** Every ComfyUI failure: which backend, and whether trying again (anywhere) can help. */
export abstract class ComfyError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly backend: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ComfyUI refused the graph (400 on `/prompt`). The same graph fails the same way: never retry. */
export class ComfyValidationError extends ComfyError {
  override name = 'ComfyValidationError';
  readonly retryable = false;
  constructor(
    backend: string,
    /** ComfyUI's `error` object (`type`, `message`, `details`, `extra_info`) or its old bare string. */
    readonly comfyError: unknown,
    /** Node id → `{errors, dependent_outputs, class_type}`. */
    readonly nodeErrors: Record<string, NodeError>,
  ) {
    super(`ComfyUI refused the workflow: ${describeValidation(comfyError, nodeErrors)}`, backend);
  }
}

/** A node raised during execution. An out-of-memory error may pass on another backend. */
export class ComfyExecutionError extends ComfyError {
  override name = 'ComfyExecutionError';
  readonly retryable: boolean;
  readonly outOfMemory: boolean;
  constructor(
    backend: string,
    readonly promptId: string,
    readonly details: Pick<
      ExecutionErrorData,
      'node_id' | 'node_type' | 'exception_type' | 'exception_message'
    >,
  ) {
    const firstLine = details.exception_message.split('\n', 1)[0] ?? '';
    super(
      `ComfyUI node ${details.node_id} (${details.node_type}) failed: ${details.exception_type}: ${firstLine}`,
      backend,
    );
    this.outOfMemory = isOutOfMemory(details.exception_type, details.exception_message);
    this.retryable = this.outOfMemory;
  }
}

/** A ComfyError told apart only by its name and whether trying again can help. */
function comfyErrorKind(name: string, retryable: boolean) {
  return class extends ComfyError {
    override name = name;
    readonly retryable = retryable;
  };
}

/** The prompt was interrupted on the backend (by us at a deadline, or by someone else). */
export class ComfyInterruptedError extends comfyErrorKind('ComfyInterruptedError', true) {}

/** The deadline passed; the prompt was taken off the queue or interrupted. */
export class ComfyTimeoutError extends comfyErrorKind('ComfyTimeoutError', true) {}

/** The caller's signal aborted; the prompt was taken off the queue or interrupted. */
export class ComfyCancelledError extends comfyErrorKind('ComfyCancelledError', false) {}

/** The backend cannot be reached, answered 5xx/401/403, or lost the prompt (restart). */
export class ComfyUnavailableError extends comfyErrorKind('ComfyUnavailableError', true) {
  constructor(
    message: string,
    backend: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, backend, options);
  }
}

// torch ≥ 2.5 raises torch.OutOfMemoryError (torch.cuda.OutOfMemoryError before); ComfyUI appends a
// tip to the message. ROCm, MPS, cuBLAS and plain allocation failures word it differently.
const OOM_PATTERN =
  /OutOfMemoryError|out of memory|Allocation on device|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|not enough memory/i;

/** Whether a ComfyUI execution error is the GPU (or host) running out of memory. */
export function isOutOfMemory(exceptionType: string, exceptionMessage: string): boolean {
  return OOM_PATTERN.test(exceptionType) || OOM_PATTERN.test(exceptionMessage);
}

function describeValidation(error: unknown, nodeErrors: Record<string, NodeError>): string {
  const head =
    typeof error === 'string'
      ? error
      : typeof error === 'object' && error !== null
        ? String((error as { message?: unknown }).message ?? 'invalid prompt')
        : 'invalid prompt';
  const nodes = Object.entries(nodeErrors)
    .map(
      ([id, e]) => `#${id} ${e.class_type}: ${e.errors.map((x) => `${x.message} (${x.details})`).join('; ')}`,
    )
    .slice(0, 5);
  const details =
    typeof error === 'object' && error !== null ? String((error as { details?: unknown }).details ?? '') : '';
  return [head, details, ...nodes].filter(Boolean).join(' | ');
}
