import { createHash } from 'node:crypto';

/**
 * ReadMe's masking of API keys: a stable hash (so a dashboard can tell keys apart) plus the last four characters
 * (so a human can recognise theirs). The raw key never leaves the server. Used for `group.id`, as ReadMe's SDKs
 * compute it (their cross-SDK suite expects `owlbert-api-key` → `sha512-…?-key`).
 */
export function maskApiKey(apiKey: string): string {
  return cached(apiKeys, apiKey, () => `${sha512(apiKey)}?${apiKey.slice(-4)}`);
}

/**
 * The `Authorization` header: the same hash of the whole value as ReadMe's SDKs send, but the last four characters
 * only when the credential after the scheme is one token of at least 16 characters — four characters of a short
 * token are most of it (`Bearer xyz` must not show `xyz`). Basic credentials are a base64 password: never a tail.
 */
export function maskAuthorization(value: string): string {
  return cached(authorizations, value, () => {
    const tail = credentialTail(value);
    return tail === undefined ? sha512(value) : `${sha512(value)}?${tail}`;
  });
}

/** Shortest credential whose last four characters may be shown. */
const MIN_CREDENTIAL_FOR_TAIL = 16;

// `<scheme>[:] <credential>`: the scheme is an HTTP token; `Bearer: key` (ReadMe's example) is read as a scheme too.
const SCHEME = /^([A-Za-z][\w!#$%&'*+.^`|~-]*):?[ \t]+/;

function credentialTail(value: string): string | undefined {
  const trimmed = value.trim();
  const scheme = SCHEME.exec(trimmed);
  if (scheme && scheme[1]!.toLowerCase() === 'basic') return undefined;
  const credential = scheme ? trimmed.slice(scheme[0].length) : trimmed;
  // Several parameters (Digest, AWS signatures…) are no single token: nothing shown.
  if (credential.length < MIN_CREDENTIAL_FOR_TAIL || /[\s,]/.test(credential)) return undefined;
  return credential.slice(-4);
}

function sha512(value: string): string {
  return `sha512-${createHash('sha512').update(value).digest('base64')}`;
}

// Most traffic comes from a few keys: remember the last ones rather than hash every record (bounded).
const RECENT_KEYS = 1000;
const apiKeys = new Map<string, string>();
const authorizations = new Map<string, string>();

function cached(recent: Map<string, string>, key: string, compute: () => string): string {
  let masked = recent.get(key);
  if (masked === undefined) {
    masked = compute();
    if (recent.size >= RECENT_KEYS) recent.delete(recent.keys().next().value as string);
    recent.set(key, masked);
  }
  return masked;
}
