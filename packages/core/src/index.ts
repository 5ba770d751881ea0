export { formatAddress, type MailAddress, parseAddress } from './address.js';
export {
  type Classification,
  classifyFailure,
  classifySuccess,
  isTlsVerificationCode,
  parseEnhancedCode,
  type ReplyAction,
  type ReplyClass,
  type SmtpStage,
  type SubmissionFailure,
} from './classify.js';
export {
  ConfigError,
  IdempotencyConflictError,
  PostroomError,
  SenderNotAllowedError,
  ValidationError,
  type ValidationIssue,
} from './errors.js';
export {
  createJobId,
  createJobPayload,
  createMessageId,
  hashMessage,
  type JobPayload,
} from './job.js';
export { EXCHANGE_ONLINE_LIMITS, type MailboxLimits } from './limits.js';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_RECIPIENTS_PER_MESSAGE,
  type Message,
  type MessageInput,
  messageSchema,
  type ParseMessageOptions,
  parseMessage,
  recipientsOf,
} from './message.js';
export {
  DEFAULT_QUEUE_NAME,
  KEY_PREFIX,
  type PostroomKeys,
  postroomKeys,
  QUEUE_NAME_PATTERN,
  QUEUE_NAME_RULE,
  SEND_JOB_NAME,
} from './names.js';
export {
  connectRedis,
  isClusterUrl,
  type RedisConnection,
  redisAddress,
  redisUrlProblem,
} from './redis.js';
export { DEFAULT_RETRY_POLICY, deadlineMs, type RetryPolicy, retryDelayMs } from './retry.js';
export type { DeliveryState, DeliveryStatus } from './status.js';
