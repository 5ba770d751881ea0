import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCliConfig } from './cli-config.js';
import { testApp } from './test-support/fixtures.js';

const MAIN_FILE = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO_ROOT = path.resolve(path.dirname(MAIN_FILE), '../../..');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(env: Record<string, string>): { child: ChildProcess; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN_FILE], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, exited };
}

function firstStdoutLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end >= 0) {
        resolve(buffered.slice(0, end));
      }
    });
    child.once('exit', (code) => reject(new Error(`CLI exited with ${code} before it was ready`)));
  });
}

describe('m365-emulator CLI', () => {
  let workDir: string;
  let configFile: string;

  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'm365-emulator-cli-'));
    configFile = path.join(workDir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({ apps: [testApp()], limits: { messagesPerMinute: 10 } }),
    );
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  it('prints the ports when ready and exits 0 on SIGTERM', async () => {
    const { child, exited } = runCli({ M365_EMULATOR_CONFIG: configFile });
    const ready = JSON.parse(await firstStdoutLine(child)) as Record<string, unknown>;
    const health = await fetch(`http://127.0.0.1:${String(ready.apiPort)}/healthz`);
    child.kill('SIGTERM');
    const exit = await exited;

    expect(Object.keys(ready)).toEqual(['smtpPort', 'httpsPort', 'apiPort', 'graphPort', 'caFile']);
    expect(health.status).toBe(200);
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim().split('\n')).toHaveLength(1);
    expect(exit.stderr).toContain('"msg":"emulator started"');
    expect(exit.stderr).toContain(String(ready.caFile));
    expect(existsSync(String(ready.caFile))).toBe(false);
  });

  it('exits 2 with the variable and fix for a bad value', async () => {
    const { exited } = runCli({ M365_EMULATOR_CONFIG: configFile, M365_EMULATOR_SMTP_PORT: 'abc' });
    const exit = await exited;

    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(
      'M365_EMULATOR_SMTP_PORT is invalid: "abc"; set an integer from 0 to 65535',
    );
  });

  it('names the config file for an invalid app', async () => {
    const badConfig = path.join(workDir, 'bad-app.json');
    writeFileSync(badConfig, JSON.stringify({ apps: [{ ...testApp(), clientSecret: undefined }] }));
    const { exited } = runCli({ M365_EMULATOR_CONFIG: badConfig });
    const exit = await exited;

    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain(`M365_EMULATOR_CONFIG (${badConfig}): Invalid option apps[0]`);
  });
});

describe('loadCliConfig', () => {
  let workDir: string;

  beforeAll(() => {
    workDir = mkdtempSync(path.join(os.tmpdir(), 'm365-emulator-config-'));
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  function writeConfig(name: string, content: unknown): string {
    const file = path.join(workDir, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  it('reads every variable', async () => {
    const file = writeConfig('full.json', {
      apps: [testApp()],
      mailboxLimits: { 'a@contoso.example': { messagesPerMinute: 5 } },
      sendAs: { 'a@contoso.example': ['b@contoso.example'] },
    });
    const config = await loadCliConfig({
      M365_EMULATOR_CONFIG: file,
      M365_EMULATOR_HOST: '127.0.0.2',
      M365_EMULATOR_SMTP_PORT: '2587',
      M365_EMULATOR_HTTPS_PORT: '2443',
      M365_EMULATOR_API_PORT: '2080',
      M365_EMULATOR_TIME_UNIT_MS: '1000',
      M365_EMULATOR_TOKEN_LIFETIME_SECONDS: '600',
      M365_EMULATOR_STATE_DIR: '/tmp/state',
      M365_EMULATOR_CERT_HOSTNAMES: 'emulator, m365-emulator',
      M365_EMULATOR_LOG_LEVEL: 'debug',
    });

    expect(config.logLevel).toBe('debug');
    expect(config.options).toMatchObject({
      host: '127.0.0.2',
      smtpPort: 2587,
      httpsPort: 2443,
      apiPort: 2080,
      timeUnitMs: 1000,
      tokenLifetimeSeconds: 600,
      stateDir: '/tmp/state',
      certificateHostnames: ['emulator', 'm365-emulator'],
      apps: [testApp()],
      mailboxLimits: { 'a@contoso.example': { messagesPerMinute: 5 } },
      sendAs: { 'a@contoso.example': ['b@contoso.example'] },
    });
  });

  it('loads certificateFile relative to the config file', async () => {
    writeFileSync(path.join(workDir, 'app.pem'), 'PEM TEXT');
    const { clientSecret: _secret, ...app } = testApp();
    const file = writeConfig('cert.json', { apps: [{ ...app, certificateFile: 'app.pem' }] });
    const config = await loadCliConfig({ M365_EMULATOR_CONFIG: file });

    expect(config.options.apps[0]?.certificatePem).toBe('PEM TEXT');
  });

  it('requires M365_EMULATOR_CONFIG', async () => {
    await expect(loadCliConfig({})).rejects.toThrow(
      'M365_EMULATOR_CONFIG is not set; set it to a JSON file',
    );
  });

  it.each([
    [{ M365_EMULATOR_TIME_UNIT_MS: '0' }, 'M365_EMULATOR_TIME_UNIT_MS is invalid: "0"'],
    [{ M365_EMULATOR_API_PORT: '1.5' }, 'M365_EMULATOR_API_PORT is invalid: "1.5"'],
    [{ M365_EMULATOR_LOG_LEVEL: 'loud' }, 'M365_EMULATOR_LOG_LEVEL is invalid: "loud"; set one of'],
  ])('rejects %j', async (env, message) => {
    const file = writeConfig('ok.json', { apps: [testApp()] });

    await expect(loadCliConfig({ M365_EMULATOR_CONFIG: file, ...env })).rejects.toThrow(message);
  });

  it.each([
    ['not-json.json', '{', 'could not be read as JSON'],
    ['array.json', [], 'must contain a JSON object with an "apps" array'],
    ['no-apps.json', { limits: {} }, 'must have an "apps" array'],
    ['extra.json', { apps: [], extra: 1 }, 'has unknown keys extra'],
  ])('rejects config file %s', async (name, content, message) => {
    const file = writeConfig(name, content);

    await expect(loadCliConfig({ M365_EMULATOR_CONFIG: file })).rejects.toThrow(
      `M365_EMULATOR_CONFIG (${file})`,
    );
    await expect(loadCliConfig({ M365_EMULATOR_CONFIG: file })).rejects.toThrow(message);
  });
});
