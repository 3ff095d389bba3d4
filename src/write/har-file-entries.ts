import type { HarEntry } from '../interfaces/har.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';

/**
 * One record as the HAR file holds it: its entries' JSON, `,\n` between them (empty when it has none). The file has
 * no `pages` (one per route would have to be rewritten with every batch), so entries name none: the route stays in
 * `_pageref` (origin + route template, as ReadMe gets it). Each entry carries the record's `_id` and `_group`.
 */
export function writeHarFileEntries(record: MetricsRecord): Buffer {
  const entries = record.request.log.entries.map(({ pageref, ...entry }): HarEntry => ({
    ...entry,
    ...(pageref !== undefined && { _pageref: pageref }),
    _id: record._id,
    _group: record.group,
  }));
  return Buffer.from(entries.map((e) => JSON.stringify(e)).join(',\n'));
}
