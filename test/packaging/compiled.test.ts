import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal } from '../harness/index.js';

// The entry points that production runs: the compiled worker, CLI and emulator, each started
// with plain Node.js (no tsx, no --conditions), from the dist/ that `npm ci` built.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAILBOX = 'receipts@contoso.example';
const run = promisify(execFile);

let stack: LocalStack;
let client: MailClient;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX }],
    workerRuntime: 'compiled',
  });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('compiled worker delivers a message', async () => {
  const worker = await stack.addWorker();
  const commandLine = (await readFile(`/proc/${worker.pid}/cmdline`, 'utf8')).split('\0');

  const { id } = await client.send({
    from: MAILBOX,
    to: 'ada@fabrikam.example',
    subject: 'Compiled',
    text: 'sent by the compiled worker',
  });

  expect(commandLine.slice(1, -1)).toEqual([join(ROOT, 'apps/worker/dist/main.js')]);
  expect((await waitForFinal(client, id)).state).toBe('sent');
});

test('compiled CLI lists mailboxes', async () => {
  const { stdout } = await run(
    process.execPath,
    [join(ROOT, 'apps/cli/dist/main.js'), 'mailbox', 'list'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        POSTROOM_REDIS_URL: stack.redisUrl,
        POSTROOM_QUEUE_NAME: stack.queueName,
      },
    },
  );

  expect(stdout).toMatch(new RegExp(`^${MAILBOX} +healthy`, 'm'));
});

test('compiled emulator starts and stops', async () => {
  const config = join(stack.dir, 'emulator.json');
  await writeFile(
    config,
    JSON.stringify({
      apps: [
        { tenantId: 'contoso', clientId: 'app-1', clientSecret: 'secret', mailboxes: [MAILBOX] },
      ],
    }),
  );
  const emulator = spawn(process.execPath, [join(ROOT, 'apps/m365-emulator/dist/main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      M365_EMULATOR_CONFIG: config,
      M365_EMULATOR_STATE_DIR: join(stack.dir, 'compiled-emulator'),
      M365_EMULATOR_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(emulator, 'exit');
  const lines = createInterface({ input: emulator.stdout });
  const [firstLine] = (await once(lines, 'line')) as [string];
  const ready = JSON.parse(firstLine) as { smtpPort: number; caFile: string };

  emulator.kill('SIGTERM');
  const [code] = (await exited) as [number | null];

  expect(ready.smtpPort).toBeGreaterThan(0);
  expect(ready.caFile).toBe(join(stack.dir, 'compiled-emulator/ca.pem'));
  expect(code).toBe(0);
});
