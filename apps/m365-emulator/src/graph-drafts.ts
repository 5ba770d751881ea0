import { randomBytes } from 'node:crypto';
import type { DraftSummary } from './types.js';

/** A file attached to a draft, by POST or by a finished upload session. */
export interface DraftAttachment {
  id: string;
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
  content: Buffer;
}

/** The `AttachmentItem` of a createUploadSession request, checked. */
export interface AttachmentItem {
  name: string;
  /** Size of the whole file in bytes. */
  size: number;
  contentType: string;
  isInline: boolean;
  contentId?: string;
}

/** An upload session: the bytes received so far for one attachment of a draft. */
export interface UploadSession {
  id: string;
  draftId: string;
  mailbox: string;
  /** Secret in the pre-authenticated upload URL, which takes the place of a bearer token. */
  authToken: string;
  item: AttachmentItem;
  chunks: Buffer[];
  receivedBytes: number;
  expiresAtMs: number;
}

/** A message in a mailbox's Drafts folder, created from MIME. */
export interface Draft {
  id: string;
  /** Mailbox address in lower case. */
  mailbox: string;
  raw: Buffer;
  attachments: DraftAttachment[];
  createdAt: number;
  /** True while a send of the draft runs, so that a second send finds no draft. */
  sending: boolean;
}

/** Outlook item ids are long base64 strings that start with `AAMkA`; these only look alike. */
function newItemId(): string {
  return `AAMkA${randomBytes(32).toString('base64url')}`;
}

/** Drafts and their upload sessions, until they are sent or deleted. */
export class DraftStore {
  readonly #drafts = new Map<string, Draft>();
  readonly #sessions = new Map<string, UploadSession>();

  create(mailbox: string, raw: Buffer, nowMs: number): Draft {
    const draft: Draft = {
      id: newItemId(),
      mailbox: mailbox.toLowerCase(),
      raw,
      attachments: [],
      createdAt: nowMs,
      sending: false,
    };
    this.#drafts.set(draft.id, draft);
    return draft;
  }

  /** Returns the draft when it exists in `mailbox`; another mailbox's draft is not found. */
  get(mailbox: string, id: string): Draft | undefined {
    const draft = this.#drafts.get(id);
    return draft?.mailbox === mailbox.toLowerCase() ? draft : undefined;
  }

  /** Removes a draft and its upload sessions. */
  delete(id: string): void {
    this.#drafts.delete(id);
    for (const session of this.#sessions.values()) {
      if (session.draftId === id) {
        this.#sessions.delete(session.id);
      }
    }
  }

  addAttachment(draft: Draft, attachment: Omit<DraftAttachment, 'id'>): DraftAttachment {
    const added = { ...attachment, id: newItemId() };
    draft.attachments.push(added);
    return added;
  }

  openSession(draft: Draft, item: AttachmentItem, expiresAtMs: number): UploadSession {
    const session: UploadSession = {
      id: newItemId(),
      draftId: draft.id,
      mailbox: draft.mailbox,
      authToken: randomBytes(32).toString('base64url'),
      item,
      chunks: [],
      receivedBytes: 0,
      expiresAtMs,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  session(id: string): UploadSession | undefined {
    return this.#sessions.get(id);
  }

  closeSession(id: string): void {
    this.#sessions.delete(id);
  }

  /**
   * Appends the next byte range, which the caller checked. Once every byte arrived, attaches the
   * file to the draft, closes the session and returns the attachment.
   */
  append(session: UploadSession, bytes: Buffer): DraftAttachment | undefined {
    session.chunks.push(bytes);
    session.receivedBytes += bytes.length;
    if (session.receivedBytes < session.item.size) {
      return undefined;
    }
    this.#sessions.delete(session.id);
    const draft = this.#drafts.get(session.draftId);
    if (draft === undefined) {
      return undefined;
    }
    const { item } = session;
    return this.addAttachment(draft, {
      name: item.name,
      contentType: item.contentType,
      isInline: item.isInline,
      ...(item.contentId === undefined ? {} : { contentId: item.contentId }),
      content: Buffer.concat(session.chunks),
    });
  }

  /** Bytes the draft contains or has announced: its MIME source, attachments and open sessions. */
  sizeBytes(draft: Draft): number {
    let size = draft.raw.length;
    for (const attachment of draft.attachments) {
      size += attachment.content.length;
    }
    for (const session of this.#sessions.values()) {
      if (session.draftId === draft.id) {
        size += session.item.size;
      }
    }
    return size;
  }

  list(mailbox?: string): DraftSummary[] {
    const mailboxKey = mailbox?.toLowerCase();
    return [...this.#drafts.values()]
      .filter((draft) => mailboxKey === undefined || draft.mailbox === mailboxKey)
      .map((draft) => ({
        id: draft.id,
        mailbox: draft.mailbox,
        sizeBytes: draft.raw.length,
        attachments: draft.attachments.map(({ name, content }) => ({ name, size: content.length })),
        openUploadSessions: [...this.#sessions.values()].filter(
          (session) => session.draftId === draft.id,
        ).length,
        createdAt: draft.createdAt,
      }));
  }

  clear(): void {
    this.#drafts.clear();
    this.#sessions.clear();
  }
}
