import type { Logger } from 'pino';
import type { WorkerConfig } from '../config.js';
import type { MailboxGate } from '../gate.js';
import type { TokenProviders } from '../tokens/registry.js';
import { GraphMailClient } from './client.js';
import { GraphSender } from './sender.js';

/** Creates the Graph sender when a mailbox uses transport `graph`; undefined otherwise. */
export function createGraphSender(
  config: Pick<WorkerConfig, 'apps' | 'mailboxes' | 'graph'>,
  providers: TokenProviders,
  gate: MailboxGate,
  extraCa: Buffer | undefined,
  logger: Logger,
): GraphSender | undefined {
  if (!config.mailboxes.some((mailbox) => mailbox.transport === 'graph')) return undefined;
  const client = new GraphMailClient({
    host: config.graph.host,
    timeoutMs: config.graph.timeoutMs,
    ...(extraCa ? { ca: extraCa } : {}),
  });
  const tokens = new Map(
    config.apps.map((app) => [app.name, providers.for(app, config.graph.scope)]),
  );
  return new GraphSender({ client, tokens, gate, logger });
}
