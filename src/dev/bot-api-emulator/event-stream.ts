import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { EventHub } from './event-hub.js';

const PING_MS = 15_000;

/**
 * Open Server-Sent Event streams, so closing the emulator can end them (a hijacked reply is
 * invisible to Fastify's close).
 */
export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly events: EventHub) {}

  /** Streams every event (or those of one chat plus chat-less ones) as `data: <json>` lines. */
  stream(reply: FastifyReply, chatId: number | undefined): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n: connected\n\n');
    const unsubscribe = this.events.subscribe((event) => {
      if (chatId !== undefined && event.chat_id !== undefined && event.chat_id !== chatId) return;
      res.write(`id: ${event.seq}\ndata: ${JSON.stringify(event)}\n\n`);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), PING_MS);
    this.open.add(res);
    res.on('close', () => {
      unsubscribe();
      clearInterval(ping);
      this.open.delete(res);
    });
  }

  closeAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
