import { type Classification, classifyFailure } from '@postroom/core';
import { GraphNetworkError, type GraphResponse } from './client.js';

/** A step of a Graph submission: `sendMail`, or one of the requests of the draft path. */
export type GraphStep =
  | 'sendMail'
  | 'createDraft'
  | 'addAttachment'
  | 'createUploadSession'
  | 'uploadRange'
  | 'sendDraft'
  | 'deleteDraft';

/** Steps whose request submits the message, so that a lost response leaves the outcome unknown. */
const SUBMITTING_STEPS: ReadonlySet<GraphStep> = new Set(['sendMail', 'sendDraft']);

/** A failed Graph submission with its classification, the reply text and any cool-down. */
export class GraphFailure extends Error {
  readonly classification: Classification;
  /**
   * Status, Graph error code and message, such as `429 ApplicationThrottled: ...`, followed by
   * the step in brackets for every step but `sendMail`.
   */
  readonly reply: string | undefined;
  /** How long the mailbox cools down after a throttling response (Retry-After), in ms. */
  readonly coolDownMs: number | undefined;

  constructor(
    classification: Classification,
    reply: string | undefined,
    coolDownMs?: number,
    cause?: unknown,
  ) {
    super(`Graph request failed: ${reply ?? classification.reason}`, { cause });
    this.name = 'GraphFailure';
    this.classification = classification;
    this.reply = reply;
    this.coolDownMs = coolDownMs;
  }
}

/**
 * Classifies an unexpected response to a step into the classes SMTP replies use. A 429, or a 503
 * with Retry-After, throttles the mailbox without spending an attempt, and 401 means the token
 * was rejected. 403 and 404 concern the app or the mailbox rather than the message, so they stop
 * the mailbox and keep its jobs, except ErrorSendAsDenied, which fails the message like 5.7.60.
 * A draft or upload session that is gone (ErrorItemNotFound, or 401, 403 or 404 from an upload
 * URL, which carries its own authorization) is retried from a new draft. Other 4xx reject the
 * message, and other 5xx are retried.
 */
export function classifyGraphResponse(
  response: GraphResponse,
  step: GraphStep = 'sendMail',
): GraphFailure {
  const reply = step === 'sendMail' ? describe(response) : `${describe(response)} (${step})`;
  const base = { responseCode: response.status };
  const { status, errorCode } = response;

  if (status === 429 || (status === 503 && response.retryAfterMs !== undefined)) {
    return new GraphFailure(
      { ...base, class: 'throttled', action: 'cool_down', reason: 'graph_throttled' },
      reply,
      response.retryAfterMs,
    );
  }
  if (step === 'uploadRange' && [401, 403, 404].includes(status)) {
    return new GraphFailure(
      { ...base, class: 'transient', action: 'retry', reason: 'graph_upload_session_rejected' },
      reply,
    );
  }
  if (status === 404 && errorCode === 'ErrorItemNotFound') {
    return new GraphFailure(
      { ...base, class: 'transient', action: 'retry', reason: 'graph_draft_not_found' },
      reply,
    );
  }
  if (status === 401) {
    return new GraphFailure(
      { ...base, class: 'auth_failed', action: 'refresh_token', reason: 'token_rejected' },
      reply,
    );
  }
  if (status === 403 && errorCode === 'ErrorSendAsDenied') {
    return new GraphFailure(
      { ...base, class: 'configuration', action: 'fail', reason: 'send_as_denied' },
      reply,
    );
  }
  if (status === 403) {
    return new GraphFailure(
      { ...base, class: 'configuration', action: 'open_circuit', reason: 'graph_access_denied' },
      reply,
    );
  }
  if (status === 404) {
    return new GraphFailure(
      {
        ...base,
        class: 'configuration',
        action: 'open_circuit',
        reason: 'graph_mailbox_not_found',
      },
      reply,
    );
  }
  if (status === 413) {
    return new GraphFailure(
      { ...base, class: 'permanent', action: 'fail', reason: 'message_too_large' },
      reply,
    );
  }
  if (status >= 400 && status < 500) {
    return new GraphFailure(
      { ...base, class: 'permanent', action: 'fail', reason: 'graph_rejected' },
      reply,
    );
  }
  return new GraphFailure(
    { ...base, class: 'transient', action: 'retry', reason: 'graph_server_error' },
    reply,
  );
}

/**
 * Classifies a request that got no response. Before the request was fully sent, it is a network
 * failure to retry. After a `sendMail` or draft `send` request was sent, Graph may have accepted
 * the message, so the outcome is unknown. Every other step submits nothing, so its lost response
 * is retried too. Certificate errors are configuration failures, as for SMTP.
 */
export function classifyGraphNetworkError(
  error: GraphNetworkError,
  step: GraphStep = 'sendMail',
): GraphFailure {
  const mayHaveSubmitted = error.requestSent && SUBMITTING_STEPS.has(step);
  const classification = classifyFailure({
    stage: mayHaveSubmitted ? 'data-end' : 'connect',
    networkCode: error.code,
  });
  const reason =
    classification.class === 'unknown_outcome'
      ? 'no_response_after_request'
      : classification.reason;
  return new GraphFailure({ ...classification, reason }, undefined, undefined, error);
}

function describe(response: GraphResponse): string {
  const code = response.errorCode ? ` ${response.errorCode}` : '';
  const message = response.errorMessage ? `: ${response.errorMessage}` : '';
  return `${response.status}${code}${message}`;
}

export { GraphNetworkError };
