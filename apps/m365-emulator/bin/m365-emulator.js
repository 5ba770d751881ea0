#!/usr/bin/env node
// Starts the compiled emulator in dist/, which the root prepare script builds during npm ci. This
// file exists before that build, so npm can link the command on a fresh install.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    `m365-emulator: ${fileURLToPath(main)} not found; run npm run build in the repository root\n`,
  );
  process.exit(1);
}
await import(main.href);
