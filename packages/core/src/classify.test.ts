import { describe, expect, test } from 'vitest';
import { classifyFailure, classifySuccess, parseEnhancedCode, type SmtpStage } from './classify.js';

// Reply lines as Exchange Online sends them.
const replies: [string, SmtpStage, string, string, string][] = [
  [
    '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.',
    'mail',
    'throttled',
    'cool_down',
    'concurrent_connections',
  ],
  [
    '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded',
    'data-end',
    'throttled',
    'cool_down',
    'concurrent_connections',
  ],
  [
    '451 4.7.500 Access denied, please try again later',
    'mail',
    'transient',
    'retry',
    'access_denied_temporarily',
  ],
  ['451 4.7.650 Server busy', 'rcpt', 'transient', 'retry', 'access_denied_temporarily'],
  ['451 4.4.0 DNS query failed', 'data-end', 'transient', 'retry', 'temporary_failure'],
  ['421 4.3.0 Temporary system problem', 'mail', 'transient', 'retry', 'temporary_failure'],
  [
    '430 4.2.0 STOREDRV; mailbox logon failure',
    'data-end',
    'transient',
    'retry',
    'mailbox_logon_failure',
  ],
  [
    '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message',
    'data-end',
    'quota_exhausted',
    'pause_mailbox',
    'recipient_quota',
  ],
  [
    "550 5.1.90 Your message can't be sent because you've reached your daily limit for message recipients",
    'rcpt',
    'quota_exhausted',
    'pause_mailbox',
    'recipient_quota',
  ],
  [
    '554 5.2.2 Submission quota exceeded',
    'data-end',
    'quota_exhausted',
    'pause_mailbox',
    'recipient_quota',
  ],
  [
    '535 5.7.3 Authentication unsuccessful',
    'auth',
    'auth_failed',
    'refresh_token',
    'smtp_auth_not_authorized',
  ],
  [
    '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.',
    'auth',
    'configuration',
    'open_circuit',
    'smtp_auth_not_allowed',
  ],
  [
    '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.',
    'auth',
    'configuration',
    'open_circuit',
    'smtp_auth_not_allowed',
  ],
  [
    '530 5.7.57 Client not authenticated to send mail.',
    'mail',
    'configuration',
    'open_circuit',
    'smtp_auth_not_allowed',
  ],
  [
    '550 5.7.57 Client was not authenticated to send anonymous mail during MAIL FROM',
    'mail',
    'configuration',
    'open_circuit',
    'smtp_auth_not_allowed',
  ],
  [
    '550 5.7.30 Basic authentication is not supported for Client Submission.',
    'auth',
    'configuration',
    'open_circuit',
    'smtp_auth_not_allowed',
  ],
  [
    '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
    'data-end',
    'configuration',
    'fail',
    'send_as_denied',
  ],
  [
    '554 5.2.252 SendAsDenied; billing@example.com not allowed to send as noreply@example.com',
    'data-end',
    'configuration',
    'fail',
    'send_as_denied',
  ],
  [
    '554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; WASCL UserAction verdict is not None',
    'data-end',
    'mailbox_blocked',
    'open_circuit',
    'outbound_spam',
  ],
  [
    '550 5.1.8 Access denied, bad outbound sender',
    'mail',
    'mailbox_blocked',
    'open_circuit',
    'bad_outbound_sender',
  ],
  [
    '554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException',
    'data-end',
    'mailbox_blocked',
    'open_circuit',
    'mailbox_full',
  ],
  [
    '550 5.2.251 Sender throttled due to continuous invalid recipients errors',
    'mail',
    'mailbox_blocked',
    'open_circuit',
    'sender_throttled',
  ],
  [
    '550 5.2.255 Sender throttled due to continuous send as denied errors',
    'mail',
    'mailbox_blocked',
    'open_circuit',
    'sender_throttled',
  ],
  [
    '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2.',
    'tls',
    'configuration',
    'open_circuit',
    'tls_version',
  ],
  [
    "550 5.7.233 Message can't be submitted because the sender has exceeded the tenant external recipient rate limit",
    'data-end',
    'quota_exhausted',
    'pause_mailbox',
    'tenant_external_quota',
  ],
  [
    '550 5.7.232 Trial tenant has exceeded its external recipient limit',
    'data-end',
    'quota_exhausted',
    'pause_mailbox',
    'tenant_external_quota',
  ],
  [
    '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
    'rcpt',
    'permanent',
    'fail',
    'recipient_rejected',
  ],
  [
    '552 5.3.4 Message size exceeds fixed maximum message size',
    'data-end',
    'permanent',
    'fail',
    'rejected',
  ],
];

describe('classifyFailure', () => {
  test.each(replies)('%s', (response, stage, expectedClass, action, reason) => {
    const responseCode = Number(response.slice(0, 3));
    const result = classifyFailure({ stage, responseCode, response });
    expect(result.class).toBe(expectedClass);
    expect(result.action).toBe(action);
    expect(result.reason).toBe(reason);
    expect(result.responseCode).toBe(responseCode);
  });

  test('mailbox logon failure is retried a bounded number of times', () => {
    const result = classifyFailure({
      stage: 'data-end',
      responseCode: 430,
      response: '430 4.2.0 STOREDRV; mailbox logon failure',
    });
    expect(result.attemptLimit).toBe(3);
  });

  test('network failure before data is transient', () => {
    for (const stage of ['connect', 'tls', 'auth', 'mail', 'rcpt', 'data'] as const) {
      expect(classifyFailure({ stage, networkCode: 'ECONNRESET' })).toMatchObject({
        class: 'transient',
        action: 'retry',
      });
    }
  });

  test('greeting timeout is transient', () => {
    expect(classifyFailure({ stage: 'greeting', networkCode: 'ETIMEDOUT' })).toEqual({
      class: 'transient',
      action: 'retry',
      reason: 'timeout',
    });
  });

  test('connection lost after data has an unknown outcome', () => {
    expect(classifyFailure({ stage: 'data-end', networkCode: 'ECONNRESET' })).toEqual({
      class: 'unknown_outcome',
      action: 'hold',
      reason: 'connection_lost_after_data',
    });
  });

  test('certificate verification failure is configuration', () => {
    expect(
      classifyFailure({ stage: 'tls', networkCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    ).toMatchObject({
      class: 'configuration',
      reason: 'tls_verification_failed',
    });
    expect(
      classifyFailure({ stage: 'tls', networkCode: 'ERR_SSL_WRONG_VERSION_NUMBER' }).class,
    ).toBe('configuration');
  });
});

describe('classifySuccess', () => {
  test('250 after DATA completes', () => {
    expect(classifySuccess(250, '250 2.0.0 OK <id@example.com>')).toEqual({
      class: 'sent',
      action: 'complete',
      reason: 'accepted',
      responseCode: 250,
      enhancedCode: '2.0.0',
    });
  });
});

test('parseEnhancedCode reads x.y.z after the reply code', () => {
  expect(parseEnhancedCode('550 5.2.251 Sender throttled')).toBe('5.2.251');
  expect(parseEnhancedCode('250-2.0.0 OK')).toBe('2.0.0');
  expect(parseEnhancedCode('250 OK 5.7.3 later in the text')).toBeUndefined();
  expect(parseEnhancedCode(undefined)).toBeUndefined();
});
