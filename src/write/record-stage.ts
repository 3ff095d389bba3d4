import type { RecordFormatter } from '../format/record-formatter';
import { redactExchange } from '../format/redacted-exchange';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import { encodedSenderOf, type EncodedSender } from '../interfaces/encoded-transport.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';
import { isExchangeTransport, type AnyMetricsTransport } from '../interfaces/metrics-transport.interface';
import type { RedactedExchange } from '../interfaces/redacted-exchange.interface';
import { heldBytes } from '../deliver/held-bytes';
import { nextTurn } from '../deliver/durations';
import { recordWriter, type RecordWriter } from './record-writer';

/** What the queue holds: a record written once at settle (built-in transports), or the exchange as captured. */
export type Queued = Buffer | CapturedExchange;

/**
 * One batch as the transport takes it: records already written (built-in transports), ReadMe records for a user's
 * MetricsTransport, redacted exchanges for an ExchangeTransport (OTLP, APIToolkit).
 */
export type Batch = Buffer[] | MetricsRecord[] | RedactedExchange[];

/** Formatting at send time yields to the event loop after this long, so a big batch never holds up requests. */
const FORMAT_SLICE_MS = 1;

/**
 * The write stage, between capture and the queue. For a built-in transport (ReadMe, the HAR file) each exchange is
 * written once, when it settles, to its wire bytes (record-writer.ts); the queue holds those. For any other
 * transport the exchange is queued as captured and formatted when its batch goes (`batch`), in slices.
 */
export class RecordStage {
  /** The built-in transport's encoded side, when it has one: its batches are the written records' concatenation. */
  readonly encoded?: EncodedSender;
  private readonly write?: RecordWriter;
  /**
   * The record tap: called with each record's bytes (a ReadMe record's JSON text, or a HAR file's entries) right
   * after it was written, before it is queued. Must not throw or keep a reference it does not need.
   */
  onWritten?: (bytes: Buffer) => void;

  constructor(
    private readonly transport: AnyMetricsTransport,
    private readonly formatter: RecordFormatter,
    /** Counts a record that could not be formatted (and says so once). */
    private readonly failed: (error: unknown) => void,
  ) {
    this.encoded = encodedSenderOf(transport);
    if (this.encoded) this.write = recordWriter(this.encoded.format, formatter, this.encoded);
  }

  /**
   * The exchange as the queue holds it: written once, now, for a built-in transport; as captured otherwise.
   * Undefined when it cannot be written (counted by `failed`).
   */
  written(exchange: CapturedExchange): Queued | undefined {
    if (!this.write) return exchange;
    let bytes: Buffer;
    try {
      bytes = this.write(exchange);
    } catch (error) {
      this.failed(error);
      return undefined;
    }
    // The one place a written record can be observed.
    if (this.onWritten) {
      try {
        this.onWritten(bytes);
      } catch {
        // a tap never costs a record
      }
    }
    return bytes;
  }

  /** Bytes a queued item holds, as counted against `maxQueueBytes`. */
  bytesOf(item: Queued): number {
    return Buffer.isBuffer(item) ? item.length : heldBytes(item);
  }

  /** A batch of queued items as the transport takes it: formatted now (in slices) unless written already. */
  async batch(items: Queued[]): Promise<Batch> {
    if (this.encoded) return items as Buffer[];
    const exchanges = items as CapturedExchange[];
    const { formatter } = this;
    return isExchangeTransport(this.transport)
      ? this.sliced(exchanges, (x) => redactExchange(x, formatter.redactor, formatter.options))
      : this.sliced(exchanges, (x) => formatter.format(x));
  }

  /** Sends a batch through the built-in transport's encoded side, or the transport's own `send`. */
  send(batch: Batch): Promise<void> {
    return this.encoded ? this.encoded.send(batch as Buffer[]) : this.transport.send(batch as never);
  }

  /** Formats a batch in slices of about FORMAT_SLICE_MS, yielding to the app's requests in between. */
  private async sliced<T>(batch: CapturedExchange[], format: (exchange: CapturedExchange) => T): Promise<T[]> {
    const out: T[] = [];
    let sliceStart = performance.now();
    for (const exchange of batch) {
      if (performance.now() - sliceStart >= FORMAT_SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
      try {
        out.push(format(exchange));
      } catch (error) {
        this.failed(error);
      }
    }
    return out;
  }
}
