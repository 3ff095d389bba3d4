/** The `graphql` option: how GraphQL requests are recorded (see docs/graphql.md). */
export interface MetricsGraphqlOptions {
  /**
   * Paths your GraphQL endpoint is served on, matched against the request path. The path `GraphQLModule` serves (its
   * `path`, with the global prefix when `useGlobalPrefix`) is found at startup without it, and a request on which a
   * resolver ran is recognized on any path; list others here (an endpoint mounted by hand). Default `['/graphql']`.
   */
  paths?: string[];
  /**
   * true: introspection requests (every root field is `__schema`, `__type` or `__typename`), which IDEs and codegen
   * send often, are recorded like other operations. Default false: they are not recorded.
   */
  introspection?: boolean;
}
