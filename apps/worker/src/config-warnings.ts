import { EXCHANGE_ONLINE_LIMITS, type MailboxLimits } from '@postroom/core';

/** A configuration problem that does not stop the worker; main logs each one at start. */
export interface ConfigWarning {
  message: string;
  fields: Record<string, unknown>;
}

/**
 * Returns a warning for each POSTROOM_* variable not in `knownNames`, which is most often a typo,
 * naming the closest known variable.
 */
export function unknownVariableWarnings(
  env: NodeJS.ProcessEnv,
  knownNames: readonly string[],
): ConfigWarning[] {
  const known = new Set(knownNames);
  return Object.keys(env)
    .filter((name) => name.startsWith('POSTROOM_') && !known.has(name))
    .sort()
    .map((variable) => ({
      message: 'unknown POSTROOM_* variable is ignored; check its spelling',
      fields: { variable, closest: closestName(variable, knownNames) },
    }));
}

/**
 * Warns once per mailbox whose limits allow more than Exchange Online does. Such limits are kept,
 * because the emulator, tests and benchmarks shorten the time unit on purpose, but against
 * Exchange Online they lead to throttling replies and quota errors.
 */
export function mailboxLimitWarnings(
  mailboxes: readonly { address: string; limits: MailboxLimits }[],
): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  for (const { address, limits } of mailboxes) {
    const exceeded = exceededLimits(limits);
    if (exceeded.length === 0) continue;
    warnings.push({
      message: "mailbox limits exceed Exchange Online's; Exchange will throttle or reject",
      fields: { mailbox: address, limits: exceeded },
    });
  }
  return warnings;
}

interface ExceededLimit {
  limit: string;
  value: string;
  exchangeValue: string;
}

function exceededLimits(limits: MailboxLimits): ExceededLimit[] {
  const exchange = EXCHANGE_ONLINE_LIMITS;
  const exceeded: ExceededLimit[] = [];
  // Rates are compared per ms, so that 1 message per 2 s counts as the 30 per 60 s it is.
  if (
    limits.messagesPerWindow / limits.rateWindowMs >
    exchange.messagesPerWindow / exchange.rateWindowMs
  ) {
    exceeded.push({
      limit: 'messagesPerWindow',
      value: `${limits.messagesPerWindow} per ${limits.rateWindowMs} ms`,
      exchangeValue: `${exchange.messagesPerWindow} per ${exchange.rateWindowMs} ms`,
    });
  }
  if (
    limits.recipientsPerDay / limits.recipientWindowMs >
    exchange.recipientsPerDay / exchange.recipientWindowMs
  ) {
    exceeded.push({
      limit: 'recipientsPerDay',
      value: `${limits.recipientsPerDay} per ${limits.recipientWindowMs} ms`,
      exchangeValue: `${exchange.recipientsPerDay} per ${exchange.recipientWindowMs} ms`,
    });
  }
  for (const limit of ['maxRecipientsPerMessage', 'maxMessageBytes'] as const) {
    if (limits[limit] > exchange[limit]) {
      exceeded.push({
        limit,
        value: String(limits[limit]),
        exchangeValue: String(exchange[limit]),
      });
    }
  }
  return exceeded;
}

function closestName(name: string, candidates: readonly string[]): string {
  let best = '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// Levenshtein distance: the fewest single-character insertions, deletions and substitutions.
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
