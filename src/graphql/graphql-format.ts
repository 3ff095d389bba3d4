import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { Redactor } from '../redact/redactor';
import { redactGraphqlBody, redactGraphqlUrl } from './graphql-redact';
import { isGraphqlBodyType } from './graphql-request';

/** A GraphQL request's URL and body with its documents and variables redacted, ready for the redactor's own pass. */
export interface GraphqlRedactedRequest {
  url: string;
  requestBody?: CapturedBody;
  /** The redacted document of a single (not batched) request. */
  document?: string;
}

/**
 * The format stage's GraphQL step (src/format/redacted-exchange.ts calls it first): the GET query string and the
 * request body are redacted by the GraphQL rules, then go through every other rule as any URL and body do.
 */
export function redactGraphqlRequest(x: CapturedExchange, redactor: Redactor): GraphqlRedactedRequest {
  const isSecret = (name: string) => redactor.isSecretName(name);
  const fromUrl = redactGraphqlUrl(x.url, isSecret);
  const body = x.requestBody;
  if (!body || body.comment || body.encoding === 'base64' || !body.text) {
    return { url: fromUrl.url, requestBody: body, document: fromUrl.document };
  }
  const mimeType = body.source === 'parsed' ? 'application/json' : contentTypeOf(x.requestHeaders);
  if (!isGraphqlBodyType(mimeType)) return { url: fromUrl.url, requestBody: body, document: fromUrl.document };
  const redacted = redactGraphqlBody(body.text, mimeType, body.truncated, isSecret);
  if ('dropped' in redacted) return { url: fromUrl.url, requestBody: { ...body, text: '', comment: redacted.dropped } };
  return {
    url: fromUrl.url,
    requestBody: { ...body, text: redacted.text },
    document: redacted.document ?? fromUrl.document,
  };
}

function contentTypeOf(flat: string[]): string {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if ((flat[i] as string).toLowerCase() === 'content-type') return flat[i + 1] as string;
  }
  return '';
}
