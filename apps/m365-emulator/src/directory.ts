import type { EmulatorApp } from './types.js';

/**
 * The tenant's app registrations and Exchange permissions: which app may act for which mailbox,
 * and which other From addresses each mailbox may send as. Tenant ids, client ids and addresses
 * are compared case-insensitively.
 */
export class Directory {
  readonly #apps = new Map<string, EmulatorApp>();
  readonly #tenants = new Set<string>();
  readonly #mailboxesByApp = new Map<EmulatorApp, Set<string>>();
  readonly #sendAs = new Map<string, Set<string>>();

  constructor(apps: EmulatorApp[], sendAs: Record<string, string[]> = {}) {
    apps.forEach((app, index) => {
      validateApp(app, index);
      this.#apps.set(appKey(app.tenantId, app.clientId), app);
      this.#tenants.add(app.tenantId.toLowerCase());
      this.#mailboxesByApp.set(app, new Set(app.mailboxes.map((m) => m.toLowerCase())));
    });
    for (const [mailbox, addresses] of Object.entries(sendAs)) {
      if (!Array.isArray(addresses) || addresses.some((a) => typeof a !== 'string')) {
        throw new TypeError(`Invalid option sendAs["${mailbox}"]: use an array of addresses`);
      }
      this.#sendAs.set(mailbox.toLowerCase(), new Set(addresses.map((a) => a.toLowerCase())));
    }
  }

  hasTenant(tenantId: string): boolean {
    return this.#tenants.has(tenantId.toLowerCase());
  }

  findApp(tenantId: string, clientId: string): EmulatorApp | undefined {
    return this.#apps.get(appKey(tenantId, clientId));
  }

  /** Checks whether the app has SMTP.SendAsApp and FullAccess on the mailbox. */
  appHasMailbox(app: EmulatorApp, mailbox: string): boolean {
    return this.#mailboxesByApp.get(app)?.has(mailbox.toLowerCase()) ?? false;
  }

  /** Checks whether a session authenticated as `mailbox` may use `fromAddress` as sender. */
  maySendAs(mailbox: string, fromAddress: string): boolean {
    const from = fromAddress.toLowerCase();
    if (from === mailbox.toLowerCase()) {
      return true;
    }
    return this.#sendAs.get(mailbox.toLowerCase())?.has(from) ?? false;
  }
}

function appKey(tenantId: string, clientId: string): string {
  return `${tenantId.toLowerCase()}/${clientId.toLowerCase()}`;
}

function validateApp(app: EmulatorApp, index: number): void {
  const where = `apps[${index}]`;
  for (const field of ['tenantId', 'clientId'] as const) {
    if (typeof app[field] !== 'string' || app[field] === '') {
      throw new TypeError(`Invalid option ${where}.${field}: use a non-empty string`);
    }
  }
  if (app.clientSecret === undefined && app.certificatePem === undefined) {
    throw new TypeError(`Invalid option ${where}: set clientSecret or certificatePem`);
  }
  if (!Array.isArray(app.mailboxes) || app.mailboxes.some((m) => typeof m !== 'string')) {
    throw new TypeError(`Invalid option ${where}.mailboxes: use an array of mailbox addresses`);
  }
}
