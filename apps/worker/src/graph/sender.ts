import { type JobPayload, recipientsOf } from '@postroom/core';
import type { Logger } from 'pino';
import type { MailboxConfig } from '../config.js';
import type { MailboxGate } from '../gate.js';
import { renderMessage } from '../mime.js';
import type { SubmitResult } from '../smtp/session.js';
import type { TokenProvider } from '../tokens/provider.js';
import type { GraphMailClient } from './client.js';
import { GRAPH_MAX_REQUEST_BYTES, planDraft } from './draft-plan.js';
import { sendAsDraft } from './draft-submission.js';
import { GraphRequests } from './requests.js';

export interface GraphSenderOptions {
  client: GraphMailClient;
  /** Token providers for the Graph scope, by app name. */
  tokens: Map<string, TokenProvider>;
  gate: MailboxGate;
  logger: Logger;
}

/**
 * Submits messages through Graph in MIME form: in one `sendMail` request when it fits in 4 MB,
 * else as a draft with its large attachments uploaded separately. The caller takes a connection
 * lease of the mailbox, because the leases cap concurrent requests across replicas. The sender
 * makes its requests one after another under that lease, renews it while they run and releases
 * it at the end. A 401 with a cached token gets one retry with a fresh token, like `535 5.7.3`
 * over SMTP. Throws GraphFailure or TokenError.
 */
export class GraphSender {
  readonly #options: GraphSenderOptions;

  constructor(options: GraphSenderOptions) {
    this.#options = options;
  }

  async send(mailbox: MailboxConfig, payload: JobPayload, leaseId: string): Promise<SubmitResult> {
    const { gate } = this.#options;
    const renewal = setInterval(() => {
      gate.renewLease(mailbox, leaseId).catch(() => {});
    }, gate.leaseTtlMs / 3);
    try {
      return await this.#send(mailbox, payload);
    } finally {
      clearInterval(renewal);
      await gate.releaseLease(mailbox, leaseId).catch((error: unknown) => {
        // The lease expires by itself after its ttl.
        this.#options.logger.warn(
          { err: error, mailbox: mailbox.address },
          'Graph request lease release failed',
        );
      });
    }
  }

  close(): void {
    this.#options.client.close();
  }

  async #send(mailbox: MailboxConfig, payload: JobPayload): Promise<SubmitResult> {
    const { client, tokens } = this.#options;
    const provider = tokens.get(mailbox.app);
    if (!provider) throw new Error(`no Graph token provider for app ${mailbox.app}`);

    const logger = this.#options.logger.child({ mailbox: mailbox.address });
    const rendered = await renderMessage(payload, recipientsOf(payload.message), { keepBcc: true });
    const body = rendered.raw.toString('base64');
    const result = { response: '202 Accepted', accepted: rendered.envelope.to, rejected: [] };

    if (body.length <= GRAPH_MAX_REQUEST_BYTES) {
      const requests = await GraphRequests.start(provider, logger);
      await requests.authorized('sendMail', [202], (token) =>
        client.sendMail(mailbox.address, body, token),
      );
      return result;
    }

    // Planning fails permanently for a message Graph cannot take at all, before any token is
    // fetched or request made.
    const plan = await planDraft(payload);
    const requests = await GraphRequests.start(provider, logger);
    await sendAsDraft({ client, requests, mailbox: mailbox.address, logger }, plan);
    return result;
  }
}
