import { createHash, randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { composeDraftMessage } from './draft-mime.js';
import { parseSubmission } from './message-capture.js';

const MULTIPART_DRAFT = [
  'From: sender@contoso.example',
  'To: ada@fabrikam.example',
  'Subject: A subject folded',
  ' over two lines',
  'Message-ID: <fixed@contoso.example>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed;',
  ' boundary="inner"',
  '',
  '--inner',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Body text.',
  '--inner',
  'Content-Type: text/csv; name="small.csv"',
  'Content-Disposition: attachment; filename="small.csv"',
  '',
  'a,b',
  '--inner--',
  '',
].join('\r\n');

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

it('keeps draft headers and parts', async () => {
  const file = randomBytes(10_000);
  const raw = composeDraftMessage(Buffer.from(MULTIPART_DRAFT), [
    {
      id: 'a1',
      name: 'Bericht über März.pdf',
      contentType: 'application/pdf',
      isInline: false,
      content: file,
    },
  ]);
  const parsed = await parseSubmission(raw);

  expect(parsed.messageId).toBe('<fixed@contoso.example>');
  expect(parsed.subject).toBe('A subject folded over two lines');
  expect(parsed.text?.trim()).toBe('Body text.');
  expect(parsed.attachments.map((attachment) => attachment.filename)).toEqual([
    'small.csv',
    'Bericht über März.pdf',
  ]);
  expect(sha256(parsed.attachments[1]?.content ?? Buffer.alloc(0))).toBe(sha256(file));
});

it('returns draft without attachments unchanged', () => {
  const raw = Buffer.from(MULTIPART_DRAFT);

  expect(composeDraftMessage(raw, [])).toBe(raw);
});
