import type { Logger } from 'pino';
import type { Fault, FaultSpec } from './faults.js';

/** An Entra ID app registration that has SMTP.SendAsApp and FullAccess on its mailboxes. */
export interface EmulatorApp {
  tenantId: string;
  clientId: string;
  /** Secret the token endpoint accepts as `client_secret`. */
  clientSecret?: string;
  /** PEM certificate whose private key signs client assertions (`client_assertion`). */
  certificatePem?: string;
  /** Mailboxes this app has SMTP.SendAsApp and FullAccess on. */
  mailboxes: string[];
}

/** Exchange Online sending limits of one mailbox. Time windows are in emulated time units. */
export interface EmulatorLimits {
  /** Accepted messages per rolling time unit (one emulated minute). Exchange default 30. */
  messagesPerMinute: number;
  /** RCPT TO commands accepted in one message. Exchange default 500. */
  recipientsPerMessage: number;
  /** Authenticated SMTP sessions open at the same time. Exchange default 3. */
  connectionsPerMailbox: number;
  /** Envelope recipients per rolling 1440 time units (one emulated day). Exchange default 10,000. */
  recipientsPerDay: number;
  /** Largest message accepted, in bytes of DATA. Exchange default 35 MB. */
  maxMessageBytes: number;
  /** Graph requests of one mailbox in progress at the same time. Graph default 4. */
  graphConcurrentRequests: number;
  /** Largest Graph request body, in bytes, for every Graph request. Graph default 4 MB. */
  graphMaxRequestBytes: number;
  /** Attachment bytes uploaded through upload sessions per 5 time units. Graph default 150 MB. */
  graphUploadBytesPerFiveMinutes: number;
}

export interface EmulatorOptions {
  /** Address every server listens on. Default `127.0.0.1`. */
  host?: string;
  /** SMTP submission port; 0 picks a free port. Default 0. */
  smtpPort?: number;
  /** HTTPS port of the token endpoint; 0 picks a free port. Default 0. */
  httpsPort?: number;
  /** Plain-HTTP admin API port; 0 picks a free port. Default 0. */
  apiPort?: number;
  /** HTTPS port of the Microsoft Graph endpoint; 0 picks a free port. Default 0. */
  graphPort?: number;
  /** Length of one emulated minute in milliseconds; a day is 1440 of them. Default 60000. */
  timeUnitMs?: number;
  /** Lifetime of issued tokens in real seconds (not scaled); 0 issues expired tokens. Default 3600. */
  tokenLifetimeSeconds?: number;
  apps: EmulatorApp[];
  /** Limits of every mailbox; unset fields keep the Exchange Online defaults. */
  limits?: Partial<EmulatorLimits>;
  /** Per-mailbox limit overrides, keyed by mailbox address. */
  mailboxLimits?: Record<string, Partial<EmulatorLimits>>;
  /** Other From addresses each mailbox has Send As permission for, keyed by mailbox address. */
  sendAs?: Record<string, string[]>;
  /** Extra DNS names for the certificate, besides `localhost` and `127.0.0.1`. */
  certificateHostnames?: string[];
  /** Directory for the certificate and key files. Default: a new temporary directory. */
  stateDir?: string;
  /** Logger for starts, stops and rejected requests. Default: a silent logger. */
  logger?: Logger;
}

/** Counts of replies the emulator sent because a limit or a permission was exceeded. */
export interface ViolationCounts {
  /** Messages rejected at the end of DATA because the per-minute rate was used up. */
  rate: number;
  /** AUTH commands rejected with 432 because the mailbox had all its sessions open. */
  connections: number;
  /** RCPT TO commands rejected beyond the per-message recipient limit. */
  recipientsPerMessage: number;
  /** Messages rejected because the rolling-day recipient quota was used up. */
  recipientsPerDay: number;
  /** Messages rejected for their size, at MAIL FROM (SIZE=) or at the end of DATA. */
  size: number;
  /** Rejected authentication: 535 replies and MAIL FROM without AUTH (530). */
  auth: number;
  /** MAIL FROM or From header addresses rejected with 5.7.60, or by Graph with ErrorSendAsDenied. */
  sendAs: number;
  /** Graph requests rejected with 429 because the mailbox had all its concurrent requests open. */
  graphConcurrency: number;
  /** Byte ranges rejected with 429 because the mailbox used up its upload volume. */
  graphUploadVolume: number;
}

export interface EmulatorStats {
  /** Every SMTP reply sent, keyed by code and enhanced code (`"250 2.0.0"`), or by code alone. */
  replies: Record<string, number>;
  /** Every SMTP reply sent, keyed by the three-digit code. */
  repliesByCode: Record<string, number>;
  violations: ViolationCounts;
  /** Highest number of authenticated sessions seen open at once, per mailbox. */
  maxConcurrentConnections: Record<string, number>;
  /** Authenticated sessions open now, per mailbox. */
  openConnections: Record<string, number>;
  /** Accepted messages per mailbox. */
  messagesByMailbox: Record<string, number>;
  /** Accepted messages whose Message-ID had already been accepted. */
  duplicateMessageIds: number;
  /** Token endpoint requests by outcome. */
  tokenRequests: { ok: number; error: number };
  /** Every Graph response sent, keyed by HTTP status (`"202"`, `"429"`). */
  graphResponses: Record<string, number>;
  /** Highest number of Graph requests seen in progress at once, per mailbox. */
  maxConcurrentGraphRequests: Record<string, number>;
}

export interface AttachmentSummary {
  filename: string | null;
  contentType: string;
  /** Content-ID without angle brackets. */
  contentId: string | null;
  contentDisposition: string | null;
  /** Size of the decoded content in bytes. */
  size: number;
  /** Hex SHA-256 of the decoded content. */
  sha256: string;
}

/** A Graph draft that was created and not yet sent or deleted. */
export interface DraftSummary {
  id: string;
  /** The mailbox whose Drafts folder contains the draft. */
  mailbox: string;
  /** Size of the MIME source the draft was created from, in bytes. */
  sizeBytes: number;
  /** Attachments added so far, by POST or by a finished upload session. */
  attachments: { name: string; size: number }[];
  /** Upload sessions of the draft that have not received every byte yet. */
  openUploadSessions: number;
  /** Time of creation, milliseconds since the Unix epoch. */
  createdAt: number;
}

/** A message the emulator accepted with 250, parsed from its RFC 5322 source. */
export interface AcceptedMessage {
  id: string;
  /** The authenticated mailbox that submitted the message. */
  mailbox: string;
  /** Submission path of the message: SMTP submission, or Graph (`sendMail` or a sent draft). */
  transport: 'smtp' | 'graph';
  envelope: { from: string; to: string[] };
  /** Message-ID header with angle brackets; generated when the message had none. */
  messageId: string;
  subject: string | null;
  /** Address of the first From mailbox. */
  from: string | null;
  to: string[];
  cc: string[];
  /** Envelope recipients that appear in neither To nor Cc. */
  bcc: string[];
  replyTo: string[];
  /** Date header as an ISO 8601 string. */
  date: string | null;
  /** Raw header values keyed by lower-case name; repeated headers become arrays. */
  headers: Record<string, string | string[]>;
  text: string | null;
  html: string | null;
  attachments: AttachmentSummary[];
  /** Size of the message source in bytes. */
  sizeBytes: number;
  /** Time of acceptance, milliseconds since the Unix epoch. */
  acceptedAt: number;
}

export interface Emulator {
  smtpPort: number;
  httpsPort: number;
  apiPort: number;
  graphPort: number;
  host: string;
  /** PEM file of the self-signed CA certificate that clients must trust. */
  caFile: string;
  /** Authority URL for MSAL, for example `https://127.0.0.1:PORT/TENANT`. */
  authorityUrl(tenantId: string): string;
  /** Token endpoint URL, `.../TENANT/oauth2/v2.0/token`. */
  tokenUrl(tenantId: string): string;
  /** Base URL of the admin API, `http://127.0.0.1:PORT`. */
  apiUrl: string;
  /** Base URL of the Graph endpoint, `https://127.0.0.1:PORT`; requests go to `/v1.0/...`. */
  graphUrl: string;
  /** Accepted messages in acceptance order, only those of `mailbox` when given. */
  messages(mailbox?: string): AcceptedMessage[];
  message(id: string): AcceptedMessage | undefined;
  /** RFC 5322 source of an accepted message. */
  rawMessage(id: string): Buffer | undefined;
  /** Graph drafts not yet sent or deleted, only those of `mailbox` when given. */
  drafts(mailbox?: string): DraftSummary[];
  stats(): EmulatorStats;
  /**
   * Clears messages, drafts, counters and rate windows; open sessions, faults and revocations
   * stay.
   */
  reset(): void;
  /** Rejects every token issued before this call at AUTH from now on (535 5.7.3). */
  revokeTokens(): void;
  /** Adds a fault that applies to the next matching sessions or token requests. */
  addFault(spec: FaultSpec): Fault;
  faults(): Fault[];
  clearFaults(): void;
  /** Closes every socket and removes the state directory if the emulator created it. Idempotent. */
  close(): Promise<void>;
}
