import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer } from 'smtp-server';

type ConnectOptions = Parameters<SMTPServer['connect']>[1];

/** smtp-server's per-connection class, derived from the server type to avoid a deep import. */
export type SmtpConnection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/** smtp-server with a hook on every new connection, before its greeting is sent. */
export class HookedSmtpServer extends SMTPServer {
  onConnection: (connection: SmtpConnection, socket: net.Socket) => void = () => undefined;

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConnectOptions): void {
    super.connect(socket, socketOptions);
    // connect() adds the new connection last. Without maxClients, init() never closes it at once.
    const connection = [...this.connections].at(-1);
    if (connection !== undefined) {
      this.onConnection(connection, socket);
    }
  }
}

/**
 * Starts the session now instead of after smtp-server's 100 ms wait for clients that talk before
 * the greeting, because Exchange greets at once and tests open many connections. init() has
 * already armed a timer that calls connectionReady() again, so the method becomes a no-op.
 */
export function greetWithoutDelay(connection: SmtpConnection): void {
  const connectionReady = connection.connectionReady.bind(connection);
  connection.connectionReady = () => undefined;
  connectionReady();
}
