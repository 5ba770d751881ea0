import { createJobPayload, parseMessage } from '@postroom/core';
import { simpleParser } from 'mailparser';
import { expect, test } from 'vitest';
import { renderMessage } from './mime.js';

const pdf = Buffer.from('%PDF-1.4 receipt bytes \u0000\u00ff', 'latin1');

test('rendered message round-trips through a MIME parser', async () => {
  const message = parseMessage({
    from: 'Bücher Versand <versand@bücher.example>',
    to: ['José Núñez <jose@example.com>'],
    cc: 'ops@example.com',
    bcc: 'audit@example.com',
    replyTo: 'support@example.com',
    subject: 'Ihre Bestellung 🚚 ist unterwegs – Größe XL',
    text: 'Hallo José',
    html: '<p>Hallo <b>José</b> <img src="cid:logo@acme"></p>',
    headers: { 'X-Campaign': 'shipping', 'List-Unsubscribe': '<mailto:unsubscribe@example.com>' },
    attachments: [
      {
        filename: 'Rechnung März.pdf',
        content: pdf.toString('base64'),
        contentType: 'application/pdf',
      },
      {
        filename: 'logo.png',
        content: Buffer.from('png').toString('base64'),
        contentType: 'image/png',
        contentId: 'logo@acme',
      },
    ],
  });
  const payload = createJobPayload(message);
  const { envelope, raw } = await renderMessage(payload);
  const parsed = await simpleParser(raw);

  expect(parsed.subject).toBe('Ihre Bestellung 🚚 ist unterwegs – Größe XL');
  expect(parsed.from?.value[0]).toEqual({
    name: 'Bücher Versand',
    address: 'versand@bücher.example',
  });
  expect(parsed.messageId).toBe(payload.messageId);
  expect(parsed.headers.get('x-campaign')).toBe('shipping');
  expect(parsed.headers.has('bcc')).toBe(false);
  expect(envelope.to).toEqual(['jose@example.com', 'ops@example.com', 'audit@example.com']);

  const receipt = parsed.attachments.find(
    (attachment) => attachment.contentType === 'application/pdf',
  );
  const logo = parsed.attachments.find((attachment) => attachment.contentType === 'image/png');
  expect(receipt?.filename).toBe('Rechnung März.pdf');
  expect(receipt?.content.equals(pdf)).toBe(true);
  expect(logo?.contentId).toBe('<logo@acme>');
  expect(logo?.contentDisposition).toBe('inline');
});

test('header values cannot inject headers or SMTP commands', async () => {
  // Validation rejects CR and LF; this checks that what passes renders as one header each.
  const message = parseMessage({
    from: 'noreply@example.com',
    to: 'a@example.com',
    subject: 'Hi Bcc: x@example.net . QUIT',
    text: 'line one\r\n.\r\nMAIL FROM:<evil@example.net>\r\n',
    headers: { 'X-Note': 'value Bcc: x@example.net' },
  });
  const { raw } = await renderMessage(createJobPayload(message));
  const parsed = await simpleParser(raw);
  const headerNames = [...parsed.headers.keys()];

  expect(headerNames).not.toContain('bcc');
  expect(raw.toString()).not.toMatch(/^Bcc:/im);
  expect(parsed.text).toContain('MAIL FROM:<evil@example.net>');
  expect(parsed.headers.get('x-note')).toBe('value Bcc: x@example.net');
});

test('attachment typed by its .eml name is sent as octet-stream', async () => {
  // nodemailer would type forward.eml as message/rfc822 and write its bytes unencoded.
  const bytes = Buffer.from([0x00, 0xff, 0x0d, 0x80, 0x41, 0x0a, 0xfe]);
  const message = parseMessage({
    from: 'noreply@example.com',
    to: 'a@example.com',
    subject: 'Forwarded',
    text: 'see attachment',
    attachments: [{ filename: 'forward.eml', content: bytes.toString('base64') }],
  });
  const { raw } = await renderMessage(createJobPayload(message));
  const parsed = await simpleParser(raw);

  // mailparser types the part by its file name again, so the header is checked in the MIME.
  expect(raw.toString()).toContain('Content-Type: application/octet-stream; name=forward.eml');
  expect(raw.toString()).toContain('Content-Transfer-Encoding: base64');
  expect(parsed.attachments).toHaveLength(1);
  expect(parsed.attachments[0]?.content.equals(bytes)).toBe(true);
});
