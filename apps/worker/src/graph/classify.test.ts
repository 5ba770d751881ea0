import { expect, test } from 'vitest';
import { classifyGraphNetworkError, classifyGraphResponse } from './classify.js';
import { GraphNetworkError } from './client.js';

test.each([
  [{ status: 429, retryAfterMs: 3000 }, 'throttled', 'cool_down', 'graph_throttled'],
  [{ status: 429 }, 'throttled', 'cool_down', 'graph_throttled'],
  [{ status: 503, retryAfterMs: 1000 }, 'throttled', 'cool_down', 'graph_throttled'],
  [{ status: 503 }, 'transient', 'retry', 'graph_server_error'],
  [{ status: 500 }, 'transient', 'retry', 'graph_server_error'],
  [{ status: 401 }, 'auth_failed', 'refresh_token', 'token_rejected'],
  [{ status: 403, errorCode: 'ErrorSendAsDenied' }, 'configuration', 'fail', 'send_as_denied'],
  [
    { status: 403, errorCode: 'ErrorAccessDenied' },
    'configuration',
    'open_circuit',
    'graph_access_denied',
  ],
  [{ status: 404 }, 'configuration', 'open_circuit', 'graph_mailbox_not_found'],
  [{ status: 413 }, 'permanent', 'fail', 'message_too_large'],
  [{ status: 400, errorCode: 'ErrorInvalidRecipients' }, 'permanent', 'fail', 'graph_rejected'],
] as const)('response %j is %s', (response, replyClass, action, reason) => {
  const failure = classifyGraphResponse(response);

  expect(failure.classification).toMatchObject({
    class: replyClass,
    action,
    reason,
    responseCode: response.status,
  });
});

test('throttling carries Retry-After as the cool-down', () => {
  const failure = classifyGraphResponse({
    status: 429,
    retryAfterMs: 7000,
    errorCode: 'ApplicationThrottled',
    errorMessage: 'over',
  });

  expect(failure.coolDownMs).toBe(7000);
  expect(failure.reply).toBe('429 ApplicationThrottled: over');
});

test('network error before the request was sent is retried', () => {
  const failure = classifyGraphNetworkError(
    new GraphNetworkError('ECONNREFUSED', false, undefined),
  );

  expect(failure.classification).toMatchObject({
    class: 'transient',
    action: 'retry',
    reason: 'network_error',
  });
});

test('timeout after the request was sent is outcome unknown', () => {
  const failure = classifyGraphNetworkError(new GraphNetworkError('ETIMEDOUT', true, undefined));

  expect(failure.classification).toMatchObject({
    class: 'unknown_outcome',
    action: 'hold',
    reason: 'no_response_after_request',
  });
});

test('certificate error is configuration', () => {
  const failure = classifyGraphNetworkError(
    new GraphNetworkError('DEPTH_ZERO_SELF_SIGNED_CERT', false, undefined),
  );

  expect(failure.classification).toMatchObject({
    class: 'configuration',
    reason: 'tls_verification_failed',
  });
});

test.each([
  ['createDraft', { status: 404, errorCode: 'ErrorItemNotFound' }, 'graph_draft_not_found'],
  ['uploadRange', { status: 401 }, 'graph_upload_session_rejected'],
  ['uploadRange', { status: 404 }, 'graph_upload_session_rejected'],
] as const)('%s response %j is retried', (step, response, reason) => {
  const failure = classifyGraphResponse(response, step);

  expect(failure.classification).toMatchObject({ class: 'transient', action: 'retry', reason });
});

test('draft step reply names the step', () => {
  const failure = classifyGraphResponse(
    { status: 429, retryAfterMs: 1000, errorCode: 'ApplicationThrottled' },
    'uploadRange',
  );

  expect(failure.classification.class).toBe('throttled');
  expect(failure.reply).toBe('429 ApplicationThrottled (uploadRange)');
});

test('lost upload response is retried', () => {
  const failure = classifyGraphNetworkError(
    new GraphNetworkError('ECONNRESET', true, undefined),
    'uploadRange',
  );

  expect(failure.classification).toMatchObject({ class: 'transient', reason: 'network_error' });
});

test('lost draft send response is outcome unknown', () => {
  const failure = classifyGraphNetworkError(
    new GraphNetworkError('ECONNRESET', true, undefined),
    'sendDraft',
  );

  expect(failure.classification).toMatchObject({
    class: 'unknown_outcome',
    reason: 'no_response_after_request',
  });
});
