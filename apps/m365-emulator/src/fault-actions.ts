import type { Fault } from './faults.js';

/** Timeouts that `clearAll()` cancels, so that `close()` leaves no timer behind. */
export class TimerSet {
  readonly #timers = new Set<NodeJS.Timeout>();

  schedule(callback: () => void, delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      callback();
    }, delayMs);
    this.#timers.add(timer);
  }

  clearAll(): void {
    for (const timer of this.#timers) {
      clearTimeout(timer);
    }
    this.#timers.clear();
  }
}

/** Handlers a stage supplies for each fault action. */
export interface FaultOutcomes {
  /** Continue as if there were no fault. */
  proceed(): void;
  /** Send this reply instead of the normal one. */
  reply(fault: Fault): void;
  /** Close the connection without a reply. */
  drop(): void;
}

/**
 * Applies `fault`, or proceeds when there is none. `hang` does nothing, so the peer waits until
 * it gives up or the emulator closes; every other action waits `delayMs` first when it is set.
 */
export function runFault(
  fault: Fault | undefined,
  outcomes: FaultOutcomes,
  timers: TimerSet,
): void {
  if (fault === undefined) {
    outcomes.proceed();
    return;
  }
  if (fault.action === 'hang') {
    return;
  }
  const act = (): void => {
    if (fault.action === 'reply') {
      outcomes.reply(fault);
    } else if (fault.action === 'drop') {
      outcomes.drop();
    } else {
      outcomes.proceed();
    }
  };
  if (fault.delayMs === undefined || fault.delayMs === 0) {
    act();
  } else {
    timers.schedule(act, fault.delayMs);
  }
}
