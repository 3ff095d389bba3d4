import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { Redactor } from '../redact/redactor';
import type { RedactedExchange } from '../interfaces/redacted-exchange.interface';
import { redactGraphqlBody, redactGraphqlUrl, redactUploadFields, scrubEchoes, SecretValues } from './graphql-redact';
import { isGraphqlBodyType } from './graphql-request';

/** A GraphQL request's URL and body with its documents and variables redacted, ready for the redactor's own pass. */
export interface GraphqlRedactedRequest {
  url: string;
  requestBody?: CapturedBody;
  /** The redacted document of a single (not batched) request. */
  document?: string;
  /** The values redacted, to be replaced wherever the server echoed them (errors, response body). */
  secrets: readonly string[];
}

/**
 * The format stage's GraphQL step (src/format/redacted-exchange.ts calls it first): the GET query string and the
 * request body are redacted by the GraphQL rules, then go through every other rule as any URL and body do.
 */
export function redactGraphqlRequest(x: CapturedExchange, redactor: Redactor): GraphqlRedactedRequest {
  const isSecret = Object.assign((name: string) => redactor.isSecretName(name), {
    mayName: (text: string) => redactor.mayNameSecret(text),
  });
  const secrets = new SecretValues();
  const fromUrl = redactGraphqlUrl(x.url, isSecret, secrets);
  const unchanged = {
    url: fromUrl.url,
    requestBody: x.requestBody,
    document: fromUrl.document,
    secrets: secrets.values,
  };
  const body = x.requestBody;
  if (!body || body.comment || body.encoding === 'base64' || !body.text) return unchanged;
  const contentType = contentTypeOf(x.requestHeaders);
  if (/^multipart\/form-data\b/i.test(contentType)) {
    // Uploads: the fields as parsed (raw multipart bytes are never recorded as text).
    if (body.source !== 'parsed') return unchanged;
    const fields = redactUploadFields(body.text, isSecret, secrets);
    const comment = 'GraphQL upload fields that are not JSON, not captured (they could hold secrets)';
    return {
      ...unchanged,
      requestBody: fields === undefined ? { ...body, text: '', comment } : { ...body, text: fields },
    };
  }
  const mimeType = body.source === 'parsed' ? 'application/json' : contentType;
  if (!isGraphqlBodyType(mimeType)) return unchanged;
  const redacted = redactGraphqlBody(body.text, mimeType, body.truncated, isSecret, secrets);
  if ('dropped' in redacted) return { ...unchanged, requestBody: { ...body, text: '', comment: redacted.dropped } };
  return {
    ...unchanged,
    requestBody: { ...body, text: redacted.text },
    document: redacted.document ?? fromUrl.document,
  };
}

/** Replaces the request's secret values in the response body and error texts of a redacted exchange (in place). */
export function scrubGraphqlEchoes(x: RedactedExchange, secrets: readonly string[]): void {
  if (x.responseBody.text && !x.responseBody.encoding) x.responseBody.text = scrubEchoes(x.responseBody.text, secrets);
  x.errors = x.errors?.map((e) => ({
    ...e,
    message: scrubEchoes(e.message, secrets),
    rootErrorMessage: scrubEchoes(e.rootErrorMessage, secrets),
    ...(e.stackTrace !== undefined && { stackTrace: scrubEchoes(e.stackTrace, secrets) }),
  }));
}

function contentTypeOf(flat: string[]): string {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if ((flat[i] as string).toLowerCase() === 'content-type') return flat[i + 1] as string;
  }
  return '';
}
