/** An error attached to a request's record; shipped in its HAR entry as `_errors`. */
export interface ReportedError {
  /** ISO time it was reported. */
  when: string;
  errorType: string;
  message: string;
  /** Type and message of the deepest `cause`; the error's own when it has none. */
  rootErrorType: string;
  rootErrorMessage: string;
  stackTrace?: string;
  /** Set for Nest `HttpException`s (an expected answer such as a 404), absent for unexpected errors. */
  httpException?: true;
  /**
   * Where it was seen: `reportError`, the module's exception filter, the interceptor, or the `errors` array of a
   * GraphQL response.
   */
  source: 'reportError' | 'filter' | 'interceptor' | 'graphql';
  /** GraphQL: the path of the field that failed (`["order", "items", 0]`). */
  path?: (string | number)[];
  /** GraphQL: the error's `extensions.code` (`FORBIDDEN`, `BAD_USER_INPUT`…). */
  code?: string;
}
