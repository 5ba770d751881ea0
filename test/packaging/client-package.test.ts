import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { lockfileFor } from './lockfile.js';

// Packs @postroom/core and @postroom/client as `npm publish` would, installs both tarballs into
// an empty project outside the repository, and uses the client there from plain Node.js. The
// tarballs hold the dist/ that `npm ci` built (the root prepare script); run `npm run build`
// after changing the sources.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

interface PackedFile {
  path: string;
}
interface PackResult {
  name: string;
  filename: string;
  files: PackedFile[];
}

let dir: string;
let project: string;
let packed: PackResult[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'postroom-package-'));
  project = join(dir, 'project');
  await mkdir(project);

  // --ignore-scripts: the prepack build would rewrite dist/ while other test files load it.
  const pack = await run(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir].concat([
      '--workspace',
      'packages/core',
      '--workspace',
      'packages/client',
    ]),
    { cwd: ROOT },
  );
  packed = JSON.parse(pack.stdout) as PackResult[];

  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const lockfile = lockfileFor(join(ROOT, 'package-lock.json'), ['bullmq', 'ioredis', 'zod']);
  await writeFile(join(project, 'package-lock.json'), JSON.stringify(lockfile));
  const tarballs = packed.map((result) => join(dir, result.filename));
  await run(
    'npm',
    ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ...tarballs],
    { cwd: project },
  );
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs an ES module with plain Node.js in the consumer project and parses its JSON output. */
async function runInProject(source: string, env: Record<string, string> = {}): Promise<unknown> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], {
    cwd: project,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return JSON.parse(stdout);
}

test('core tarball is publishable', async () => {
  const core = packed.find((result) => result.name === '@postroom/core');
  const manifest = JSON.parse(
    await readFile(join(project, 'node_modules/@postroom/core/package.json'), 'utf8'),
  ) as { private?: boolean };
  const paths = core?.files.map((file) => file.path) ?? [];

  expect(manifest.private).not.toBe(true);
  expect(paths).toContain('dist/index.js');
  expect(paths).toContain('dist/index.d.ts');
  expect(paths.filter((path) => path.startsWith('src/'))).toEqual([]);
  expect(paths.filter((path) => path.includes('.test.'))).toEqual([]);
});

test('packed client enqueues from plain Node', async () => {
  const queueName = `package-${Date.now().toString(36)}`;
  const output = (await runInProject(
    `
    import { MailClient, ValidationError } from '@postroom/client';
    const client = new MailClient({ connection: process.env.REDIS_URL, queueName: process.env.QUEUE_NAME });
    const sent = await client.send({
      from: 'noreply@contoso.example',
      to: 'ada@fabrikam.example',
      subject: 'Packed client',
      text: 'enqueued by the packed client',
    });
    const invalid = await client.send({ from: 'noreply@contoso.example' }).catch((error) => error);
    await client.close();
    console.log(JSON.stringify({
      id: sent.id,
      resolved: import.meta.resolve('@postroom/client'),
      invalidIsValidationError: invalid instanceof ValidationError,
    }));
    `,
    { REDIS_URL: inject('redisUrl'), QUEUE_NAME: queueName },
  )) as { id: string; resolved: string; invalidIsValidationError: boolean };

  const reader = new MailClient({ connection: inject('redisUrl'), queueName });
  try {
    expect(fileURLToPath(output.resolved)).toBe(
      join(project, 'node_modules/@postroom/client/dist/index.js'),
    );
    expect(output.invalidIsValidationError).toBe(true);
    expect((await reader.status(output.id))?.state).toBe('queued');
  } finally {
    await reader.close();
  }
});

test('packed client types compile', async () => {
  await writeFile(
    join(project, 'consumer.ts'),
    [
      "import { MailClient, type MessageInput } from '@postroom/client';",
      "const message: MessageInput = { from: 'a@contoso.example', to: 'b@fabrikam.example', subject: 's', text: 't' };",
      "export const pending: Promise<{ id: string }> = new MailClient({ connection: 'redis://127.0.0.1:6379' }).send(message);",
      '// Fails as an unused directive when the types resolve to any, as they do without core.',
      '// @ts-expect-error',
      'export const invalid: MessageInput = { from: 1 };',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ['consumer.ts'],
    }),
  );
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], {
    cwd: project,
  }).then(
    () => ({ code: 0, output: '' }),
    (error: { code?: number; stdout?: string }) => ({
      code: error.code ?? 1,
      output: error.stdout ?? '',
    }),
  );

  expect(result.output).toBe('');
  expect(result.code).toBe(0);
});
