import { Logger } from '@nestjs/common';
import { withDetail } from './core-logger';

/** The module's logger. Problems of the same kind are logged once, so a broken backend cannot flood the app's logs. */
export class MetricsLogger extends Logger {
  private readonly seen = new Set<string>();

  constructor() {
    super('MetricsModule');
  }

  /** Logs an error the first time a problem of this kind happens; later ones are only counted by the caller. */
  errorOnce(kind: string, message: string, error?: unknown): void {
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    this.error(withDetail(message, error));
  }
}
