import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../../platform/http.js';
import { EmulatorClientError } from '../bot-api-emulator/index.js';

export interface ProxyRequest {
  body: unknown;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
}

/** Emulator refusals keep their status; an unreachable emulator is a 502. */
export function sendUpstreamError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof EmulatorClientError) {
    return sendError(reply, err.status >= 500 ? 502 : err.status, 'emulator_error', err.message);
  }
  reply.log.warn({ err }, 'playground: bot api emulator unreachable');
  return sendError(reply, 502, 'emulator_unreachable', 'The Bot API emulator is not reachable.');
}

function isUpstreamFailure(err: unknown): boolean {
  // fetch() rejects with a TypeError ("fetch failed") when the emulator cannot be reached.
  return err instanceof EmulatorClientError || (err instanceof TypeError && /fetch/i.test(err.message));
}

/** A route handler that turns emulator failures into clean 4xx/502 answers. */
export function proxy<T>(run: (req: ProxyRequest) => Promise<T>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<T | FastifyReply> => {
    try {
      return await run(req as unknown as ProxyRequest);
    } catch (err) {
      if (isUpstreamFailure(err)) return sendUpstreamError(reply, err);
      throw err;
    }
  };
}
