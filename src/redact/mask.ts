import { createHash } from 'node:crypto';

/**
 * ReadMe's masking of API keys: a stable hash (so a dashboard can tell keys apart) plus the last four characters
 * (so a human can recognise theirs). The raw key never leaves the server.
 */
export function maskApiKey(apiKey: string): string {
  return `sha512-${createHash('sha512').update(apiKey).digest('base64')}?${apiKey.slice(-4)}`;
}
