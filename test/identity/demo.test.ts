import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, inject, test } from 'vitest';
import { type DemoOptions, runDemo } from '../../apps/cli/src/commands/demo.js';
import { waitUntil } from '../harness/index.js';

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

test('interrupted demo leaves nothing behind', async () => {
  await withDemoProcess(async (demoRun) => {
    await waitUntil(
      'the demo worker to start',
      () => /worker {4}pid \d+/.test(demoRun.output()),
      60_000,
    );
    const workerPid = Number(/worker {4}pid (\d+)/.exec(demoRun.output())?.[1]);
    const redisPort = Number(/redis {5}redis:\/\/127\.0\.0\.1:(\d+)/.exec(demoRun.output())?.[1]);

    expect(await demoRun.terminate()).toBe(143);
    expect(demoRun.output()).toContain('SIGTERM received');
    expect(isAlive(workerPid)).toBe(false);
    expect(await accepts(redisPort)).toBe(false);
    expect(await demoRun.leftovers()).toEqual([]);
  });
}, 90_000);

test('demo interrupted while starting cleans up', async () => {
  await withDemoProcess(async (demoRun) => {
    // The first line comes before the stack starts, so the signal arrives during its start-up.
    await waitUntil(
      'the demo to begin',
      () => demoRun.output().includes('Starting redis-server'),
      60_000,
    );

    expect(await demoRun.terminate()).toBe(143);
    expect(demoRun.output()).not.toContain('worker    pid');
    expect(await demoRun.leftovers()).toEqual([]);
  });
}, 90_000);

interface DemoRun {
  output(): string;
  /** Sends SIGTERM and returns the exit code. */
  terminate(): Promise<number | null>;
  /** The demo's temporary directories still present (tsx keeps its cache there too). */
  leftovers(): Promise<string[]>;
}

// Runs `postroom demo` as a user would, with a temporary directory of its own, so that whatever
// it leaves behind can be counted.
async function withDemoProcess(check: (demoRun: DemoRun) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'demo-signal-'));
  const cli = fileURLToPath(new URL('../../apps/cli/src/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', cli, 'demo'], {
    env: { PATH: process.env.PATH ?? '', TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    await check({
      output: () => output,
      terminate: () => {
        child.kill('SIGTERM');
        return exited;
      },
      leftovers: async () => (await readdir(tmp)).filter((name) => name.startsWith('postroom-')),
    });
  } finally {
    child.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
