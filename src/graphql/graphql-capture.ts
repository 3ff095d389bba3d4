import type { Exchange } from '../capture/exchange';
import { originalUrlOf } from '../capture/platform';
import { graphqlErrorsOf, mergeErrors } from './graphql-errors';
import { summarizeOperations, type GraphqlOperationSummary } from './graphql-operation-name';
import type { ResolvedGraphqlOptions } from './graphql-options';
import { partOfQuery, partsOfBody, pathOf, type GraphqlRequestPart } from './graphql-request';

/**
 * Distinct operation names kept as endpoints; past it, new names are recorded as `other operations`. Names are
 * chosen by clients: without a bound, one client could make every request a dashboard endpoint and a metrics series.
 */
export const MAX_OPERATION_NAMES = 1000;
const OTHER = 'other operations';

/**
 * Capture's GraphQL step, at settle (after the response): which operation ran (the endpoint) and whether it failed.
 * Costs a Set lookup on other requests; a GraphQL request pays one JSON parse and one lexer pass of its document,
 * and a response parse only when its text mentions `"errors"`.
 */
export class GraphqlCapture {
  private readonly names = new Set<string>();
  /** `graphql.paths`, and the path the app's driver serves (GraphqlPathDiscovery). */
  private readonly paths: Set<string>;

  constructor(private readonly options: Exclude<ResolvedGraphqlOptions, false>) {
    this.paths = new Set(options.paths);
  }

  addPath(path: string): void {
    this.paths.add(path);
  }

  /** Whether the exchange is a GraphQL request: a resolver ran for it, or its path is a GraphQL path. */
  applies(exchange: Exchange): boolean {
    return exchange.graphqlSeen || this.paths.has(pathOf(originalUrlOf(exchange.req)));
  }

  /**
   * Reads the operation from the captured request body (or GET query) and the errors from the captured response
   * body into `exchange.graphql` / `exchange.errors`. Returns false when the exchange is not to be recorded: an
   * introspection query (unless `graphql.introspection`), or a WebSocket upgrade (subscriptions are out of scope).
   */
  read(exchange: Exchange): boolean {
    const { req } = exchange;
    if (req.headers.upgrade !== undefined) return false;
    const parts = this.partsOf(exchange);
    const summary: GraphqlOperationSummary = parts
      ? summarizeOperations(parts)
      : { operations: [], introspection: false };
    if (summary.introspection && !this.options.introspection) return false;
    if (summary.operation !== undefined && !this.names.has(summary.operation)) {
      if (this.names.size < MAX_OPERATION_NAMES) this.names.add(summary.operation);
      else summary.operation = OTHER;
    }
    const body = exchange.responseBody;
    const answered =
      body && !body.encoding && body.text
        ? graphqlErrorsOf(body.text, body.truncated, new Date().toISOString())
        : undefined;
    if (answered) exchange.errors = mergeErrors(exchange.errors, answered);
    const thrown = exchange.errors?.some((e) => e.source === 'interceptor' || e.source === 'filter') === true;
    exchange.graphql = { ...summary, failed: answered !== undefined || thrown };
    return true;
  }

  private partsOf(exchange: Exchange): GraphqlRequestPart[] | undefined {
    const { req, requestBody } = exchange;
    if (req.method === 'GET') {
      const part = partOfQuery(originalUrlOf(req));
      return part && [part];
    }
    if (!requestBody || requestBody.comment || requestBody.encoding || requestBody.truncated) return undefined;
    const type = requestBody.source === 'parsed' ? 'application/json' : (req.headers['content-type'] ?? '');
    return partsOfBody(requestBody.text, type);
  }
}
