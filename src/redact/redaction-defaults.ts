/** Headers redacted with no configuration (`redactDefaults`, on unless turned off). `authorization` is masked. */
export const DEFAULT_REDACTED_HEADERS = ['proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key'];

/** Keys redacted anywhere in JSON and form bodies and in query strings (compared case-insensitively). */
export const DEFAULT_REDACTED_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'api_key',
  'apikey',
  'api-key',
  'access_token',
  'refresh_token',
  'client_secret',
  'authorization',
];
