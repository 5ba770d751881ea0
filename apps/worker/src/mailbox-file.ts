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

const limits = z.strictObject({
  messagesPerWindow: positive.optional(),
  rateWindowMs: positive.optional(),
  recipientsPerDay: positive.optional(),
  recipientWindowMs: positive.optional(),
  maxConnections: positive.max(3, 'maxConnections above 3 exceeds Exchange Online\'s limit of 3 concurrent connections per mailbox').optional(),
  maxRecipientsPerMessage: positive.max(1000).optional(),
  maxMessageBytes: positive.optional(),
});

// Options people copy from nodemailer examples that are wrong or unsafe for Exchange Online.
const smtpOverrides = z
  .strictObject({
    secure: z.literal(false, {
      error: 'secure: true means implicit TLS, which port 587 does not offer; use secure: false (Postroom requires STARTTLS on 587)',
    }).optional(),
    tls: z
      .strictObject({
        rejectUnauthorized: z.literal(true, {
          error: 'tls.rejectUnauthorized: false turns off certificate verification; remove it and trust a private CA with POSTROOM_TLS_CA_FILE instead',
        }).optional(),
      })
      .optional(),
  })
  .optional();

const app = z
  .strictObject({
    name: z.string().min(1),
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  })
  .refine((value) => value.clientSecret || value.clientSecretEnv, {
    message: 'an app needs clientSecretEnv (the name of a variable holding the secret) or clientSecret',
  });

const mailbox = z.strictObject({
  address: email,
  app: z.string().min(1).optional(),
  sendAs: z.array(email).optional(),
  limits: limits.optional(),
  smtp: smtpOverrides,
});

/** The JSON file named by POSTROOM_CONFIG. */
export const mailboxFileSchema = z.strictObject({
  apps: z.array(app).min(1, 'list at least one app registration in apps'),
  mailboxes: z.array(mailbox).min(1, 'list at least one sending mailbox in mailboxes'),
});

export type MailboxFile = z.output<typeof mailboxFileSchema>;
