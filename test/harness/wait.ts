import { setTimeout as delay } from 'node:timers/promises';
import type { MailClient } from '@postroom/client';
import type { DeliveryStatus } from '@postroom/core';

const FINAL = new Set(['sent', 'failed', 'outcome_unknown', 'cancelled']);

/** Polls until the message reaches a final state; throws with the last state on timeout. */
export async function waitForFinal(
  client: MailClient,
  id: string,
  timeoutMs = 20_000,
): Promise<DeliveryStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: DeliveryStatus | undefined;
  while (Date.now() < deadline) {
    last = await client.status(id);
    if (last && FINAL.has(last.state)) return last;
    await delay(50);
  }
  throw new Error(
    `message ${id} not final after ${timeoutMs} ms; last status ${JSON.stringify(last)}`,
  );
}

/** Polls a condition until it holds; throws with `what` on timeout. */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await delay(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
