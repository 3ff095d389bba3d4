import type { CoreLogger } from '../interfaces/core-logger.interface';

/** The last problem the delivery pipeline logged, as the page shows it beside the counters. */
export interface LoggedProblem {
  /** ISO time. */
  at: string;
  level: 'error' | 'warn';
  message: string;
}

/** Longest message kept (a stack can be long; the first lines say what happened). */
const MAX_MESSAGE = 2000;

/**
 * Keeps the last error or warning line of the delivery pipeline (a collector answering 401, records dropped because
 * the queue is full, a failed call): the logger given to the pipeline core is wrapped, so nothing else changes.
 * Problems of one kind are logged once (later ones only counted): this is the last line logged, and the counters
 * tell how many followed.
 */
export class DeliveryLog {
  last?: LoggedProblem;

  /** A line logged at `level` (Nest's levels): errors and warnings are kept. */
  logged(level: string, message: string): void {
    if (level === 'error' || level === 'fatal') this.note('error', message);
    else if (level === 'warn') this.note('warn', message);
  }

  private note(level: LoggedProblem['level'], message: string): void {
    this.last = { at: new Date().toISOString(), level, message: message.slice(0, MAX_MESSAGE) };
  }

  wrap(logger: CoreLogger): CoreLogger {
    const note = (level: LoggedProblem['level'], message: string) => this.note(level, message);
    return {
      log: (message) => logger.log(message),
      debug: (message) => logger.debug(message),
      warn: (message) => {
        note('warn', message);
        logger.warn(message);
      },
      error: (message) => {
        note('error', message);
        logger.error(message);
      },
    };
  }
}
