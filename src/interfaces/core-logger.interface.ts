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
