import type { AcceptedMessage } from './types.js';

interface StoredMessage {
  message: AcceptedMessage;
  raw: Buffer;
}

/** Accepted messages in acceptance order, with their RFC 5322 sources. */
export class MessageStore {
  #messages: StoredMessage[] = [];
  #byId = new Map<string, StoredMessage>();
  #acceptedMessageIds = new Set<string>();

  /** Stores a message; returns false when its Message-ID was accepted before. */
  add(message: AcceptedMessage, raw: Buffer): boolean {
    const stored = { message, raw };
    this.#messages.push(stored);
    this.#byId.set(message.id, stored);
    const isFirst = !this.#acceptedMessageIds.has(message.messageId);
    this.#acceptedMessageIds.add(message.messageId);
    return isFirst;
  }

  /** Copies of the stored messages, only those of `mailbox` when given (case-insensitive). */
  list(mailbox?: string): AcceptedMessage[] {
    const wanted = mailbox?.toLowerCase();
    return this.#messages
      .filter((stored) => wanted === undefined || stored.message.mailbox.toLowerCase() === wanted)
      .map((stored) => structuredClone(stored.message));
  }

  get(id: string): AcceptedMessage | undefined {
    const stored = this.#byId.get(id);
    return stored === undefined ? undefined : structuredClone(stored.message);
  }

  raw(id: string): Buffer | undefined {
    return this.#byId.get(id)?.raw;
  }

  clear(): void {
    this.#messages = [];
    this.#byId.clear();
    this.#acceptedMessageIds.clear();
  }
}
