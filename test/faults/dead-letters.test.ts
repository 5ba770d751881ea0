import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test, vi } from 'vitest';
import { runDeadLetters } from '../../apps/cli/src/commands/dead-letters.js';
import { account, LocalStack, waitForFinal } from '../harness/index.js';

const A = 'orders@contoso.example';
const B = 'billing@contoso.example';
let stack: LocalStack;
let client: MailClient;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    mailboxes: [{ address: A }, { address: B }],
  });
  await stack.addWorker({ POSTROOM_CONNECTION_IDLE_MS: '0' });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await runDeadLetters(
      { redisUrl: stack.redisUrl, queueName: stack.queueName },
      args,
    );
    return { code, out: chunks.join('') };
  } finally {
    spy.mockRestore();
    stderr.mockRestore();
  }
}

test('dead letters list, filter, retry with the same Message-ID, and purge', async () => {
  stack.emulator.addFault({
    stage: 'data-end',
    action: 'reply',
    mailbox: A,
    count: 2,
    reply: '552 5.3.4 Message size exceeds fixed maximum message size',
  });
  stack.emulator.addFault({
    stage: 'data-end',
    action: 'reply',
    mailbox: B,
    reply: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
  });
  const rejected = await client.sendMany(
    [1, 2].map((index) => ({
      from: A,
      to: `x${index}@fabrikam.example`,
      subject: `big ${index}`,
      text: 'x',
    })),
  );
  const denied = await client.send({
    from: B,
    to: 'y@fabrikam.example',
    subject: 'denied',
    text: 'y',
  });
  const books = await account(
    client,
    [...rejected.map((result) => result.id), denied.id],
    stack.emulator,
  );
  expect(books.failed).toBe(3);

  const all = await cli(['list']);
  expect(all.code).toBe(0);
  expect(all.out.trim().split('\n')).toHaveLength(3);
  const permanent = await cli(['list', '--class', 'permanent']);
  expect(permanent.out.trim().split('\n')).toHaveLength(2);
  const onlyB = await cli(['list', '--mailbox', B]);
  expect(onlyB.out).toContain(denied.id);
  expect(onlyB.out).toContain('configuration');

  const first = rejected[0]?.id as string;
  const messageId = (await client.status(first))?.messageId;
  expect((await cli(['retry', first])).code).toBe(0);
  const retried = await waitForFinal(client, first);
  expect(retried.state).toBe('sent');
  expect(stack.emulator.messages(A)[0]?.messageId).toBe(messageId);

  expect((await cli(['purge', '--class', 'configuration'])).code).toBe(0);
  const left = await cli(['list']);
  expect(left.out.trim().split('\n')).toEqual([expect.stringContaining(rejected[1]?.id as string)]);
  expect((await cli(['show', 'msg_missing'])).code).toBe(1);
});
