import type { RedactedExchange } from './redacted-exchange.interface';

/**
 * Internal: the side of a built-in transport that takes records already written in its wire format, one Buffer per
 * record, written once when the exchange settled; a batch is then their concatenation, and nothing is serialized
 * twice. Not public: a user's `MetricsTransport` keeps receiving `MetricsRecord` objects.
 */
export interface EncodedSender {
  /**
   * `readme-record`: the JSON text of one ReadMe record; `har-entries`: a record's entries as the HAR file holds them;
   * `otlp-spans`: a record's spans in the OTLP transport's encoding (see src/format/otlp/span-writer.ts), written by
   * `encode`.
   */
  readonly format: EncodedFormat;
  send(records: Buffer[]): Promise<void>;
  /** `otlp-spans`: one record from its redacted exchange (the transport's span builder and encoding). */
  encode?(exchange: RedactedExchange): Buffer;
}

export type EncodedFormat = 'readme-record' | 'har-entries' | 'otlp-spans';

/** The method by which a built-in transport offers its encoded side. */
export const ENCODED_SENDER = Symbol('nestjs-api-metrics.encoded-sender');

/**
 * The transport's encoded side: only a built-in transport whose `send` was not overridden has one, so that a
 * subclass that changes `send` still gets records as objects, as it expects.
 */
export function encodedSenderOf(transport: object): EncodedSender | undefined {
  const offer = (transport as { [ENCODED_SENDER]?: () => EncodedSender | undefined })[ENCODED_SENDER];
  return typeof offer === 'function' ? offer.call(transport) : undefined;
}
