/**
 * THE list of names whose values are redacted with no configuration (`redactDefaults`, on unless turned off). One
 * list, used everywhere: header names, query and form keys (also as a bracket segment: `user[password]`,
 * `password[]`), keys at any depth in JSON bodies, and `key=value` / `key: value` pairs in other text bodies. Compared
 * case-insensitively. The `authorization` header is masked the ReadMe way instead (see mask.ts).
 */
export const DEFAULT_REDACTED_KEYS = [
  // credentials
  'password',
  'passwd',
  'passphrase',
  'secret',
  'client_secret',
  'private_key',
  'authorization',
  'proxy-authorization',
  // tokens
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'auth_token',
  'session_token',
  'csrf_token',
  'xsrf_token',
  'x-auth-token',
  'x-access-token',
  'x-api-token',
  'x-csrf-token',
  'x-xsrf-token',
  // API keys
  'api_key',
  'apikey',
  'api-key',
  'x-api-key',
  // cookies
  'cookie',
  'set-cookie',
];

/** Headers whose value is a URL: its query values (and userinfo) are redacted like the request URL's. */
export const URL_HEADERS = ['location', 'content-location', 'referer', 'referrer'];

/** Nesting depth past which a JSON subtree that rules would have to look into is redacted whole. */
export const MAX_REDACT_DEPTH = 64;
