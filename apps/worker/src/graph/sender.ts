import { type JobPayload, recipientsOf } from '@postroom/core';
import type { Logger } from 'pino';
import type { MailboxConfig } from '../config.js';
import type { MailboxGate } from '../gate.js';
import { renderMessage } from '../mime.js';
import type { SubmitResult } from '../smtp/session.js';
import type { TokenProvider } from '../tokens/provider.js';
import { classifyGraphNetworkError, classifyGraphResponse, GraphFailure } from './classify.js';
import { type GraphMailClient, GraphNetworkError } from './client.js';

/** Largest `sendMail` request body Graph accepts: 4 MB, here the base64 MIME text. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface GraphSenderOptions {
  client: GraphMailClient;
  /** Token providers for the Graph scope, by app name. */
  tokens: Map<string, TokenProvider>;
  gate: MailboxGate;
  logger: Logger;
}

/**
 * Submits messages through Graph `sendMail` in MIME form. The caller takes a connection lease of
 * the mailbox for each request, because the leases cap concurrent requests across replicas. The
 * sender renews that lease while the request runs and releases it at the end. A 401 with a
 * cached token gets one retry with a fresh token, like `535 5.7.3` over SMTP. Throws GraphFailure
 * or TokenError.
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
    const provider = this.#options.tokens.get(mailbox.app);
    if (!provider) throw new Error(`no Graph token provider for app ${mailbox.app}`);

    const rendered = await renderMessage(payload, recipientsOf(payload.message), { keepBcc: true });
    const body = rendered.raw.toString('base64');
    if (body.length > GRAPH_MAX_REQUEST_BYTES) {
      // TODO: send messages over 4 MB as a draft with an upload session per attachment over 3 MB,
      // then /send. Until then they fail here instead of earning a 413 from Graph.
      throw new GraphFailure(
        { class: 'permanent', action: 'fail', reason: 'message_too_large_for_graph' },
        `message is ${body.length} bytes as base64; Graph sendMail takes at most ${GRAPH_MAX_REQUEST_BYTES}`,
      );
    }

    let accessToken = await provider.getToken();
    for (let attempt = 1; ; attempt++) {
      const response = await this.#post(mailbox, body, accessToken.token);
      if (response.status === 202) {
        return { response: '202 Accepted', accepted: rendered.envelope.to, rejected: [] };
      }
      const failure = classifyGraphResponse(response);
      if (failure.classification.reason !== 'token_rejected' || attempt > 1) throw failure;
      this.#options.logger.warn(
        { mailbox: mailbox.address, requestId: response.requestId },
        'Graph rejected the token with 401; retrying once with a fresh token',
      );
      accessToken = await provider.getToken(true);
    }
  }

  async #post(mailbox: MailboxConfig, body: string, accessToken: string) {
    try {
      return await this.#options.client.sendMail(mailbox.address, body, accessToken);
    } catch (error) {
      if (error instanceof GraphNetworkError) throw classifyGraphNetworkError(error);
      throw error;
    }
  }
}
