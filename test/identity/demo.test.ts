import { expect, inject, test } from 'vitest';
import { type DemoOptions, runDemo } from '../../apps/cli/src/commands/demo.js';

// The demo functions run in this process; each starts its own emulator and worker process.
async function demo(options: DemoOptions): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runDemo(
    { ...options, timeoutMs: 45_000, print: (line) => lines.push(line) },
    { REDIS_URL: inject('redisUrl') },
  );
  return { code, output: lines.join('\n') };
}

test('demo over Graph delivers every message', async () => {
  const { code, output } = await demo({ transport: 'graph' });

  expect(output).toContain('roles Mail.Send');
  expect(output).toContain('202 Accepted');
  expect(output).toMatch(/delivered (\d+) of \1$/m);
  expect(code).toBe(0);
}, 60_000);

test('demo with a certificate delivers everything', async () => {
  const { code, output } = await demo({ credential: 'certificate' });

  expect(output).toContain('certificate; transport smtp');
  expect(output).toContain('OK    auth       235 2.7.0 Authentication successful');
  expect(output).toMatch(/delivered (\d+) of \1$/m);
  expect(code).toBe(0);
}, 60_000);

test('demo without service principal fails verify', async () => {
  const { code, output } = await demo({ scenario: 'missing-service-principal' });

  expect(output).toContain('FAIL  auth       535 5.7.3');
  expect(output).toContain('New-ServicePrincipal -AppId postroom-demo-app');
  expect(output).toContain('verify failed, so no message was sent');
  expect(output).not.toContain('Enqueued');
  expect(code).toBe(1);
}, 60_000);
