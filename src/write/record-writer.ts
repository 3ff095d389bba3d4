import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { EncodedFormat, EncodedSender } from '../interfaces/encoded-transport.interface';
import type { RecordFormatter } from '../format/record-formatter';
import { writeHarFileEntries } from './har-file-entries';
import { otlpSpanWriter } from '../format/otlp/span-writer';

/**
 * Writes a settled exchange once, in the wire format of the built-in transport that will send it: redacted, escaped
 * and encoded to UTF-8 in one go, when the exchange settles. The queue then holds these flat buffers (their length
 * is exactly what they hold) and a batch is their concatenation.
 */
export type RecordWriter = (exchange: CapturedExchange) => Buffer;

export function recordWriter(format: EncodedFormat, formatter: RecordFormatter, sender?: EncodedSender): RecordWriter {
  switch (format) {
    case 'readme-record':
      return (x) => Buffer.from(JSON.stringify(formatter.format(x)));
    case 'har-entries':
      return (x) => writeHarFileEntries(formatter.format(x));
    case 'otlp-spans':
      return otlpSpanWriter(sender!, formatter);
  }
}
