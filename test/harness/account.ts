import type { MailClient } from '@postroom/client';
import type { DeliveryStatus } from '@postroom/core';
import type { Emulator } from '@postroom/m365-emulator';
import { waitForFinal } from './wait.js';

export interface Account {
  enqueued: number;
  sent: number;
  failed: number;
  unknown: number;
  /** Final states without a reason: must stay 0. */
  withoutReason: number;
  /** Messages the emulator accepted more than once. */
  duplicates: number;
  statuses: DeliveryStatus[];
}

/**
 * Waits for every message to reach a final state and balances the books: each enqueued message
 * is sent, failed with a reason or unknown with a reason, and the emulator saw no Message-ID
 * twice.
 */
export async function account(
  client: MailClient,
  ids: string[],
  emulator: Emulator,
  timeoutMs = 60_000,
): Promise<Account> {
  const statuses = await Promise.all(ids.map((id) => waitForFinal(client, id, timeoutMs)));
  const count = (state: string) => statuses.filter((status) => status.state === state).length;
  return {
    enqueued: ids.length,
    sent: count('sent'),
    failed: count('failed'),
    unknown: count('outcome_unknown'),
    withoutReason: statuses.filter((status) => status.state !== 'sent' && !status.failureReason)
      .length,
    duplicates: emulator.stats().duplicateMessageIds,
    statuses,
  };
}
