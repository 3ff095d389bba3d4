/*
 * Where a GraphQL request keeps its document, operation name and variables (GraphQL over HTTP): a JSON body (one
 * operation, or an array of them: a batch), an `application/graphql` body (the document itself), or the query string
 * of a GET. Plain functions over captured text; nothing here reads an object of the app.
 */

/** One operation request as the client sent it (values not checked: anything may arrive). */
export interface GraphqlRequestPart {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

const GRAPHQL_MIME = /^application\/graphql\b/i;

/** The path of a request target, without query or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

/** The operation requests in a GraphQL body text; undefined when it cannot be read whole (cut, not JSON). */
export function partsOfBody(text: string, mimeType: string): GraphqlRequestPart[] | undefined {
  if (GRAPHQL_MIME.test(mimeType)) return [{ query: text }];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (Array.isArray(parsed)) return parsed.map(asPart);
  return parsed !== null && typeof parsed === 'object' ? [asPart(parsed)] : undefined;
}

/** The operation request in a GET's query string (`query`, `operationName`, `variables` as JSON text). */
export function partOfQuery(url: string): GraphqlRequestPart | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const hash = url.indexOf('#', q);
  const params = new URLSearchParams(url.slice(q + 1, hash < 0 ? undefined : hash));
  const query = params.get('query');
  return query === null ? undefined : { query, operationName: params.get('operationName') ?? undefined };
}

function asPart(value: unknown): GraphqlRequestPart {
  return value !== null && typeof value === 'object' ? (value as GraphqlRequestPart) : {};
}

/** Whether a body's MIME type is one GraphQL over HTTP uses (JSON, or the document as `application/graphql`). */
export function isGraphqlBodyType(mimeType: string): boolean {
  return GRAPHQL_MIME.test(mimeType) || /^application\/(?:[\w.+-]+\+)?json\b/i.test(mimeType);
}
