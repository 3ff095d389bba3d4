import { HAR_CREATOR, type RecordFormatter } from '../format/record-formatter';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { EncodedFormat, EncodedSender } from '../interfaces/encoded-transport.interface';
import { EntryWriter } from './entry-text';
import { FixedParts } from './fixed-parts';
import { writeHarFileEntries } from './har-file-entries';
import { otlpSpanWriter } from '../format/otlp/span-writer';

/**
 * Writes a settled exchange once, in the wire format of the built-in transport that will send it: redacted, escaped
 * and encoded to UTF-8 in one go, when the exchange settles. The queue then holds these flat buffers (their length
 * is exactly what they hold) and a batch is their concatenation.
 */
export type RecordWriter = (exchange: CapturedExchange) => Buffer;

/**
 * The writer of a built-in transport's format: each record's JSON text appended straight from the captured exchange
 * (entry-text.ts), the parts that repeat rendered once (fixed-parts.ts). GraphQL exchanges, whose documents,
 * variables and echoes src/graphql redacts on the object path, go through `formatter` (RedactedExchange, HAR objects,
 * `JSON.stringify`): the same bytes, more slowly.
 */
export function recordWriter(format: EncodedFormat, formatter: RecordFormatter, sender?: EncodedSender): RecordWriter {
  // OTLP spans are encoded from the RedactedExchange for now (src/format/otlp/span-writer.ts).
  if (format === 'otlp-spans') return otlpSpanWriter(sender!, formatter);
  const { redactor, options } = formatter;
  const fixed = new FixedParts(redactor);
  const entries = new EntryWriter(redactor, fixed, {
    maxBodyBytes: options.maxBodyBytes,
    customFields:
      (options.serviceVersion !== undefined ? `,"_serviceVersion":${JSON.stringify(options.serviceVersion)}` : '') +
      (options.tags !== undefined ? `,"_tags":${JSON.stringify(options.tags)}` : ''),
  });
  const objectPath = objectRecordWriter(format, formatter, sender);
  const viaObjects = (x: CapturedExchange) => x.graphql !== undefined || x.outgoing?.some((c) => c.graphql);
  switch (format) {
    case 'readme-record': {
      const log =
        `,"development":${options.developmentMode},"request":{"log":{"version":"1.2","creator":` +
        `${JSON.stringify(HAR_CREATOR)},"entries":[`;
      return (x) => {
        if (viaObjects(x)) return objectPath(x);
        let text = `{"_id":${JSON.stringify(x.id)},"_version":3,"group":${fixed.group(x.group)},"clientIPAddress":${JSON.stringify(x.clientIp)}${log}`;
        text += `{"pageref":${pagerefFirst(entries, x, x.parentId)}}`;
        if (x.outgoing) for (const call of x.outgoing) text += `,{"pageref":${pagerefFirst(entries, call, x.id)}}`;
        return Buffer.from(`${text}]}}}`);
      };
    }
    case 'har-entries':
      return (x) => {
        if (viaObjects(x)) return objectPath(x);
        const tail = `,"_id":${JSON.stringify(x.id)},"_group":${fixed.group(x.group)}}`;
        let text = `{${entries.fields(x, x.parentId)},"_pageref":${entries.pageref}${tail}`;
        if (x.outgoing)
          for (const call of x.outgoing)
            text += `,\n{${entries.fields(call, x.id)},"_pageref":${entries.pageref}${tail}`;
        return Buffer.from(text);
      };
  }
}

/** An entry's text with its `pageref` first, as ReadMe gets it (without the braces). */
function pagerefFirst(entries: EntryWriter, x: CapturedExchange, parentId: string | undefined): string {
  const fields = entries.fields(x, parentId);
  return `${entries.pageref},${fields}`;
}

/**
 * The object path: RedactedExchange, HAR objects, `JSON.stringify`. The byte-for-byte oracle of `recordWriter`
 * (test/unit/record-writer.spec.ts) and its path for GraphQL exchanges.
 */
export function objectRecordWriter(
  format: EncodedFormat,
  formatter: RecordFormatter,
  sender?: EncodedSender,
): RecordWriter {
  switch (format) {
    case 'readme-record':
      return (x) => Buffer.from(JSON.stringify(formatter.format(x)));
    case 'har-entries':
      return (x) => writeHarFileEntries(formatter.format(x));
    case 'otlp-spans':
      return otlpSpanWriter(sender!, formatter);
  }
}
