import { createHash } from 'node:crypto';

/**
 * ReadMe's masking of API keys: a stable hash (so a dashboard can tell keys apart) plus the last four characters
 * (so a human can recognise theirs). The raw key never leaves the server.
 */
export function maskApiKey(apiKey: string): string {
  let masked = recent.get(apiKey);
  if (masked === undefined) {
    masked = `sha512-${createHash('sha512').update(apiKey).digest('base64')}?${apiKey.slice(-4)}`;
    // Most traffic comes from a few keys: remember the last ones rather than hash every record (bounded).
    if (recent.size >= RECENT_KEYS) recent.delete(recent.keys().next().value as string);
    recent.set(apiKey, masked);
  }
  return masked;
}

const RECENT_KEYS = 1000;
const recent = new Map<string, string>();
