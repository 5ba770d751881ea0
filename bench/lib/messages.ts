import type { MessageInput } from '@postroom/client';

/** Mailbox addresses `sender1@contoso.example` ... `senderN@contoso.example`. */
export function mailboxAddresses(count: number, prefix = 'sender'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}${index + 1}@contoso.example`);
}

/**
 * A small transactional message, about 600 bytes once rendered: one recipient, a subject and a
 * two-line text body that carries the index, so every message is distinct.
 */
export function benchMessage(
  from: string,
  index: number,
  priority: 'high' | 'normal' | 'low' = 'normal',
): MessageInput {
  return {
    from,
    to: `customer${index}@fabrikam.example`,
    subject: `Your receipt ${index}`,
    text: `Thank you for order ${index}.\nThis receipt was sent by the Postroom benchmarks.`,
    priority,
  };
}
