import type { RecordFormatter } from '../format/record-formatter';
import { redactExchange } from '../format/redacted-exchange';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import { encodedSenderOf, type EncodedSender } from '../interfaces/encoded-transport.interface';
import type { MetricsRecord } from '../interfaces/metrics-record.interface';
import type { RecordTap } from '../interfaces/record-tap.interface';
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
   * With a tap and a built-in transport whose format is not the ReadMe record (HAR file, OTLP): the ReadMe record's
   * writer, for the tap alone (the dashboard's cost while on, stated in docs/dashboard.md).
   */
  private readonly tapWrite?: RecordWriter;

  constructor(
    private readonly transport: AnyMetricsTransport,
    private readonly formatter: RecordFormatter,
    /** Counts a record that could not be formatted (and says so once). */
    private readonly failed: (error: unknown) => void,
    /**
     * The record tap (the dashboard, when on): each ReadMe record's JSON text as written, once per record. For a
     * built-in transport, right after the record is written, before it is queued; for a user's transport, when its
     * batch is formatted (from what the batch formats anyway: no second redaction).
     */
    private readonly tap?: RecordTap,
  ) {
    this.encoded = encodedSenderOf(transport);
    if (this.encoded) this.write = recordWriter(this.encoded.format, formatter, this.encoded);
    if (tap && this.encoded && this.encoded.format !== 'readme-record') {
      this.tapWrite = recordWriter('readme-record', formatter);
    }
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
    if (this.tap) this.tapped(exchange, (x) => (this.tapWrite ? this.tapWrite(x) : bytes));
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
      ? this.sliced(exchanges, (x) =>
          this.tapped(redactExchange(x, formatter.redactor, formatter.options), (r) =>
            recordBytes(formatter.record(r)),
          ),
        )
      : this.sliced(exchanges, (x) => this.tapped(formatter.format(x), recordBytes));
  }

  /** Hands `value`'s ReadMe record to the tap, when there is one. A tap (or its record) never costs a record. */
  private tapped<T>(value: T, record: (value: T) => Buffer): T {
    if (this.tap) {
      try {
        this.tap(record(value));
      } catch {
        // the dashboard misses this one; the record goes on
      }
    }
    return value;
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

function recordBytes(record: MetricsRecord): Buffer {
  return Buffer.from(JSON.stringify(record));
}
