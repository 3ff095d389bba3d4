import type { ReportedError } from '../interfaces/reported-error.interface';

/** At most this many errors of one response are attached (a list query can fail once per item). */
const MAX_ERRORS = 50;
/** Finds a non-empty `errors` array in a response text that could not be parsed (cut at maxBodyBytes). */
const ERRORS_IN_CUT_TEXT = /"errors"\s*:\s*\[\s*\{/;

interface GraphqlErrorLike {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown } | null;
}

/**
 * The errors of a GraphQL response body (one result, or an array of results for a batch), as `_errors` entries:
 * message, path and `extensions.code`. Undefined when no result has a non-empty `errors` array. A body cut at
 * `maxBodyBytes` that shows a non-empty `errors` array still counts as failed, with one entry saying so.
 */
export function graphqlErrorsOf(text: string, truncated: boolean, when: string): ReportedError[] | undefined {
  if (!text.includes('"errors"')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (!truncated || !ERRORS_IN_CUT_TEXT.test(text)) return undefined;
    const message = 'GraphQL errors in a response cut at maxBodyBytes (not read)';
    return [entry(when, message, undefined, undefined)];
  }
  const found: ReportedError[] = [];
  for (const result of Array.isArray(parsed) ? parsed : [parsed]) {
    const errors = (result as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors)) continue;
    for (const error of errors as GraphqlErrorLike[]) {
      if (found.length >= MAX_ERRORS) break;
      if (error === null || typeof error !== 'object') continue;
      const message = typeof error.message === 'string' ? error.message : '';
      const path = Array.isArray(error.path)
        ? (error.path as unknown[]).filter((p): p is string | number => typeof p === 'string' || typeof p === 'number')
        : undefined;
      const code = error.extensions?.code;
      found.push(entry(when, message, path, typeof code === 'string' ? code : undefined));
    }
  }
  return found.length ? found : undefined;
}

function entry(when: string, message: string, path: (string | number)[] | undefined, code: string | undefined) {
  const type = code ?? 'GraphQLError';
  const error: ReportedError = {
    when,
    errorType: type,
    message,
    rootErrorType: type,
    rootErrorMessage: message,
    source: 'graphql',
  };
  if (path) error.path = path;
  if (code !== undefined) error.code = code;
  return error;
}

/**
 * Adds the response's errors to those reported while the request ran. A thrown error the response repeats (same
 * message, at a resolver's path) is one error: the reported entry (with its stack) gains the path and code.
 */
export function mergeErrors(reported: ReportedError[] | undefined, answered: ReportedError[]): ReportedError[] {
  const merged = reported ? [...reported] : [];
  for (const error of answered) {
    const i = merged.findIndex((r) => r.source !== 'graphql' && r.path === undefined && r.message === error.message);
    if (i < 0) {
      merged.push(error);
      continue;
    }
    const twin = merged[i]!;
    merged[i] = {
      ...twin,
      ...(error.path && { path: error.path }),
      ...(error.code !== undefined && { code: error.code }),
    };
  }
  return merged;
}
