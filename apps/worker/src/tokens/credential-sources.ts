import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ValidationIssue } from '@postroom/core';
import type { MailboxFileApp } from '../mailbox-file.js';
import { type AppCredential, CredentialError, loadCertificateCredential } from './credentials.js';

/** The environment and directory that a mailbox file's variable names and relative paths refer to. */
export interface CredentialContext {
  env: NodeJS.ProcessEnv;
  /** Directory of the mailbox file; `certificateFile` and `privateKeyFile` are relative to it. */
  baseDir: string;
}

/**
 * Reads an app's credential from the mailbox file's fields: the secret inline or from the named
 * variable, or the certificate and key from files or named variables. Pushes one issue per
 * problem, naming the field as `apps[i].field`, and returns undefined when there was one.
 */
export function resolveCredential(
  app: MailboxFileApp,
  path: string,
  context: CredentialContext,
  issues: ValidationIssue[],
): AppCredential | undefined {
  const before = issues.length;
  if (app.clientSecret !== undefined || app.clientSecretEnv !== undefined) {
    const secret =
      app.clientSecret ??
      readVariable(
        app.clientSecretEnv,
        `${path}.clientSecretEnv`,
        "the app's client secret",
        context,
        issues,
      );
    return secret === undefined ? undefined : { kind: 'secret', clientSecret: secret };
  }

  const certificate = readPem(
    app.certificateFile,
    app.certificateEnv,
    `${path}.certificate`,
    context,
    issues,
  );
  const key = readPem(app.privateKeyFile, app.privateKeyEnv, `${path}.privateKey`, context, issues);
  if (certificate === undefined || key === undefined || issues.length > before) return undefined;
  try {
    return loadCertificateCredential({
      certificatePem: certificate.text,
      privateKeyPem: key.text,
      certificateField: certificate.field,
      privateKeyField: key.field,
      sendX5c: app.sendX5c ?? false,
    });
  } catch (error) {
    if (!(error instanceof CredentialError)) throw error;
    issues.push({ path: error.field, message: error.message });
    return undefined;
  }
}

/** Reads a PEM text from `{prefix}File` or `{prefix}Env`; returns it with the field it came from. */
function readPem(
  file: string | undefined,
  variable: string | undefined,
  prefix: string,
  context: CredentialContext,
  issues: ValidationIssue[],
): { text: string; field: string } | undefined {
  if (variable !== undefined) {
    const field = `${prefix}Env`;
    const text = readVariable(variable, field, 'the PEM text', context, issues);
    return text === undefined ? undefined : { text, field };
  }
  if (file === undefined) return undefined;

  const field = `${prefix}File`;
  const absolute = resolve(context.baseDir, file);
  try {
    return { text: readFileSync(absolute, 'utf8'), field: `${field} (${absolute})` };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    issues.push({
      path: field,
      message: `cannot read ${absolute} (${reason}); point it at a readable PEM file`,
    });
    return undefined;
  }
}

function readVariable(
  name: string | undefined,
  field: string,
  what: string,
  context: CredentialContext,
  issues: ValidationIssue[],
): string | undefined {
  const value = name === undefined ? undefined : context.env[name];
  if (!value) {
    issues.push({
      path: field,
      message: `environment variable ${name} is not set; set it to ${what}`,
    });
    return undefined;
  }
  return value;
}
