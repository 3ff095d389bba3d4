import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { EncodedFormat } from '../interfaces/encoded-transport.interface';
import type { RecordFormatter } from '../format/record-formatter';
import type { RecordTap } from '../interfaces/record-tap.interface';
import { writeHarFileEntries } from './har-file-entries';

/**
 * Writes a settled exchange once, in the wire format of the built-in transport that will send it: redacted, escaped
 * and encoded to UTF-8 in one go, when the exchange settles. The queue then holds these flat buffers (their length
 * is exactly what they hold) and a batch is their concatenation.
 */
export type RecordWriter = (exchange: CapturedExchange) => Buffer;

/** `tap` (the dashboard, when on) gets each ReadMe record as written; HAR-file entries cost it one more stringify. */
export function recordWriter(format: EncodedFormat, formatter: RecordFormatter, tap?: RecordTap): RecordWriter {
  switch (format) {
    case 'readme-record':
      return (x) => tapped(Buffer.from(JSON.stringify(formatter.format(x))), tap);
    case 'har-entries':
      return (x) =>
        writeHarFileEntries(tapped(formatter.format(x), tap && ((r) => tap(Buffer.from(JSON.stringify(r))))));
  }
}

function tapped<T>(record: T, tap?: (record: T) => void): T {
  tap?.(record);
  return record;
}
