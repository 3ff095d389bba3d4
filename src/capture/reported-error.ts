import type { ReportedError } from '../interfaces/reported-error.interface';

const MAX_CAUSE_DEPTH = 16;

function typeAndMessage(value: unknown): { type: string; message: string; stack?: string } {
  if (value instanceof Error) {
    return { type: value.name || value.constructor?.name || 'Error', message: value.message, stack: value.stack };
  }
  if (typeof value === 'string') return { type: 'Error', message: value };
  if (value !== null && typeof value === 'object') {
    const { name, message, stack } = value as { name?: unknown; message?: unknown; stack?: unknown };
    if (typeof message === 'string' || typeof name === 'string') {
      return {
        type: typeof name === 'string' ? name : 'Error',
        message: typeof message === 'string' ? message : '',
        stack: typeof stack === 'string' ? stack : undefined,
      };
    }
  }
  let text: string;
  try {
    text = String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return { type: value === null ? 'null' : typeof value, message: text };
}

/** Describes anything thrown: Errors and subclasses, `cause` chains (bounded, cycle-safe), strings, plain objects. */
export function describeError(error: unknown, source: ReportedError['source'], httpException = false): ReportedError {
  const own = typeAndMessage(error);
  let root = own;
  const seen = new Set<unknown>([error]);
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH; depth++) {
    const cause = current !== null && typeof current === 'object' ? (current as { cause?: unknown }).cause : undefined;
    if (cause === undefined || seen.has(cause)) break;
    seen.add(cause);
    root = typeAndMessage(cause);
    current = cause;
  }
  return {
    when: new Date().toISOString(),
    errorType: own.type,
    message: own.message,
    rootErrorType: root.type,
    rootErrorMessage: root.message,
    ...(own.stack !== undefined && { stackTrace: own.stack }),
    ...(httpException && { httpException: true as const }),
    source,
  };
}
