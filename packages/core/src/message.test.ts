import { describe, expect, test } from 'vitest';
import { ValidationError } from './errors.js';
import { type MessageInput, parseMessage, recipientsOf } from './message.js';

const valid: MessageInput = {
  from: 'Acme Billing <billing@acme.example>',
  to: 'ada@example.com',
  subject: 'Your receipt',
  text: 'Thanks for your order.',
};

function issuesOf(input: unknown, options = {}): { path: string; message: string }[] {
  try {
    parseMessage(input, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected parseMessage to reject the input');
}

describe('parseMessage', () => {
  test('normalizes addresses and defaults', () => {
    const message = parseMessage({ ...valid, cc: ['"Bob B" <bob@example.com>'] });
    expect(message.from).toEqual({ name: 'Acme Billing', address: 'billing@acme.example' });
    expect(message.to).toEqual([{ address: 'ada@example.com' }]);
    expect(message.cc).toEqual([{ name: 'Bob B', address: 'bob@example.com' }]);
    expect(message.priority).toBe('normal');
  });

  test('converts internationalized domains to ASCII', () => {
    const message = parseMessage({ ...valid, to: 'José <jose@bücher.example>' });
    expect(message.to?.[0]).toEqual({ name: 'José', address: 'jose@xn--bcher-kva.example' });
  });

  test('rejects a message without recipients', () => {
    const { to: _to, ...noRecipients } = valid;
    expect(issuesOf(noRecipients)).toEqual([
      { path: 'to', message: 'a message needs at least one recipient in to, cc or bcc' },
    ]);
  });

  test('rejects more recipients than the limit', () => {
    const to = Array.from({ length: 300 }, (_, i) => `user${i}@example.com`);
    const bcc = Array.from({ length: 201 }, (_, i) => `hidden${i}@example.com`);
    const [issue] = issuesOf({ ...valid, to, bcc });
    expect(issue?.path).toBe('to');
    expect(issue?.message).toContain('501 recipients');
    expect(issue?.message).toContain('limit of 500');
    expect(
      issuesOf({ ...valid, to: ['a@example.com', 'b@example.com'] }, { maxRecipients: 1 })[0]
        ?.message,
    ).toContain('limit of 1');
  });

  test('rejects addresses that are not RFC 5322 mailboxes', () => {
    for (const bad of [
      'no-at-sign',
      'two@@example.com',
      'a b@example.com',
      'x@-bad-.example',
      'x@localhost',
    ]) {
      const issues = issuesOf({ ...valid, to: ['ok@example.com', bad] });
      expect(issues).toHaveLength(1);
      expect(issues[0]?.path).toBe('to[1]');
    }
  });

  test('rejects CR, LF and NUL in headers, subject and display names', () => {
    const cases: [Partial<Record<keyof MessageInput, unknown>>, string][] = [
      [{ subject: 'Hi\r\nBcc: x@example.net' }, 'subject'],
      [{ headers: { 'X-Campaign': 'a\r\nBcc: x@example.net' } }, 'headers.X-Campaign'],
      [{ headers: { 'X-Bad\r\nBcc': 'v' } }, 'headers.X-Bad\r\nBcc'],
      [{ from: 'Evil\r\nBcc: x@example.net <billing@acme.example>' }, 'from'],
      [{ to: { name: 'Eve\nBcc: x@example.net', address: 'eve@example.com' } }, 'to[0]'],
      [{ subject: 'nul\0byte' }, 'subject'],
    ];
    for (const [patch, path] of cases) {
      const issues = issuesOf({ ...valid, ...patch });
      expect(issues.map((issue) => issue.path)).toContain(path);
      expect(issues.map((issue) => issue.message).join(' ')).toMatch(
        /CR, LF or NUL|printable ASCII/,
      );
    }
  });

  test('rejects headers that message fields own', () => {
    const issues = issuesOf({ ...valid, headers: { Bcc: 'x@example.net', 'Message-ID': '<a@b>' } });
    expect(issues.map((issue) => issue.message)).toEqual([
      'header Bcc cannot be set through headers; use bcc',
      'header Message-ID cannot be set through headers; use idempotencyKey (Postroom sets Message-ID itself)',
    ]);
  });

  test('rejects multipart and message attachments', () => {
    for (const contentType of ['message/rfc822', 'Multipart/Mixed; boundary=x']) {
      const attachments = [{ filename: 'a.eml', content: 'QQ==', contentType }];
      const issues = issuesOf({ ...valid, attachments });
      expect(issues.map((issue) => issue.path)).toEqual(['attachments[0].contentType']);
      expect(issues[0]?.message).toContain('application/octet-stream');
    }
  });

  test('accepts a header named like an Object member', () => {
    const message = parseMessage({ ...valid, headers: { Constructor: 'x' } });
    expect(message.headers).toEqual({ Constructor: 'x' });
  });

  test('rejects unknown fields by name', () => {
    const issues = issuesOf({ ...valid, sender: 'x@example.com' });
    expect(issues).toEqual([{ path: '', message: 'unknown field "sender"; remove it' }]);
  });

  test('rejects attachments given as paths or URLs', () => {
    const issues = issuesOf({
      ...valid,
      attachments: [
        { filename: 'a.pdf', content: 'QQ==' },
        { filename: 'b.pdf', path: '/etc/passwd' },
      ],
    });
    expect(issues.map((issue) => issue.path)).toContain('attachments[1]');
    expect(issues.find((issue) => issue.path === 'attachments[1]')?.message).toContain(
      'file paths or URLs',
    );
  });

  test('rejects attachment content that is not base64', () => {
    const issues = issuesOf({
      ...valid,
      attachments: [{ filename: 'a.txt', content: 'not base64!' }],
    });
    expect(issues).toEqual([
      {
        path: 'attachments[0].content',
        message: 'attachment content must be standard base64 without line breaks',
      },
    ]);
  });

  test('rejects a payload over the cap', () => {
    const content = Buffer.alloc(2048).toString('base64');
    const issues = issuesOf(
      { ...valid, attachments: [{ filename: 'a.bin', content }] },
      { maxPayloadBytes: 1024 },
    );
    expect(issues[0]?.message).toMatch(/over the limit of 1024 bytes/);
  });

  test('rejects an expiry in the past and a body-less message', () => {
    const issues = issuesOf({ ...valid, text: undefined, expiresAt: '2020-01-01T00:00:00Z' });
    expect(issues.map((issue) => issue.path).sort()).toEqual(['expiresAt', 'text']);
  });

  test('lists every problem at once', () => {
    const issues = issuesOf({ from: 'nobody', subject: '', text: 'x' });
    expect(issues.map((issue) => issue.path).sort()).toEqual(['from', 'subject']);
  });

  test('names expected and given type', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ subject: 5 }, 'subject', 'subject must be a string, got a number'],
      [{ text: null }, 'text', 'text must be a string, got null'],
      [{ headers: 'X-A: 1' }, 'headers', 'headers must be an object, got a string'],
      [{ attachments: {} }, 'attachments', 'attachments must be an array, got an object'],
      [{ from: 5 }, 'from', 'from must be a string or an object, got a number'],
      [{ from: { address: 5 } }, 'from.address', 'from.address must be a string, got a number'],
      [{ notBefore: true }, 'notBefore', 'notBefore must be a string or a Date, got a boolean'],
    ];
    for (const [patch, path, message] of cases) {
      expect(issuesOf({ ...valid, ...patch })).toEqual([{ path, message }]);
    }
  });

  test('reports a missing field as required', () => {
    const { from: _from, ...noSender } = valid;
    expect(issuesOf(noSender)).toEqual([{ path: 'from', message: 'from is required' }]);
    expect(issuesOf({ ...valid, subject: undefined })).toEqual([
      { path: 'subject', message: 'subject is required' },
    ]);
    expect(issuesOf(42)).toEqual([
      { path: '', message: 'message must be an object, got a number' },
    ]);
  });

  test('wrong type error omits the value', () => {
    const issues = issuesOf({ ...valid, text: ['confidential body'], subject: 7 });
    const messages = issues.map((issue) => issue.message).join(' ');
    expect(messages).toContain('text must be a string, got an array');
    expect(messages).not.toContain('confidential');
  });

  test('recipientsOf lists To, Cc and Bcc', () => {
    const message = parseMessage({ ...valid, cc: 'c@example.com', bcc: ['d@example.com'] });
    expect(recipientsOf(message)).toEqual(['ada@example.com', 'c@example.com', 'd@example.com']);
  });
});

test('large attachments validate without a stack overflow', () => {
  const content = Buffer.alloc(6 * 1024 * 1024, 7).toString('base64');
  const message = parseMessage({
    from: 'a@example.com',
    to: 'b@example.com',
    subject: 'big',
    text: 'x',
    attachments: [{ filename: 'big.bin', content }],
  });
  expect(message.attachments?.[0]?.content).toHaveLength(content.length);
});
