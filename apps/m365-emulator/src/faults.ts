import { randomUUID } from 'node:crypto';

/** SMTP stages a fault can apply to, in session order. `data` is the 354 reply to DATA. */
export const SMTP_FAULT_STAGES = [
  'connect',
  'ehlo',
  'auth',
  'mail',
  'rcpt',
  'data',
  'data-end',
] as const;
/**
 * Graph stages: `graph` is `sendMail`, and the others are the steps of a draft: creating it,
 * adding an attachment or creating an upload session, uploading a byte range, sending it and
 * deleting it.
 */
export const GRAPH_FAULT_STAGES = [
  'graph',
  'graph-draft',
  'graph-attachment',
  'graph-upload',
  'graph-send',
  'graph-delete',
] as const;
/** HTTP stages: the Entra ID token endpoint and the Graph requests. */
export const HTTP_FAULT_STAGES = ['token', ...GRAPH_FAULT_STAGES] as const;
export const FAULT_STAGES = [...SMTP_FAULT_STAGES, ...HTTP_FAULT_STAGES] as const;
export const FAULT_ACTIONS = ['reply', 'drop', 'delay', 'hang'] as const;

export type FaultStage = (typeof FAULT_STAGES)[number];
export type GraphFaultStage = (typeof GRAPH_FAULT_STAGES)[number];
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/**
 * A fault to inject into the next matching SMTP sessions, token requests or Graph requests.
 * `reply` sends a chosen reply instead of the normal one, `drop` closes the connection without a
 * reply, `hang` never replies (until the client or `close()` ends the connection), and `delay`
 * waits `delayMs` and then proceeds normally.
 */
export interface FaultSpec {
  stage: FaultStage;
  action: FaultAction;
  /** Full SMTP reply line for `reply` at an SMTP stage, for example `421 4.7.0 Server busy`. */
  reply?: string;
  /**
   * HTTP status for `reply` at the `token` or a Graph stage. At `token` it may be left out when
   * `aadsts` names an error listed in the emulator, because that error has its own status.
   */
  status?: number;
  /** Retry-After header value, in seconds, of a `token` or Graph stage reply. */
  retryAfterSeconds?: number;
  /**
   * AADSTS error number of a `token` stage reply, such as 7000222 (expired client secret). The
   * body carries Entra ID's error code and text for it. Default 90033 (temporarily unavailable).
   */
  aadsts?: number;
  /** Wait before the action, in milliseconds; required for `delay`, not allowed for `hang`. */
  delayMs?: number;
  /** Only sessions authenticating as this mailbox, or Graph requests for it; not at `connect`, `ehlo` or `token`. */
  mailbox?: string;
  /** How many matching events the fault applies to. Default 1. */
  count?: number;
  /**
   * At `data-end` or a Graph stage: carry out the request first (store the message, the draft or
   * the byte range), so that only the reply is lost or replaced.
   */
  accept?: boolean;
}

export interface Fault extends FaultSpec {
  id: string;
  /** Matching events the fault still applies to. */
  remaining: number;
}

/** The fault specification is invalid; the message lists every problem. */
export class FaultSpecError extends Error {
  constructor(problems: string[]) {
    super(`Invalid fault: ${problems.join('; ')}`);
    this.name = 'FaultSpecError';
  }
}

const SPEC_KEYS = new Set([
  'stage',
  'action',
  'reply',
  'status',
  'retryAfterSeconds',
  'aadsts',
  'delayMs',
  'mailbox',
  'count',
  'accept',
]);
const MAX_DELAY_MS = 10 * 60 * 1000;
const SMTP_REPLY_PATTERN = /^[2-5]\d\d(?: [^\r\n]*)?$/;
const STAGES_WITHOUT_MAILBOX = new Set(['connect', 'ehlo', 'token']);

/** Validates untrusted input, for example a JSON body, as a fault specification. */
export function parseFaultSpec(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultSpecError(['the body must be a JSON object']);
  }
  const spec = input as Record<string, unknown>;
  const problems = Object.keys(spec)
    .filter((key) => !SPEC_KEYS.has(key))
    .map((key) => `unknown field ${key}`);
  if (!FAULT_STAGES.includes(spec.stage as FaultStage)) {
    problems.push(`stage must be one of ${FAULT_STAGES.join(', ')}`);
  }
  if (!FAULT_ACTIONS.includes(spec.action as FaultAction)) {
    problems.push(`action must be one of ${FAULT_ACTIONS.join(', ')}`);
  }
  problems.push(...checkReply(spec), ...checkNumbers(spec), ...checkScope(spec));
  if (problems.length > 0) {
    throw new FaultSpecError(problems);
  }
  return spec as unknown as FaultSpec;
}

function checkReply(spec: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const isHttp = HTTP_FAULT_STAGES.includes(spec.stage as (typeof HTTP_FAULT_STAGES)[number]);
  const statusOptional = spec.stage === 'token' && spec.aadsts !== undefined;

  if (spec.action === 'reply' && isHttp && !statusOptional && spec.status === undefined) {
    problems.push(
      `status must be an HTTP error status (400-599) for a ${String(spec.stage)} reply`,
    );
  }
  if (spec.status !== undefined && !isIntegerIn(spec.status, 400, 599)) {
    problems.push('status must be an HTTP error status (400-599)');
  }

  if (spec.action === 'reply' && !isHttp && typeof spec.reply !== 'string') {
    problems.push('reply must be an SMTP reply line such as "421 4.7.0 Server busy"');
  }
  if (typeof spec.reply === 'string' && !SMTP_REPLY_PATTERN.test(spec.reply)) {
    problems.push('reply must start with a 2xx-5xx code and contain no line breaks');
  }
  if (spec.action === 'reply' && spec.stage === 'data') {
    problems.push('reply is not supported at stage data; use data-end');
  }
  if (spec.reply !== undefined && (isHttp || spec.action !== 'reply')) {
    problems.push('reply is only allowed with action reply at an SMTP stage');
  }
  if ((spec.status ?? spec.retryAfterSeconds) !== undefined && !isHttp) {
    problems.push('status and retryAfterSeconds are only allowed at stage token and Graph stages');
  }

  if (spec.aadsts !== undefined && (spec.stage !== 'token' || spec.action !== 'reply')) {
    problems.push('aadsts is only allowed with action reply at stage token');
  }
  if (spec.aadsts !== undefined && !isIntegerIn(spec.aadsts, 1, 99_999_999)) {
    problems.push('aadsts must be a positive integer such as 7000222');
  }
  return problems;
}

function checkNumbers(spec: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (spec.action === 'delay' && spec.delayMs === undefined) {
    problems.push('delayMs is required for action delay');
  }
  if (spec.action === 'hang' && spec.delayMs !== undefined) {
    problems.push('delayMs is not allowed for action hang');
  }
  if (spec.delayMs !== undefined && !isIntegerIn(spec.delayMs, 0, MAX_DELAY_MS)) {
    problems.push(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}`);
  }
  if (spec.count !== undefined && !isIntegerIn(spec.count, 1, Number.MAX_SAFE_INTEGER)) {
    problems.push('count must be a positive integer');
  }
  if (spec.retryAfterSeconds !== undefined && !isIntegerIn(spec.retryAfterSeconds, 0, 86_400)) {
    problems.push('retryAfterSeconds must be an integer from 0 to 86400');
  }
  return problems;
}

function checkScope(spec: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (spec.mailbox !== undefined && typeof spec.mailbox !== 'string') {
    problems.push('mailbox must be a string');
  }
  if (spec.mailbox !== undefined && STAGES_WITHOUT_MAILBOX.has(String(spec.stage))) {
    problems.push(`mailbox cannot be matched at stage ${String(spec.stage)}`);
  }
  if (spec.accept !== undefined && typeof spec.accept !== 'boolean') {
    problems.push('accept must be a boolean');
  }
  const isGraph = GRAPH_FAULT_STAGES.includes(spec.stage as (typeof GRAPH_FAULT_STAGES)[number]);
  if (spec.accept !== undefined && spec.stage !== 'data-end' && !isGraph) {
    problems.push('accept is only allowed at stage data-end and Graph stages');
  }
  return problems;
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** Active faults in the order they were added. */
export class FaultRegistry {
  #faults: Fault[] = [];

  add(spec: FaultSpec): Fault {
    const checked = parseFaultSpec(spec);
    const fault: Fault = { ...checked, id: randomUUID(), remaining: checked.count ?? 1 };
    this.#faults.push(fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.#faults.map((fault) => ({ ...fault }));
  }

  clear(): void {
    this.#faults = [];
  }

  /**
   * Consumes one use of the oldest fault for `stage` that matches the mailbox, if any.
   * A fault with a mailbox never matches while the mailbox is unknown.
   */
  take(stage: FaultStage, mailbox?: string): Fault | undefined {
    const fault = this.#faults.find(
      (candidate) =>
        candidate.stage === stage &&
        (candidate.mailbox === undefined ||
          candidate.mailbox.toLowerCase() === mailbox?.toLowerCase()),
    );
    if (fault === undefined) {
      return undefined;
    }
    fault.remaining -= 1;
    if (fault.remaining <= 0) {
      this.#faults = this.#faults.filter((candidate) => candidate !== fault);
    }
    return { ...fault };
  }
}
