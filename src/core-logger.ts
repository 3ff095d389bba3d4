import type { CoreLogger, OnceLogging } from './interfaces/core-logger.interface';

/**
 * The core's logger over the one it is given: problems of the same kind are logged once, so a broken backend cannot
 * flood the app's logs (later ones are only counted by the caller).
 */
export class OnceLogger implements OnceLogging {
  private readonly seen = new Set<string>();

  constructor(private readonly out: CoreLogger) {}

  log(message: string): void {
    this.out.log(message);
  }

  warn(message: string): void {
    this.out.warn(message);
  }

  error(message: string): void {
    this.out.error(message);
  }

  debug(message: string): void {
    this.out.debug(message);
  }

  /** Logs an error the first time a problem of this kind happens. */
  errorOnce(kind: string, message: string, error?: unknown): void {
    if (this.seen.has(kind)) return;
    this.seen.add(kind);
    this.out.error(withDetail(message, error));
  }
}

/** The message with the error's stack (or message) after it. */
export function withDetail(message: string, error?: unknown): string {
  const detail = error instanceof Error ? (error.stack ?? error.message) : error === undefined ? '' : String(error);
  return `${message}${detail ? `: ${detail}` : ''}`;
}
