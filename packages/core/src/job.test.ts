import { expect, test } from 'vitest';
import { createJobId, createMessageId, hashMessage } from './job.js';
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

test('message id is a v4 UUID in the sender domain', () => {
  const ids = new Set<string>();
  // 300 ids use more than one 4 KiB block of random bytes.
  for (let index = 0; index < 300; index++) {
    const id = createMessageId('billing@acme.example');
    expect(id).toMatch(
      /^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@acme\.example>$/,
    );
    ids.add(id);
  }
  expect(ids.size).toBe(300);
});

test('job ids are unique hex with a prefix', () => {
  const ids = new Set<string>();
  for (let index = 0; index < 300; index++) {
    const id = createJobId();
    expect(id).toMatch(/^msg_[0-9a-f]{32}$/);
    ids.add(id);
  }
  expect(ids.size).toBe(300);
});
