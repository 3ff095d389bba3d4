/** The `graphql` option: how GraphQL requests are recorded (see docs/graphql.md). */
export interface MetricsGraphqlOptions {
  /**
   * Paths your GraphQL endpoint is served on (the driver's `path`, global prefix included when it uses it), matched
   * against the request path. A request on which a resolver ran is recognized on any path. Default `['/graphql']`.
   */
  paths?: string[];
  /**
   * true: introspection requests (every root field is `__schema`, `__type` or `__typename`), which IDEs and codegen
   * send often, are recorded like other operations. Default false: they are not recorded.
   */
  introspection?: boolean;
}
