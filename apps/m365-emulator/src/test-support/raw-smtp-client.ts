import net from 'node:net';
import tls from 'node:tls';

const LAST_LINE_PATTERN = /^\d{3}(?: |$)/;

/**
 * A line-level SMTP client for tests that check replies byte for byte. Each reply is returned
 * as received, with its lines joined by CRLF and without the final CRLF.
 */
export class RawSmtpClient {
  #socket: net.Socket;
  #buffer = '';
  #replies: string[] = [];
  #waiters: ((reply: string) => void)[] = [];
  #closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#closed = this.#attach(socket);
  }

  /** Connects and resolves once the socket is open; read the greeting with `readReply()`. */
  static connect(port: number, host = '127.0.0.1'): Promise<RawSmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawSmtpClient(socket));
      });
    });
  }

  /** Resolves when the server closes the connection. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  readReply(): Promise<string> {
    const reply = this.#replies.shift();
    if (reply !== undefined) {
      return Promise.resolve(reply);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Sends one command line and resolves with the reply to it. */
  command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.readReply();
  }

  /** Writes raw bytes, for example message data, without waiting for a reply. */
  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Sends STARTTLS, checks the 220 and upgrades the socket with certificate verification on. */
  async startTls(options: tls.ConnectionOptions): Promise<string> {
    const reply = await this.command('STARTTLS');
    if (!reply.startsWith('220')) {
      throw new Error(`STARTTLS was rejected: ${reply}`);
    }
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ ...options, socket: plain, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#closed = this.#attach(secure);
    return reply;
  }

  close(): void {
    this.#socket.destroy();
  }

  #attach(socket: net.Socket): Promise<void> {
    socket.on('data', (chunk: Buffer) => this.#receive(chunk.toString('latin1')));
    socket.on('error', () => undefined);
    return new Promise((resolve) => socket.once('close', () => resolve()));
  }

  #receive(chunk: string): void {
    this.#buffer += chunk;
    let end = this.#buffer.indexOf('\r\n');
    let lines: string[] = [];
    while (end >= 0) {
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      lines.push(line);
      if (LAST_LINE_PATTERN.test(line)) {
        this.#deliver(lines.join('\r\n'));
        lines = [];
      }
      end = this.#buffer.indexOf('\r\n');
    }
    if (lines.length > 0) {
      this.#buffer = `${lines.join('\r\n')}\r\n${this.#buffer}`;
    }
  }

  #deliver(reply: string): void {
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#replies.push(reply);
    } else {
      waiter(reply);
    }
  }
}
