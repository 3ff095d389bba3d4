import type { RecordFormatter } from '../record-formatter';
import type { CapturedExchange } from '../../interfaces/captured-exchange.interface';
import type { EncodedSender } from '../../interfaces/encoded-transport.interface';
import type { ReadableSpanLike, ResourceLike } from './span';
import { SCOPE } from './span-builder';
import { encodeSpans } from './span-encoder';

/*
 * OTLP records written once, when the exchange settles, in the wire format of their spans; a batch is then the
 * concatenation of its records inside a fixed wrapper, and nothing is encoded twice (#25).
 * - http/protobuf and grpc: a record is its Span messages, each with its field tag and length (span-encoder.ts,
 *   which writes them as the official serializer does). Protobuf messages concatenate, so a batch is the fixed
 *   resource and scope, as the app's own serializer (@opentelemetry/otlp-transformer) encodes them once at start-up,
 *   wrapped with length prefixes around the concatenation of its records: one ResourceSpans with one ScopeSpans, as
 *   the serializer writes a batch of spans sharing a resource and scope.
 * - http/json: a record is the official serializer's `resourceSpans` entry for its spans; a batch is
 *   `{"resourceSpans":[` + the entries joined + `]}` (each entry carries the resource again: OTLP/JSON cannot be
 *   merged without parsing it).
 * Splitting a batch (413, maxExportBytes) splits the array of records and wraps each part again.
 */

export interface TraceSerializer {
  serializeRequest(spans: ReadableSpanLike[]): Uint8Array | undefined;
}

/** The writer of one record for the encoded side of the OTLP transports (`otlp-spans`): see EncodedSender.encode. */
export function otlpSpanWriter(sender: EncodedSender, formatter: RecordFormatter): (x: CapturedExchange) => Buffer {
  const encode = sender.encode;
  if (!encode) throw new Error('an otlp-spans sender encodes its own records');
  return (x) => encode(formatter.redact(x));
}

const JSON_HEAD = '{"resourceSpans":[';
const JSON_TAIL = ']}';
const LEN = 2; // protobuf wire type: length-delimited

/** The fixed parts of one ExportTraceServiceRequest around its Span messages (raw bytes, tags included). */
interface Wrapper {
  /** ResourceSpans fields before `scope_spans` (the resource). */
  resource: Buffer;
  /** ResourceSpans fields after it (schema_url). */
  resourceTail: Buffer;
  /** ScopeSpans fields before the spans (the scope). */
  scope: Buffer;
  /** ScopeSpans fields after them (schema_url). */
  scopeTail: Buffer;
}

/** Encodes the spans of one record, and a batch of records, in the wire format of one OTLP protocol. */
export class OtlpSpanRecords {
  private readonly wrapper?: Wrapper;

  constructor(
    private readonly serializer: TraceSerializer,
    private readonly json: boolean,
    resource: ResourceLike,
  ) {
    if (!json) this.wrapper = copyWrapper(splitRequest(serialize(serializer, [probeSpan(resource)])).wrapper);
  }

  /** One record: its spans (see the file's comment). */
  encode(spans: ReadableSpanLike[]): Buffer {
    if (!this.json) return encodeSpans(spans);
    const text = serialize(this.serializer, spans).toString('utf8');
    if (!text.startsWith(JSON_HEAD) || !text.endsWith(JSON_TAIL)) throw new Error('OTLP: unexpected JSON encoding');
    return Buffer.from(text.slice(JSON_HEAD.length, -JSON_TAIL.length));
  }

  /** The body of one export: the records' spans in one request. */
  join(records: Buffer[]): Buffer {
    if (this.json) {
      const parts: Buffer[] = [Buffer.from(JSON_HEAD)];
      let first = true;
      for (const record of records) {
        if (!record.length) continue;
        if (!first) parts.push(COMMA);
        parts.push(record);
        first = false;
      }
      parts.push(Buffer.from(JSON_TAIL));
      return Buffer.concat(parts);
    }
    const w = this.wrapper;
    if (!w) return Buffer.alloc(0); // no record was written: nothing to send
    let spans = 0;
    for (const record of records) spans += record.length;
    const scopeSpans = w.scope.length + spans + w.scopeTail.length;
    const scopeField = 1 + varintSize(scopeSpans) + scopeSpans;
    const resourceSpans = w.resource.length + scopeField + w.resourceTail.length;
    const out = Buffer.allocUnsafe(1 + varintSize(resourceSpans) + resourceSpans);
    let at = writeVarint(out, 0, (1 << 3) | LEN);
    at = writeVarint(out, at, resourceSpans);
    at += w.resource.copy(out, at);
    at = writeVarint(out, at, (2 << 3) | LEN);
    at = writeVarint(out, at, scopeSpans);
    at += w.scope.copy(out, at);
    for (const record of records) at += record.copy(out, at);
    at += w.scopeTail.copy(out, at);
    w.resourceTail.copy(out, at);
    return out;
  }
}

const COMMA = Buffer.from(',');

function serialize(serializer: TraceSerializer, spans: ReadableSpanLike[]): Buffer {
  const request = serializer.serializeRequest(spans);
  if (!request) throw new Error('OTLP: the spans could not be encoded');
  return Buffer.from(request.buffer, request.byteOffset, request.byteLength);
}

/** A span of the resource and scope of ours, for the serializer to write the wrapper around it. */
function probeSpan(resource: ResourceLike): ReadableSpanLike {
  const context = { traceId: '1'.repeat(32), spanId: '1'.repeat(16), traceFlags: 1 };
  return {
    name: 'probe',
    kind: 1,
    spanContext: () => context,
    startTime: [0, 0],
    endTime: [0, 0],
    duration: [0, 0],
    status: { code: 0 },
    attributes: {},
    links: [],
    events: [],
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/**
 * An ExportTraceServiceRequest of one resource and one scope, cut into its fixed parts and its Span fields (their
 * tags and lengths included, copied out of the serializer's buffer).
 */
function splitRequest(bytes: Buffer): { wrapper: Wrapper; spans: Buffer } {
  const [resourceSpans, ...others] = fields(bytes, 0, bytes.length).filter((f) => f.field === 1);
  if (!resourceSpans || others.length) throw new Error('OTLP: expected one ResourceSpans');
  const rs = fields(bytes, resourceSpans.start, resourceSpans.end);
  const scopeIndex = rs.findIndex((f) => f.field === 2);
  if (scopeIndex < 0 || rs.findIndex((f, i) => f.field === 2 && i !== scopeIndex) >= 0) {
    throw new Error('OTLP: expected one ScopeSpans');
  }
  const scopeSpans = rs[scopeIndex]!;
  const ss = fields(bytes, scopeSpans.start, scopeSpans.end);
  const spans = ss.filter((f) => f.field === 2);
  const spanFrom = spans[0]?.from ?? scopeSpans.start;
  const spanTo = spans.at(-1)?.end ?? spanFrom;
  // The Span fields are contiguous (the serializer writes all spans of a scope together).
  if (ss.some((f) => f.field !== 2 && f.from < spanTo && f.end > spanFrom)) throw new Error('OTLP: unexpected layout');
  return {
    wrapper: {
      resource: bytes.subarray(resourceSpans.start, scopeSpans.from),
      resourceTail: bytes.subarray(scopeSpans.end, resourceSpans.end),
      scope: bytes.subarray(scopeSpans.start, spanFrom),
      scopeTail: bytes.subarray(spanTo, scopeSpans.end),
    },
    spans: Buffer.from(bytes.subarray(spanFrom, spanTo)),
  };
}

function copyWrapper(w: Wrapper): Wrapper {
  const copy = (b: Buffer) => Buffer.from(b);
  return {
    resource: copy(w.resource),
    resourceTail: copy(w.resourceTail),
    scope: copy(w.scope),
    scopeTail: copy(w.scopeTail),
  };
}

interface Field {
  field: number;
  /** Where the field's tag starts. */
  from: number;
  /** Where a length-delimited field's contents start. */
  start: number;
  /** Where the field ends. */
  end: number;
}

/** The top-level fields of the message in bytes[from, to). */
function fields(bytes: Buffer, from: number, to: number): Field[] {
  const out: Field[] = [];
  let at = from;
  while (at < to) {
    const begin = at;
    let tag: number;
    [tag, at] = readVarint(bytes, at);
    const wire = tag & 7;
    let start = at;
    if (wire === 0) [, at] = readVarint(bytes, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === LEN) {
      let length: number;
      [length, start] = readVarint(bytes, at);
      at = start + length;
    } else throw new Error(`OTLP: unexpected wire type ${wire}`);
    if (at > to) throw new Error('OTLP: truncated message');
    out.push({ field: tag >>> 3, from: begin, start, end: at });
  }
  return out;
}

function readVarint(bytes: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined) throw new Error('OTLP: truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
    scale *= 128;
  }
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

function writeVarint(out: Buffer, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}
