import { createJobPayload, type MessageInput, parseMessage } from '@postroom/core';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { expect, test } from 'vitest';
import { composeMessage, renderMessage, serializeMime } from './mime.js';

// Text that exercises every transfer encoding nodemailer picks: plain ASCII (7bit), long lines,
// whitespace before line breaks and at the end, '=' and leading dots, Latin-1 (quoted-printable)
// and mostly non-Latin text (base64), with LF, CRLF and lone CR line breaks.
const fragment = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    ' ',
    '\t',
    ' \n',
    '\t\r\n',
    '\r',
    '\n',
    '\r\n',
    '=',
    '.',
    '\n.\n',
    'Größe',
    'José Núñez',
    '🚚📦',
    'Заказ отправлен',
    '注文は発送されました',
    'x'.repeat(80),
    'a '.repeat(60),
  ),
);
const body = fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join(''));
const safeLine = fc
  .array(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('Größe', '🚚', 'Ж', ' ', '=?')), {
    maxLength: 6,
  })
  .map((parts) => parts.join('').replace(/[\r\n\0]/g, ' '));
const address = fc.record(
  {
    name: fc.oneof(fc.constant(undefined), safeLine),
    address: fc.constantFrom(
      'a@example.com',
      'ops.team+tag@example.org',
      'versand@bücher.example',
      'user@xn--bcher-kva.example',
    ),
  },
  { requiredKeys: ['address'] },
);
const attachment = fc.record(
  {
    filename: fc.constantFrom('receipt.pdf', 'Rechnung März.pdf', 'data.csv', '数据.txt'),
    content: fc
      .uint8Array({ maxLength: 3000 })
      .map((bytes) => Buffer.from(bytes).toString('base64')),
    contentType: fc.constantFrom('application/pdf', 'text/plain', 'text/csv', 'image/png'),
    contentId: fc.constantFrom('logo@acme', 'img-1@example.com'),
  },
  { requiredKeys: ['filename', 'content'] },
);

const message: fc.Arbitrary<MessageInput> = fc
  .record(
    {
      from: address,
      to: fc.array(address, { minLength: 1, maxLength: 3 }),
      cc: fc.array(address, { maxLength: 2 }),
      bcc: fc.array(address, { maxLength: 2 }),
      replyTo: fc.array(address, { maxLength: 1 }),
      subject: safeLine.map((line) => (line.trim() === '' ? `Receipt ${line}` : line)),
      text: body,
      html: body.map((text) => `<p>${text}</p>`),
      headers: fc.dictionary(
        fc.constantFrom('X-Campaign', 'X-Entity-Ref-ID', 'List-Unsubscribe'),
        safeLine,
        { maxKeys: 3 },
      ),
      attachments: fc.array(attachment, { maxLength: 3 }),
      priority: fc.constantFrom('high', 'normal', 'low'),
    },
    { requiredKeys: ['from', 'to', 'subject'] },
  )
  .map((input) =>
    input.text === undefined && input.html === undefined ? { ...input, text: '' } : input,
  );

test('serializeMime matches build() byte for byte', async () => {
  await fc.assert(
    fc.asyncProperty(message, fc.boolean(), async (input, keepBcc) => {
      const node = composeMessage(createJobPayload(parseMessage(input)), { keepBcc });
      const written = serializeMime(node);
      const built = await node.build();
      expect(written?.toString('latin1')).toBe(built.toString('latin1'));
    }),
    { numRuns: 1000 },
  );
});

test('large quoted-printable text falls back to build()', async () => {
  // nodemailer's quoted-printable encoder works in 64 KiB slices, and text that crosses a
  // slice border is left to it.
  const line = `${'Grüße aus München '.repeat(4)}\t \n`;
  const text = line.repeat(Math.ceil((150 * 1024) / line.length));
  const payload = createJobPayload(
    parseMessage({ from: 'a@example.com', to: 'b@example.com', subject: 'large', text }),
  );
  expect(serializeMime(composeMessage(payload))).toBeUndefined();
  const parsed = await simpleParser((await renderMessage(payload)).raw);
  expect(parsed.text).toBe(text);
});

test('raw node falls back to build()', async () => {
  const payload = createJobPayload(
    parseMessage({ from: 'a@example.com', to: 'b@example.com', subject: 'x', text: 'y' }),
  );
  const node = composeMessage(payload);
  node.setRaw('Subject: raw\r\n\r\nraw body\r\n');
  expect(serializeMime(node)).toBeUndefined();
  const rendered = await renderMessage(payload);
  expect(rendered.raw.toString()).toContain('Subject: x');
});
