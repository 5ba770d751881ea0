import type {
  DeliveryState,
  DeliveryStatus,
  JobPayload,
  ReplyClass,
  SEND_JOB_NAME,
} from '@postroom/core';
import type { Job, JobState } from 'bullmq';

/** A send job as BullMQ returns it. */
export type SendJob = Job<JobPayload, unknown, typeof SEND_JOB_NAME>;

const DELIVERY_STATES: ReadonlySet<string> = new Set<DeliveryState>([
  'queued',
  'scheduled',
  'waiting_for_mailbox',
  'sending',
  'sent',
  'failed',
  'outcome_unknown',
  'cancelled',
]);

/** Fields of the status hash that the job's data can fill in when the worker has not. */
const IDENTITY_FIELDS = ['messageId', 'mailbox', 'enqueuedAt'] as const;

/** Reports whether the status hash lacks a field that only the job's data can supply. */
export function needsJobData(record: Record<string, string>): boolean {
  return IDENTITY_FIELDS.some((field) => record[field] === undefined);
}

/**
 * Builds a status from the worker's status hash, filling identity fields from the job's data.
 * Returns undefined when the hash contains no known state and no job state can replace it.
 */
export function statusFromRecord(
  id: string,
  record: Record<string, string>,
  job: SendJob | undefined,
  jobState: JobState | 'unknown' | undefined,
): DeliveryStatus | undefined {
  const state = isDeliveryState(record.state) ? record.state : deriveState(jobState);
  if (state === undefined) return undefined;

  const identity = identityOf(job?.data);
  const status: DeliveryStatus = {
    id,
    state,
    messageId: record.messageId ?? identity.messageId,
    mailbox: record.mailbox ?? identity.mailbox,
    attempts: parseAttempts(record.attempts),
    enqueuedAt: record.enqueuedAt ?? identity.enqueuedAt,
  };
  if (record.waitReason) status.waitReason = record.waitReason;
  if (record.nextAttemptAt) status.nextAttemptAt = record.nextAttemptAt;
  if (record.sentAt) status.sentAt = record.sentAt;
  if (record.reply) status.reply = record.reply;
  // The worker writes failureClass from the shared classifier, so it is a ReplyClass.
  if (record.failureClass) status.failureClass = record.failureClass as ReplyClass;
  if (record.failureReason) status.failureReason = record.failureReason;

  const rejected = parseStringArray(record.rejectedRecipients);
  if (rejected) status.rejectedRecipients = rejected;
  return status;
}

/**
 * Derives a status from the BullMQ job alone, before the worker has written a status hash.
 * Returns undefined for the job state `unknown`, which does not describe delivery.
 */
export function statusFromJob(
  id: string,
  job: SendJob,
  jobState: JobState | 'unknown',
): DeliveryStatus | undefined {
  const state = deriveState(jobState);
  if (state === undefined) return undefined;

  const status: DeliveryStatus = { id, state, attempts: 0, ...identityOf(job.data) };
  if (jobState === 'delayed') {
    status.nextAttemptAt = new Date(job.timestamp + job.delay).toISOString();
  }
  if (jobState === 'failed' && job.failedReason) status.failureReason = job.failedReason;
  return status;
}

// Completed and failed jobs normally have a status hash. Their mapping covers a worker that died
// between finishing the job and writing the hash.
function deriveState(jobState: JobState | 'unknown' | undefined): DeliveryState | undefined {
  switch (jobState) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'queued';
    case 'delayed':
      return 'scheduled';
    case 'active':
      return 'sending';
    case 'completed':
      return 'sent';
    case 'failed':
      return 'failed';
    default:
      return undefined;
  }
}

function identityOf(
  payload: JobPayload | undefined,
): Pick<DeliveryStatus, (typeof IDENTITY_FIELDS)[number]> {
  if (payload?.version !== 1) return { messageId: '', mailbox: '', enqueuedAt: '' };
  return {
    messageId: payload.messageId,
    mailbox: payload.message.from.address,
    enqueuedAt: new Date(payload.enqueuedAtMs).toISOString(),
  };
}

function isDeliveryState(value: string | undefined): value is DeliveryState {
  return value !== undefined && DELIVERY_STATES.has(value);
}

function parseAttempts(value: string | undefined): number {
  const attempts = Number(value);
  return Number.isSafeInteger(attempts) && attempts >= 0 ? attempts : 0;
}

function parseStringArray(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed;
  } catch {
    // A malformed list is left out rather than failing the whole status read.
  }
  return undefined;
}
