/**
 * The logger the pipeline core is given (constructor argument): Nest's Logger on the main thread (MetricsLogger), a
 * logger that forwards each line to the main thread in the offload worker. Plain messages; the core words them.
 */
export interface CoreLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** A CoreLogger that also logs a kind of problem only the first time it happens (OnceLogger, MetricsLogger). */
export interface OnceLogging extends CoreLogger {
  /** Logs an error the first time a problem of this kind happens; later ones are only counted by the caller. */
  errorOnce(kind: string, message: string, error?: unknown): void;
}
