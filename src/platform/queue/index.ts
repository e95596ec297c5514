export { type BullmqJobQueue, type BullmqQueueOptions, createBullmqQueue } from './bullmq-queue.js';
export {
  JobAbandonedError,
  JobDeferredError,
  JobDefinitionError,
  JobFailedError,
  JobHandlersError,
  JobPayloadError,
  JobRateLimitedError,
  JobTimeoutError,
  JobWaitTimeoutError,
  QueueClosedError,
  UnknownJobError,
  UnrecoverableJobError,
} from './errors.js';
export { createInlineQueue } from './inline-queue.js';
export type * from './queue.js';
export { defineJobs, mergeHandlers } from './queue.js';
