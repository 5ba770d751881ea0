import { ChildHelper } from './child.js';

/** One round of the baseline: where to send, with which credentials, and what. */
export interface BaselineRound {
  host: string;
  port: number;
  /** PEM of the CA that signed the server's certificate. */
  ca: string;
  user: string;
  accessToken: string;
  maxConnections: number;
  messages: BaselineMessage[];
}

/**
 * A message for the baseline: either fields that nodemailer composes into MIME, as a plain
 * nodemailer sender does, or MIME rendered before the round starts.
 */
export type BaselineMessage =
  | {
      mail: {
        from: string;
        to: string;
        subject: string;
        text: string;
        messageId: string;
        date: string;
        priority: 'high' | 'normal' | 'low';
      };
    }
  | { envelope: { from: string; to: string[] }; raw: Uint8Array };

export interface BaselineResult {
  elapsedMs: number;
  sent: number;
  failed: number;
  firstError?: string;
}

/** The nodemailer pooled loop of `processes/nodemailer-loop.ts`, in its own process. */
export class NodemailerBaseline {
  readonly #helper: ChildHelper;

  private constructor(helper: ChildHelper) {
    this.#helper = helper;
  }

  static start(): NodemailerBaseline {
    return new NodemailerBaseline(ChildHelper.start('nodemailer-loop'));
  }

  get pid(): number {
    return this.#helper.pid;
  }

  /** Sends every message of the round through a new pool, which is closed afterwards. */
  send(round: BaselineRound): Promise<BaselineResult> {
    return this.#helper.request<BaselineResult>(round, 120_000);
  }

  stop(): Promise<void> {
    return this.#helper.stop();
  }
}
