import type net from 'node:net';
import type { Logger } from 'pino';
import type { Directory } from './directory.js';
import type { TimerSet } from './fault-actions.js';
import type { FaultRegistry } from './faults.js';
import type { LimitTable } from './limits.js';
import type { MailboxUsage } from './mailbox-usage.js';
import type { MessageStore } from './message-store.js';
import type { StatsRecorder } from './stats.js';
import type { TokenAuthority } from './token-authority.js';

/** Shared state the SMTP handlers read and update. */
export interface SmtpContext {
  directory: Directory;
  tokens: TokenAuthority;
  limits: LimitTable;
  usage: MailboxUsage;
  stats: StatsRecorder;
  store: MessageStore;
  faults: FaultRegistry;
  timers: TimerSet;
  logger: Logger;
}

/** Per-connection state, keyed by the smtp-server session id. */
export interface SessionState {
  id: string;
  /** The accepted TCP socket; destroying it also ends a TLS session on top of it. */
  socket: net.Socket;
  /** Authenticated mailbox, lower case, set once AUTH succeeded and a session slot was taken. */
  mailbox?: string;
  closed: boolean;
  /** Fault reply lines that must be written exactly as given, without rewriting. */
  exactReplies: Set<string>;
}
