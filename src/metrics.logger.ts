import { Logger } from '@nestjs/common';
import { OnceLogger } from './core-logger';
import type { OnceLogging } from './interfaces/core-logger.interface';

/** The module's logger. Problems of the same kind are logged once, so a broken backend cannot flood the app's logs. */
export class MetricsLogger extends Logger implements OnceLogging {
  /** The once-only bookkeeping is OnceLogger's, over this logger. */
  private readonly once = new OnceLogger(this);

  constructor() {
    super('MetricsModule');
  }

  /** Logs an error the first time a problem of this kind happens; later ones are only counted by the caller. */
  errorOnce(kind: string, message: string, error?: unknown): void {
    this.once.errorOnce(kind, message, error);
  }
}
