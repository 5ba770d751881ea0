import { createHash, randomBytes } from 'node:crypto';
import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal } from '../harness/index.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let stack: LocalStack;
let client: MailClient;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 2000,
    mailboxes: [{ address: 'noreply@contoso.example', sendAs: ['billing@contoso.example'] }],
  });
  await stack.addWorker({ POSTROOM_CONNECTION_IDLE_MS: '0' });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('message arrives with its headers, recipients and attachments intact', async () => {
  const pdf = randomBytes(48 * 1024);
  const image = randomBytes(3000);
  const { id } = await client.send({
    from: 'Contoso Billing <billing@contoso.example>',
    to: ['Ada Lovelace <ada@fabrikam.example>', 'grace@fabrikam.example'],
    cc: 'Åsa Öberg <asa@fabrikam.example>',
    bcc: 'archive@contoso.example',
    replyTo: 'support@contoso.example',
    subject: 'Rechnung März – ご注文 ✅',
    text: 'Invoice attached.\r\n.\r\nThis line follows a lone dot.',
    html: '<p>Invoice attached. <img src="cid:logo@contoso"></p>',
    headers: {
      'X-Campaign': 'invoice-2026-11',
      'List-Unsubscribe': '<mailto:unsubscribe@contoso.example>',
    },
    attachments: [
      {
        filename: 'Rechnung März.pdf',
        content: pdf.toString('base64'),
        contentType: 'application/pdf',
      },
      {
        filename: 'logo.png',
        content: image.toString('base64'),
        contentType: 'image/png',
        contentId: 'logo@contoso',
      },
    ],
  });

  const status = await waitForFinal(client, id);
  expect(status.state).toBe('sent');
  expect(status.reply).toMatch(/^250 /);

  const [received] = stack.emulator.messages();
  expect(received?.mailbox).toBe('noreply@contoso.example');
  expect(received?.messageId).toBe(status.messageId);
  expect(received?.subject).toBe('Rechnung März – ご注文 ✅');
  expect(received?.from).toBe('billing@contoso.example');
  expect(received?.to).toEqual(['ada@fabrikam.example', 'grace@fabrikam.example']);
  expect(received?.cc).toEqual(['asa@fabrikam.example']);
  expect(received?.bcc).toEqual(['archive@contoso.example']);
  expect(received?.replyTo).toEqual(['support@contoso.example']);
  expect(received?.headers['x-campaign']).toBe('invoice-2026-11');
  expect(received?.headers.bcc).toBeUndefined();
  expect(received?.text).toContain('\n.\nThis line follows a lone dot.');

  const attachments = received?.attachments ?? [];
  const receipt = attachments.find((attachment) => attachment.contentType === 'application/pdf');
  const logo = attachments.find((attachment) => attachment.contentType === 'image/png');
  expect(receipt?.filename).toBe('Rechnung März.pdf');
  expect(receipt?.sha256).toBe(sha256(pdf));
  expect(logo?.sha256).toBe(sha256(image));
  expect(logo?.contentId).toBe('logo@contoso');
});

test('rejected token gets 535 and the worker recovers with a fresh one', async () => {
  const first = await client.send({
    from: 'noreply@contoso.example',
    to: 'a@fabrikam.example',
    subject: 'one',
    text: '1',
  });
  expect((await waitForFinal(client, first.id)).state).toBe('sent');
  const tokensBefore = stack.emulator.stats().tokenRequests.ok;

  stack.emulator.revokeTokens();
  const second = await client.send({
    from: 'noreply@contoso.example',
    to: 'b@fabrikam.example',
    subject: 'two',
    text: '2',
  });
  const status = await waitForFinal(client, second.id);

  expect(status.state).toBe('sent');
  const stats = stack.emulator.stats();
  expect(stats.replies['535 5.7.3']).toBe(1);
  expect(stats.tokenRequests.ok).toBe(tokensBefore + 1);
});

test('sender without Send As is rejected at enqueue', async () => {
  await expect(
    client.send({ from: 'ceo@contoso.example', to: 'a@fabrikam.example', subject: 'x', text: 'x' }),
  ).rejects.toMatchObject({ code: 'POSTROOM_SENDER_NOT_ALLOWED' });
});
