import { type DestinationStream, type Logger, pino } from 'pino';

// Fields that may hold a secret or message content, wherever they appear in a log object.
const REDACTED_PATHS = [
  'clientSecret',
  '*.clientSecret',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'text',
  '*.text',
  'html',
  '*.html',
  'attachments',
  '*.attachments',
  'privateKeyPem',
  '*.privateKeyPem',
  'credential',
  '*.credential',
  'message.subject',
];

/** Creates the root logger: JSON lines, secrets and message bodies redacted. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'postroom-worker' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
