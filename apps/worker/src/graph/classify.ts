import { type Classification, classifyFailure } from '@postroom/core';
import { GraphNetworkError, type GraphResponse } from './client.js';

/** A failed Graph submission with its classification, the reply text and any cool-down. */
export class GraphFailure extends Error {
  readonly classification: Classification;
  /** Status, Graph error code and message, such as `429 ApplicationThrottled: ...`. */
  readonly reply: string | undefined;
  /** How long the mailbox cools down after a throttling response (Retry-After), in ms. */
  readonly coolDownMs: number | undefined;

  constructor(
    classification: Classification,
    reply: string | undefined,
    coolDownMs?: number,
    cause?: unknown,
  ) {
    super(`Graph sendMail failed: ${reply ?? classification.reason}`, { cause });
    this.name = 'GraphFailure';
    this.classification = classification;
    this.reply = reply;
    this.coolDownMs = coolDownMs;
  }
}

/**
 * Classifies a `sendMail` response other than 202 into the classes SMTP replies use. A 429, or a
 * 503 with Retry-After, throttles the mailbox without spending an attempt, and 401 means the
 * token was rejected. 403 and 404 concern the app or the mailbox rather than the message, so they
 * stop the mailbox and keep its jobs, except ErrorSendAsDenied, which fails the message like
 * 5.7.60. Other 4xx reject the message, and other 5xx are retried.
 */
export function classifyGraphResponse(response: GraphResponse): GraphFailure {
  const reply = describe(response);
  const base = { responseCode: response.status };
  const { status, errorCode } = response;

  if (status === 429 || (status === 503 && response.retryAfterMs !== undefined)) {
    return new GraphFailure(
      { ...base, class: 'throttled', action: 'cool_down', reason: 'graph_throttled' },
      reply,
      response.retryAfterMs,
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
 * failure to retry. After that, Graph may have accepted the message, so the outcome is unknown.
 * Certificate errors are configuration failures, as for SMTP.
 */
export function classifyGraphNetworkError(error: GraphNetworkError): GraphFailure {
  const classification = classifyFailure({
    stage: error.requestSent ? 'data-end' : 'connect',
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
