import type { MailboxConfig } from './config.js';

/** Finds the sending mailbox for a From address: the mailbox itself or one with Send As rights. */
export class MailboxDirectory {
  readonly #byAddress = new Map<string, MailboxConfig>();
  readonly all: readonly MailboxConfig[];

  constructor(mailboxes: readonly MailboxConfig[]) {
    this.all = mailboxes;
    for (const mailbox of mailboxes) {
      for (const address of mailbox.sendAs) this.#byAddress.set(address.toLowerCase(), mailbox);
    }
    // The mailbox's own address wins over another mailbox's Send As entry.
    for (const mailbox of mailboxes) this.#byAddress.set(mailbox.address.toLowerCase(), mailbox);
  }

  resolve(from: string): MailboxConfig | undefined {
    return this.#byAddress.get(from.toLowerCase());
  }
}
