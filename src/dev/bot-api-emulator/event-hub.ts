import type { EmulatorEvent, EmulatorEventType } from './types.js';

export type EventListener = (event: EmulatorEvent) => void;

/** Fan-out of everything that happens in the emulator; the SSE route and tests subscribe. */
export class EventHub {
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly nextSeq: () => number) {}

  emit(type: EmulatorEventType, chatId: number | undefined, data: Record<string, unknown>): void {
    if (this.listeners.size === 0) return;
    const event: EmulatorEvent = {
      seq: this.nextSeq(),
      type,
      at: Date.now(),
      ...(chatId === undefined ? {} : { chat_id: chatId }),
      data,
    };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken subscriber (e.g. a closed socket) must not stop the emulator or other subscribers.
      }
    }
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }
}
