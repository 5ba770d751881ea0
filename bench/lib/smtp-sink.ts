import { ChildHelper } from './child.js';

export interface SinkCounts {
  accepted: number;
  repeatedMessageIds: number;
}

/** The SMTP sink of `processes/smtp-sink.ts`, in its own process so it has its own event loop. */
export class SmtpSink {
  readonly port: number;
  readonly #helper: ChildHelper;

  private constructor(helper: ChildHelper, port: number) {
    this.#helper = helper;
    this.port = port;
  }

  /** Starts the sink with a TLS key and certificate (PEM files) that the client trusts. */
  static async start(keyFile: string, certFile: string): Promise<SmtpSink> {
    const helper = ChildHelper.start('smtp-sink', [keyFile, certFile]);
    const { port } = await helper.next<{ port: number }>(20_000);
    return new SmtpSink(helper, port);
  }

  counts(): Promise<SinkCounts> {
    return this.#helper.request<SinkCounts>('stats');
  }

  reset(): Promise<SinkCounts> {
    return this.#helper.request<SinkCounts>('reset');
  }

  stop(): Promise<void> {
    return this.#helper.stop();
  }
}
