import type { CapturedBody, CapturedExchange } from '../interfaces/captured-exchange.interface';

/**
 * What a record holds in memory: bodies were cut to `maxBodyBytes` at capture and every field is a string, so this
 * is their length (2 bytes a character: V8 keeps non-Latin-1 strings as UTF-16) plus a fixed overhead for the
 * objects and the strings Node shares with the request (headers). While in flight, a record also has its formatted
 * form, counted by the same figure again.
 */
export function heldBytes(x: CapturedExchange): number {
  let bytes = 1024 + bodyBytes(x.requestBody) + bodyBytes(x.responseBody) + 2 * (x.responseHead?.length ?? 0);
  for (const header of x.requestHeaders) bytes += 2 * header.length;
  for (const header of x.responseHeaders) bytes += 2 * header.length;
  if (x.outgoing) for (const call of x.outgoing) bytes += heldBytes(call);
  if (x.errors) for (const e of x.errors) bytes += 2 * (e.message.length + (e.stackTrace?.length ?? 0));
  return bytes;
}

function bodyBytes(body: CapturedBody | undefined): number {
  return body ? 2 * body.text.length : 0;
}
