import { expect, test } from 'vitest';
import { hashMessage } from './job.js';
import { parseMessage } from './message.js';

test('hash ignores key order and the idempotency key', () => {
  const one = parseMessage({
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 's',
    text: 't',
    headers: { 'X-A': '1', 'X-B': '2' },
  });
  const two = parseMessage({
    headers: { 'X-B': '2', 'X-A': '1' },
    text: 't',
    subject: 's',
    to: 'b@example.com',
    from: 'a@example.com',
    idempotencyKey: 'k',
  });
  expect(hashMessage(one)).toBe(hashMessage(two));
});

test('hash changes with the content', () => {
  const one = parseMessage({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' });
  const two = parseMessage({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 'u' });
  expect(hashMessage(one)).not.toBe(hashMessage(two));
});
