/**
 * Postroom's error catalogue. Callers branch on `code` (stable across releases) or on the class,
 * never on the message text.
 */
export class PostroomError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** One problem found in a message or configuration, with the path of the offending field. */
export interface ValidationIssue {
  /** Field path such as `to[2]` or `attachments[0].content`; empty for the whole value. */
  path: string;
  message: string;
}

/** Raised when input fails validation; nothing was enqueued. Lists every problem found. */
export class ValidationError extends PostroomError {
  readonly issues: readonly ValidationIssue[];

  constructor(subject: string, issues: readonly ValidationIssue[]) {
    super('POSTROOM_INVALID_MESSAGE', formatIssues(subject, issues));
    this.issues = issues;
  }
}

/** Raised when an idempotency key is reused with a different message. */
export class IdempotencyConflictError extends PostroomError {
  readonly idempotencyKey: string;
  readonly existingId: string;

  constructor(idempotencyKey: string, existingId: string) {
    super(
      'POSTROOM_IDEMPOTENCY_CONFLICT',
      `idempotency key "${idempotencyKey}" was already used for message ${existingId} with a ` +
        'different payload; use a new key for a different message',
    );
    this.idempotencyKey = idempotencyKey;
    this.existingId = existingId;
  }
}

/** Raised when the `from` address is not a mailbox, or a Send As address, that workers serve. */
export class SenderNotAllowedError extends PostroomError {
  readonly from: string;

  constructor(from: string, configured: readonly string[]) {
    super(
      'POSTROOM_SENDER_NOT_ALLOWED',
      `from address ${from} is not a configured mailbox or Send As address ` +
        `(configured: ${configured.join(', ') || 'none'}); add it to the worker's mailbox file ` +
        'or send from a configured mailbox',
    );
    this.from = from;
  }
}

/** Raised when worker or CLI configuration is invalid; names the variable and the fix. */
export class ConfigError extends PostroomError {
  readonly issues: readonly ValidationIssue[];

  constructor(subject: string, issues: readonly ValidationIssue[]) {
    super('POSTROOM_INVALID_CONFIG', formatIssues(subject, issues));
    this.issues = issues;
  }
}

function formatIssues(subject: string, issues: readonly ValidationIssue[]): string {
  const lines = issues.map((issue) => `  - ${issue.path ? `${issue.path}: ` : ''}${issue.message}`);
  return `${subject}:\n${lines.join('\n')}`;
}
