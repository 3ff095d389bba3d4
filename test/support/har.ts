import assert from 'node:assert/strict';
// har-validator ships no types; its promise API takes a whole HAR, a request or a response.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const validator = require('har-validator') as {
  har(data: unknown): Promise<unknown>;
  request(data: unknown): Promise<unknown>;
  response(data: unknown): Promise<unknown>;
};
import type { MetricsRecord } from '../../src';

/** Asserts the record's HAR log, and its first entry's request and response, validate against HAR 1.2. */
export async function assertValidHar(record: MetricsRecord): Promise<void> {
  const entry = record.request.log.entries[0];
  assert.ok(entry, 'record has an entry');
  try {
    await validator.request(entry.request);
    await validator.response(entry.response);
    await validator.har({ log: record.request.log });
  } catch (error) {
    const detail = (error as { errors?: unknown }).errors ?? error;
    assert.fail(`invalid HAR: ${JSON.stringify(detail)}\n${JSON.stringify(entry, null, 1)}`);
  }
}

export function entryOf(record: MetricsRecord) {
  const entry = record.request.log.entries[0];
  assert.ok(entry, 'record has an entry');
  return entry;
}

export function header(headers: { name: string; value: string }[], name: string): string | undefined {
  return headers.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}
