import { runFault, type TimerSet } from './fault-actions.js';
import type { Fault } from './faults.js';
import type { GraphReply } from './graph-call.js';
import { type GraphError, GraphErrors } from './graph-errors.js';

/** Ways to end a Graph request: a reply or error, or closing its connection. */
export interface GraphAnswer {
  reply(result: GraphReply | GraphError): void;
  drop(): void;
}

/**
 * Runs a Graph operation subject to the fault of its stage. Without `accept`, the fault acts
 * instead of the operation: `reply` responds with the fault's status, `drop` closes the
 * connection, `hang` never responds and `delay` runs the operation late. With `accept`, the
 * operation runs first (the message, draft or byte range is stored) and the fault acts on its
 * reply. `run` must not reject.
 */
export function runWithFault(
  fault: Fault | undefined,
  run: () => Promise<GraphReply | GraphError>,
  answer: GraphAnswer,
  timers: TimerSet,
): void {
  const reply = (injected: Fault) =>
    answer.reply(GraphErrors.injected(injected.status ?? 503, injected.retryAfterSeconds));

  if (fault?.accept === true) {
    void run().then((result) => {
      runFault(fault, { proceed: () => answer.reply(result), reply, drop: answer.drop }, timers);
    });
    return;
  }
  const proceed = () => void run().then((result) => answer.reply(result));
  runFault(fault, { proceed, reply, drop: answer.drop }, timers);
}
