/**
 * Maps SMTP replies and network failures to one class and one action, following Exchange
 * Online's reply codes. Decisions rest on the reply code and the enhanced status code. The only
 * text consulted is Exchange's exception identifier, because one enhanced code has several meanings.
 */

/** SMTP stage at which a submission failed. `data-end` means the message data was fully sent. */
export type SmtpStage =
  | 'connect'
  | 'greeting'
  | 'tls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'data-end'
  | 'unknown';

export type ReplyClass =
  | 'sent'
  | 'transient'
  | 'throttled'
  | 'quota_exhausted'
  | 'auth_failed'
  | 'configuration'
  | 'mailbox_blocked'
  | 'permanent'
  | 'unknown_outcome';

/**
 * Next step of the worker. `cool_down` and `pause_mailbox` delay the job without spending an
 * attempt. `open_circuit` stops the mailbox and keeps its jobs. `hold` neither resends nor fails.
 */
export type ReplyAction =
  | 'complete'
  | 'retry'
  | 'cool_down'
  | 'pause_mailbox'
  | 'refresh_token'
  | 'open_circuit'
  | 'fail'
  | 'hold';

export interface SubmissionFailure {
  stage: SmtpStage;
  /** Three-digit SMTP reply code, when the server replied. */
  responseCode?: number;
  /** The reply line as received, such as `535 5.7.3 Authentication unsuccessful`. */
  response?: string;
  /** Node.js or TLS error code for failures without a reply, such as `ETIMEDOUT`. */
  networkCode?: string;
}

export interface Classification {
  class: ReplyClass;
  action: ReplyAction;
  /** Stable snake_case reason, safe to use as a metric label. */
  reason: string;
  responseCode?: number;
  /** RFC 3463 enhanced status code, such as `5.7.3`. */
  enhancedCode?: string;
  /** For bounded transient failures: attempts after which the failure counts as configuration. */
  attemptLimit?: number;
}

// Certificate problems mean the configured host or CA is wrong; retrying cannot fix them.
const TLS_VERIFICATION_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * True for a Node.js TLS error code that stops a connection before any data is exchanged: the
 * server's certificate failed verification, or the port does not speak TLS.
 */
export function isTlsVerificationCode(code: string | undefined): boolean {
  return code !== undefined && TLS_VERIFICATION_CODES.has(code);
}

const ENHANCED_CODE = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)/;

/** Extracts the enhanced status code (`x.y.z`) that follows the reply code, if any. */
export function parseEnhancedCode(response: string | undefined): string | undefined {
  const match = ENHANCED_CODE.exec(response?.trim() ?? '');
  return match ? `${match[1]}.${match[2]}.${match[3]}` : undefined;
}

/** Classifies an accepted submission. */
export function classifySuccess(responseCode: number, response?: string): Classification {
  const enhancedCode = parseEnhancedCode(response);
  return {
    class: 'sent',
    action: 'complete',
    reason: 'accepted',
    responseCode,
    ...(enhancedCode ? { enhancedCode } : {}),
  };
}

/** Classifies a failed submission attempt. */
export function classifyFailure(failure: SubmissionFailure): Classification {
  if (failure.responseCode === undefined) return classifyNetworkFailure(failure);

  const enhancedCode = parseEnhancedCode(failure.response);
  const base = {
    responseCode: failure.responseCode,
    ...(enhancedCode ? { enhancedCode } : {}),
  };
  const rule = matchReply(failure, enhancedCode ?? '');
  return { ...base, ...rule };
}

type Rule = Pick<Classification, 'class' | 'action' | 'reason'> & { attemptLimit?: number };

function classifyNetworkFailure(failure: SubmissionFailure): Classification {
  const code = failure.networkCode ?? 'UNKNOWN';
  if (TLS_VERIFICATION_CODES.has(code)) {
    return { class: 'configuration', action: 'open_circuit', reason: 'tls_verification_failed' };
  }
  if (failure.stage === 'data-end') {
    return { class: 'unknown_outcome', action: 'hold', reason: 'connection_lost_after_data' };
  }
  if (failure.stage === 'greeting' || code === 'ETIMEDOUT') {
    return { class: 'transient', action: 'retry', reason: 'timeout' };
  }
  return { class: 'transient', action: 'retry', reason: 'network_error' };
}

function matchReply(failure: SubmissionFailure, enhanced: string): Rule {
  const code = failure.responseCode ?? 0;
  const text = failure.response ?? '';

  if (code === 432 && enhanced === '4.3.2') {
    return { class: 'throttled', action: 'cool_down', reason: 'concurrent_connections' };
  }
  if (enhanced === '4.7.66') {
    return { class: 'configuration', action: 'open_circuit', reason: 'tls_version' };
  }
  if (code === 430 && enhanced === '4.2.0') {
    return {
      class: 'transient',
      action: 'retry',
      reason: 'mailbox_logon_failure',
      attemptLimit: 3,
    };
  }
  if (code >= 400 && code < 500) return matchTemporary(enhanced);
  return matchPermanent(failure, enhanced, text);
}

function matchTemporary(enhanced: string): Rule {
  const [, subject, detail] = enhanced.split('.').map(Number);
  if (subject === 7 && detail !== undefined && detail >= 500 && detail <= 699) {
    return { class: 'transient', action: 'retry', reason: 'access_denied_temporarily' };
  }
  return { class: 'transient', action: 'retry', reason: 'temporary_failure' };
}

function matchPermanent(failure: SubmissionFailure, enhanced: string, text: string): Rule {
  const quota = matchQuota(enhanced, text);
  if (quota) return quota;

  const blocked = matchBlocked(enhanced, text);
  if (blocked) return blocked;

  switch (enhanced) {
    case '5.7.3':
      // Exchange sends this reply for a stale token, and also for a valid one when the app has no
      // service principal in Exchange or no permission on the mailbox.
      return { class: 'auth_failed', action: 'refresh_token', reason: 'smtp_auth_not_authorized' };
    case '5.7.139':
    case '5.7.57':
    case '5.7.30':
      return { class: 'configuration', action: 'open_circuit', reason: 'smtp_auth_not_allowed' };
    case '5.7.60':
    case '5.2.252':
      return { class: 'configuration', action: 'fail', reason: 'send_as_denied' };
  }
  if (failure.stage === 'rcpt') {
    return { class: 'permanent', action: 'fail', reason: 'recipient_rejected' };
  }
  return { class: 'permanent', action: 'fail', reason: 'rejected' };
}

function matchQuota(enhanced: string, text: string): Rule | undefined {
  const submissionQuota =
    enhanced === '5.1.90' ||
    (enhanced === '5.2.0' && text.includes('SubmissionQuotaExceededException')) ||
    (enhanced === '5.2.2' && /submission quota exceeded/i.test(text));
  if (submissionQuota) {
    return { class: 'quota_exhausted', action: 'pause_mailbox', reason: 'recipient_quota' };
  }
  if (enhanced === '5.7.233' || enhanced === '5.7.232') {
    return { class: 'quota_exhausted', action: 'pause_mailbox', reason: 'tenant_external_quota' };
  }
  return undefined;
}

function matchBlocked(enhanced: string, text: string): Rule | undefined {
  if (enhanced === '5.2.0' && text.includes('OutboundSpamException')) {
    return { class: 'mailbox_blocked', action: 'open_circuit', reason: 'outbound_spam' };
  }
  if (enhanced === '5.1.8') {
    return { class: 'mailbox_blocked', action: 'open_circuit', reason: 'bad_outbound_sender' };
  }
  if (enhanced === '5.2.2') {
    return { class: 'mailbox_blocked', action: 'open_circuit', reason: 'mailbox_full' };
  }
  const [, subject, detail] = enhanced.split('.').map(Number);
  if (subject === 2 && detail !== undefined && detail >= 251 && detail <= 255 && detail !== 252) {
    return { class: 'mailbox_blocked', action: 'open_circuit', reason: 'sender_throttled' };
  }
  return undefined;
}
