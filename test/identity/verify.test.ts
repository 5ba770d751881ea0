import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAppCertificate } from '@postroom/m365-emulator';
import { afterAll, beforeAll, beforeEach, expect, inject, test } from 'vitest';
import { runVerify } from '../../apps/cli/src/commands/verify.js';
import { LocalStack } from '../harness/index.js';

// GRANTED has the Exchange permission. UNGRANTED belongs to an app without it, as when
// New-ServicePrincipal and Add-MailboxPermission were skipped.
const GRANTED = 'noreply@contoso.example';
const SEND_AS = 'billing@contoso.example';
const UNGRANTED = 'sales@contoso.example';

let stack: LocalStack;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    apps: [{ name: 'contoso' }, { name: 'no-grant', mailboxGrant: false }],
    mailboxes: [
      { address: GRANTED, app: 'contoso', sendAs: [SEND_AS] },
      { address: UNGRANTED, app: 'no-grant' },
    ],
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

beforeEach(() => {
  stack.emulator.clearFaults();
  stack.emulator.reset();
});

async function verify(args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runVerify(args, stack.workerEnv(), (line) => lines.push(line));
  return { code, output: lines.join('\n') };
}

test('verify passes every step without sending', async () => {
  const { code, output } = await verify(['--mailbox', GRANTED]);

  expect(code).toBe(0);
  expect(output).toContain(
    'OK    token      tenant contoso-demo-tenant, app postroom-demo-app, roles SMTP.SendAsApp',
  );
  expect(output).toContain('OK    auth       235 2.7.0 Authentication successful');
  expect(output).toContain(`OK    rcpt to    250`);
  expect(output).toMatch(/OK {4}rset {7}250/);
  expect(output.match(/OK {4}mail from/g)).toHaveLength(2);
  expect(output).toContain('verify: all 1 mailbox(es) OK');
  expect(stack.emulator.messages()).toEqual([]);
  expect(stack.emulator.stats().repliesByCode['354']).toBeUndefined();
});

test('verify names New-ServicePrincipal for 535 5.7.3', async () => {
  const { code, output } = await verify([]);

  expect(code).toBe(1);
  expect(output).toContain('FAIL  auth       535 5.7.3');
  expect(output).toContain('New-ServicePrincipal -AppId postroom-no-grant-app');
  expect(output).toContain(`Add-MailboxPermission -Identity ${UNGRANTED}`);
  expect(output).toContain('verify: 1 of 2 mailbox(es) failed');
});

test('verify names Set-CASMailbox for 5.7.139', async () => {
  stack.emulator.addFault({
    stage: 'auth',
    action: 'reply',
    mailbox: GRANTED,
    reply:
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.',
  });
  const { code, output } = await verify(['--mailbox', GRANTED]);

  expect(code).toBe(1);
  expect(output).toContain(
    `Set-CASMailbox -Identity ${GRANTED} -SmtpClientAuthenticationDisabled $false`,
  );
});

test('verify names Send As for 5.7.60', async () => {
  // The first MAIL FROM (the mailbox itself) goes through; the second (the Send As address) fails.
  stack.emulator.addFault({ stage: 'mail', action: 'delay', delayMs: 0, mailbox: GRANTED });
  stack.emulator.addFault({
    stage: 'mail',
    action: 'reply',
    mailbox: GRANTED,
    reply: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
  });
  const { code, output } = await verify(['--mailbox', GRANTED]);

  expect(code).toBe(1);
  expect(output).toContain(
    `Add-RecipientPermission -Identity ${SEND_AS} -Trustee ${GRANTED} -AccessRights SendAs`,
  );
});

test('verify names the secret for AADSTS7000215', async () => {
  stack.emulator.addFault({ stage: 'token', action: 'reply', aadsts: 7000215 });
  const { code, output } = await verify(['--mailbox', GRANTED]);

  expect(code).toBe(1);
  expect(output).toContain('FAIL  token      Entra ID rejected the app credentials (AADSTS7000215');
  expect(output).toContain('Secret ID');
  expect(output).toMatch(/correlation id [0-9a-f-]{36}/);
});

test('verify names the CA file for an untrusted certificate', async () => {
  // A self-signed certificate that did not issue the emulator's, as a wrong CA file would be.
  const wrongCa = join(stack.dir, 'wrong-ca.pem');
  await writeFile(wrongCa, (await createAppCertificate('wrong-ca')).certificatePem);
  const lines: string[] = [];
  const code = await runVerify(
    ['--mailbox', GRANTED],
    { ...stack.workerEnv(), POSTROOM_TLS_CA_FILE: wrongCa },
    (line) => lines.push(line),
  );
  const output = lines.join('\n');

  expect(code).toBe(1);
  expect(output).toContain(
    `FAIL  token      TLS certificate of the token endpoint 127.0.0.1:${stack.emulator.httpsPort} is not trusted`,
  );
  expect(output).toMatch(/fix: .*POSTROOM_TLS_CA_FILE/);
});

test('verify output holds no token or secret', async () => {
  const { output } = await verify([]);

  expect(output).not.toContain('eyJ');
  for (const secret of stack.credentialSecrets) expect(output).not.toContain(secret);
});

test('verify exits 2 on invalid configuration', async () => {
  const lines: string[] = [];
  const code = await runVerify([], { POSTROOM_MAILBOX: 'a@example.com' }, (line) =>
    lines.push(line),
  );

  expect(code).toBe(2);
  expect(lines.join('\n')).toContain('POSTROOM_TENANT_ID');
});
