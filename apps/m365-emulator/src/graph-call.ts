import type http from 'node:http';
import type { GraphFaultStage } from './faults.js';
import type { DraftStore } from './graph-drafts.js';
import type { SmtpContext } from './smtp-context.js';

/** State the Graph endpoint shares with the SMTP server, its drafts and the emulated minute. */
export interface GraphContext extends SmtpContext {
  timeUnitMs: number;
  drafts: DraftStore;
}

export type GraphOperation =
  | 'sendMail'
  | 'createDraft'
  | 'deleteDraft'
  | 'sendDraft'
  | 'addAttachment'
  | 'createUploadSession'
  | 'uploadChunk';

/** A request the endpoint recognized, with the ids from its path. */
export interface GraphRoute {
  operation: GraphOperation;
  /** Mailbox in lower case, from the path. */
  mailbox: string;
  messageId?: string;
  sessionId?: string;
  /** The `authtoken` query parameter of an upload URL. */
  authToken?: string;
}

/** One Graph request on its way through the endpoint. */
export interface GraphCall {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  route: GraphRoute;
  mailbox: string;
  requestId: string;
  /** Base URL of the endpoint, `https://127.0.0.1:PORT`, for URLs in responses. */
  baseUrl: string;
}

/** A successful response: status, JSON body if any, and extra headers. */
export interface GraphReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface OperationSpec {
  method: string;
  stage: GraphFaultStage;
  /** Application role the bearer token needs; undefined for pre-authenticated upload URLs. */
  role: 'Mail.Send' | 'Mail.ReadWrite' | undefined;
}

/**
 * Method, fault stage and required role of each operation. Graph documents Mail.ReadWrite for
 * creating, changing and deleting messages, and Mail.Send for sendMail and for sending a draft.
 */
export const GRAPH_OPERATIONS: Record<GraphOperation, OperationSpec> = {
  sendMail: { method: 'POST', stage: 'graph', role: 'Mail.Send' },
  createDraft: { method: 'POST', stage: 'graph-draft', role: 'Mail.ReadWrite' },
  deleteDraft: { method: 'DELETE', stage: 'graph-delete', role: 'Mail.ReadWrite' },
  sendDraft: { method: 'POST', stage: 'graph-send', role: 'Mail.Send' },
  addAttachment: { method: 'POST', stage: 'graph-attachment', role: 'Mail.ReadWrite' },
  createUploadSession: { method: 'POST', stage: 'graph-attachment', role: 'Mail.ReadWrite' },
  uploadChunk: { method: 'PUT', stage: 'graph-upload', role: undefined },
};

const USER_PATH = /^\/v1\.0\/users\/([^/]+)\/(.+)$/i;
const MESSAGE_PATH =
  /^messages\/([^/]+)(?:\/(send|attachments|attachments\/createUploadSession))?$/i;
// The shape of the upload URLs Outlook returns, on the emulator's host.
const UPLOAD_PATH =
  /^\/api\/v2\.0\/Users\('([^']+)'\)\/Messages\('([^']+)'\)\/AttachmentSessions\('([^']+)'\)$/;

/** Matches a request to an operation; undefined when no route has this method and path. */
export function matchRoute(method: string, url: URL): GraphRoute | undefined {
  const route = matchPath(url);
  if (route === undefined || GRAPH_OPERATIONS[route.operation].method !== method) {
    return undefined;
  }
  return route;
}

function matchPath(url: URL): GraphRoute | undefined {
  const upload = UPLOAD_PATH.exec(url.pathname);
  if (upload?.[1] !== undefined && upload[2] !== undefined && upload[3] !== undefined) {
    return {
      operation: 'uploadChunk',
      mailbox: decodeURIComponent(upload[1]).toLowerCase(),
      messageId: upload[2],
      sessionId: upload[3],
      authToken: url.searchParams.get('authtoken') ?? '',
    };
  }

  const user = USER_PATH.exec(url.pathname);
  if (user?.[1] === undefined || user[2] === undefined) {
    return undefined;
  }
  const mailbox = decodeURIComponent(user[1]).toLowerCase();
  const rest = user[2];
  if (/^sendMail$/i.test(rest)) {
    return { operation: 'sendMail', mailbox };
  }
  if (/^messages$/i.test(rest)) {
    return { operation: 'createDraft', mailbox };
  }

  const message = MESSAGE_PATH.exec(rest);
  if (message?.[1] === undefined) {
    return undefined;
  }
  const messageId = decodeURIComponent(message[1]);
  const action = message[2]?.toLowerCase();
  const operation: GraphOperation =
    action === undefined
      ? 'deleteDraft'
      : action === 'send'
        ? 'sendDraft'
        : action === 'attachments'
          ? 'addAttachment'
          : 'createUploadSession';
  return { operation, mailbox, messageId };
}
