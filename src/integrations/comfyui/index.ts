export { type ComfyBackendConfig, type ParseBackendsResult, parseComfyBackends } from './comfyui-backends.js';
export {
  ComfyCancelledError,
  ComfyError,
  ComfyExecutionError,
  ComfyInterruptedError,
  ComfyTimeoutError,
  ComfyUnavailableError,
  ComfyValidationError,
  isOutOfMemory,
} from './comfyui-errors.js';
export { ComfyHttpClient, type ViewedImage } from './comfyui-http.js';
export type { RunOutcome } from './comfyui-metrics.js';
export {
  type BackendLease,
  type BackendStatus,
  ComfyPool,
  type ComfyPoolOptions,
  type PoolRunRequest,
} from './comfyui-pool.js';
export { LeaveRunning, type RunProgress, type RunRequest, type RunResult } from './comfyui-run.js';
export type { AcquireOptions } from './comfyui-slots.js';
export type {
  ApiNode,
  ApiWorkflow,
  HistoryEntry,
  ImageRef,
  ObjectInfo,
  QueueState,
} from './comfyui-types.js';
export {
  applyWorkflow,
  checkAgainstObjectInfo,
  DEFAULT_WORKFLOW_DIR,
  type InputTarget,
  loadWorkflows,
  parseWorkflow,
  WORKFLOW_PARAMS,
  type WorkflowDefinition,
  WorkflowError,
  type WorkflowParamName,
  type WorkflowParams,
} from './comfyui-workflow.js';
