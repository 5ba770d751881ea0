import { parseAddress } from '@postroom/core';
import { z } from 'zod';

const email = z.string().transform((value, ctx) => {
  const parsed = parseAddress(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed.address;
});

const positive = z.number().int().positive();
const envName = z
  .string()
  .regex(
    /^[A-Z_][A-Z0-9_]*$/,
    'use the name of an environment variable, such as CONTOSO_CLIENT_SECRET',
  );

/** Concurrent connections (SMTP) or requests (Graph) Exchange Online allows per mailbox. */
export const MAX_CONNECTIONS = { smtp: 3, graph: 4 } as const;

const limits = z.strictObject({
  messagesPerWindow: positive.optional(),
  rateWindowMs: positive.optional(),
  recipientsPerDay: positive.optional(),
  recipientWindowMs: positive.optional(),
  maxConnections: positive.optional(),
  maxRecipientsPerMessage: positive.max(1000).optional(),
  maxMessageBytes: positive.optional(),
});

// Options people copy from nodemailer examples that are wrong or unsafe for Exchange Online.
const smtpOverrides = z
  .strictObject({
    secure: z
      .literal(false, {
        error:
          'secure: true means implicit TLS, which port 587 does not offer; use secure: false (Postroom requires STARTTLS on 587)',
      })
      .optional(),
    tls: z
      .strictObject({
        rejectUnauthorized: z
          .literal(true, {
            error:
              'tls.rejectUnauthorized: false turns off certificate verification; remove it and trust a private CA with POSTROOM_TLS_CA_FILE instead',
          })
          .optional(),
      })
      .optional(),
  })
  .optional();

/**
 * An app registration with one credential. A client secret comes inline (`clientSecret`) or,
 * better, from the variable `clientSecretEnv` names. A certificate and its private key come as
 * PEM, each from a file (`certificateFile`, `privateKeyFile`, relative to the mailbox file) or a
 * variable (`certificateEnv`, `privateKeyEnv`).
 */
const app = z
  .strictObject({
    name: z.string().min(1),
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    clientSecretEnv: envName.optional(),
    certificateFile: z.string().min(1).optional(),
    certificateEnv: envName.optional(),
    privateKeyFile: z.string().min(1).optional(),
    privateKeyEnv: envName.optional(),
    sendX5c: z.boolean().optional(),
  })
  .superRefine(checkCredentialFields);

type AppFields = z.input<typeof app>;

function checkCredentialFields(value: AppFields, ctx: z.core.$RefinementCtx<AppFields>): void {
  const secret = value.clientSecret !== undefined || value.clientSecretEnv !== undefined;
  const certificate = value.certificateFile !== undefined || value.certificateEnv !== undefined;
  const key = value.privateKeyFile !== undefined || value.privateKeyEnv !== undefined;
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [path], message });

  if (!secret && !certificate && !key) {
    issue(
      'clientSecretEnv',
      'an app needs a credential: clientSecretEnv (the name of a variable holding the secret), or certificateFile and privateKeyFile',
    );
  }
  if (secret && (certificate || key)) {
    issue(
      'clientSecretEnv',
      'give a client secret or a certificate, not both; Entra ID accepts either, and certificates are the recommended one',
    );
  }
  if (value.clientSecret !== undefined && value.clientSecretEnv !== undefined) {
    issue(
      'clientSecret',
      'give clientSecret or clientSecretEnv, not both; prefer clientSecretEnv so the secret stays out of the file',
    );
  }
  if (certificate && !key)
    issue(
      'privateKeyFile',
      'a certificate needs its private key: set privateKeyFile or privateKeyEnv',
    );
  if (key && !certificate)
    issue(
      'certificateFile',
      'a private key needs its certificate: set certificateFile or certificateEnv',
    );
  if (value.certificateFile !== undefined && value.certificateEnv !== undefined) {
    issue('certificateEnv', 'give certificateFile or certificateEnv, not both');
  }
  if (value.privateKeyFile !== undefined && value.privateKeyEnv !== undefined) {
    issue('privateKeyEnv', 'give privateKeyFile or privateKeyEnv, not both');
  }
  if (value.sendX5c !== undefined && !certificate)
    issue('sendX5c', 'sendX5c applies only to a certificate credential');
}

const mailbox = z
  .strictObject({
    address: email,
    app: z.string().min(1).optional(),
    /** `smtp` (SMTP AUTH with XOAUTH2, the default) or `graph` (Microsoft Graph sendMail). */
    transport: z.enum(['smtp', 'graph']).optional(),
    sendAs: z.array(email).optional(),
    limits: limits.optional(),
    smtp: smtpOverrides,
  })
  .superRefine((value, ctx) => {
    const transport = value.transport ?? 'smtp';
    const max = MAX_CONNECTIONS[transport];
    const requested = value.limits?.maxConnections;
    if (requested !== undefined && requested > max) {
      const what = transport === 'smtp' ? 'concurrent connections' : 'concurrent Graph requests';
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'maxConnections'],
        message: `maxConnections above ${max} exceeds Exchange Online's limit of ${max} ${what} per mailbox`,
      });
    }
    if (transport === 'graph' && value.smtp !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['smtp'],
        message: 'smtp options do not apply to a mailbox with transport graph; remove them',
      });
    }
  });

/** The JSON file named by POSTROOM_CONFIG. */
export const mailboxFileSchema = z.strictObject({
  apps: z.array(app).min(1, 'list at least one app registration in apps'),
  mailboxes: z.array(mailbox).min(1, 'list at least one sending mailbox in mailboxes'),
});

export type MailboxFile = z.output<typeof mailboxFileSchema>;
export type MailboxFileApp = MailboxFile['apps'][number];
