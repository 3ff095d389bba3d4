import type { HrTime, ReadableSpanLike, SpanAttributes, SpanAttributeValue } from './span';

/*
 * OTLP protobuf encoding of Span messages (opentelemetry/proto/trace/v1/trace.proto), written straight into one
 * scratch buffer and copied out once per record: the fields, their order and the values written for defaults are
 * those of @opentelemetry/otlp-transformer's own serializer (0.2xx and 0.30x write Spans the same way), so a
 * collector decodes what the official encoding would have sent; test/unit/otlp-span-writer.spec.ts checks it,
 * decoded, over hostile exchanges. Only Spans: the resource and scope around them are the official serializer's
 * bytes (span-writer.ts).
 */

const LEN = 2;
const VARINT = 0;
const I64 = 1;
const I32 = 5;
/** OTLP span flags: the W3C trace flags plus "we know whether the parent is remote" (and whether it is). */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

let buf = Buffer.allocUnsafe(16 * 1024);
let pos = 0;

/**
 * The spans of one record as `spans` fields of a ScopeSpans message (field 2): each its tag, its length and its Span
 * message, concatenated, in a Buffer of their own.
 */
export function encodeSpans(spans: ReadableSpanLike[]): Buffer {
  pos = 0;
  for (const span of spans) {
    tag(2, LEN);
    const start = open();
    writeSpan(span);
    close(start);
  }
  const out = Buffer.from(buf.subarray(0, pos));
  if (buf.length > MAX_KEPT) buf = Buffer.allocUnsafe(16 * 1024); // a big record's scratch is not kept
  return out;
}

const MAX_KEPT = 1 << 20;

function writeSpan(span: ReadableSpanLike): void {
  const context = span.spanContext();
  tag(1, LEN);
  hex(context.traceId);
  tag(2, LEN);
  hex(context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) {
    tag(3, LEN);
    string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    tag(4, LEN);
    hex(parent.spanId);
  }
  tag(5, LEN);
  string(span.name);
  // The API's SpanKind counts from 0 (INTERNAL), the protocol's from 1 (0 is UNSPECIFIED).
  tag(6, VARINT);
  varint(span.kind + 1);
  tag(7, I64);
  time(span.startTime);
  tag(8, I64);
  time(span.endTime);
  attributes(span.attributes, 9);
  tag(10, VARINT);
  varint(span.droppedAttributesCount);
  for (const event of span.events) {
    tag(11, LEN);
    const start = open();
    tag(1, I64);
    time(event.time);
    tag(2, LEN);
    string(event.name);
    attributes(event.attributes, 3);
    tag(4, VARINT);
    varint(event.droppedAttributesCount || 0);
    close(start);
  }
  tag(12, VARINT);
  varint(span.droppedEventsCount);
  // No links: the span builder makes none.
  tag(14, VARINT);
  varint(span.droppedLinksCount);
  tag(15, LEN);
  const status = open();
  if (span.status.message) {
    tag(2, LEN);
    string(span.status.message);
  }
  tag(3, VARINT);
  varint(span.status.code);
  close(status);
  tag(16, I32);
  fixed32((context.traceFlags & 0xff) | HAS_IS_REMOTE | (parent?.isRemote ? IS_REMOTE : 0));
}

function attributes(attrs: SpanAttributes, field: number): void {
  for (const key in attrs) {
    if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
    tag(field, LEN);
    const kv = open();
    tag(1, LEN);
    string(key);
    tag(2, LEN);
    const value = open();
    anyValue(attrs[key]!);
    close(value);
    close(kv);
  }
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

function anyValue(value: SpanAttributeValue): void {
  if (typeof value === 'string') {
    tag(1, LEN);
    string(value);
  } else if (typeof value === 'boolean') {
    tag(2, VARINT);
    varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
      tag(3, VARINT);
      varint(value);
    } else {
      tag(4, I64);
      room(8);
      buf.writeDoubleLE(value, pos);
      pos += 8;
    }
  } else if (Array.isArray(value)) {
    tag(5, LEN);
    const array = open();
    for (const item of value) {
      tag(1, LEN);
      const start = open();
      anyValue(item);
      close(start);
    }
    close(array);
  }
}

function room(bytes: number): void {
  if (pos + bytes <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + bytes) size *= 2;
  const bigger = Buffer.allocUnsafe(size);
  buf.copy(bigger, 0, 0, pos);
  buf = bigger;
}

function tag(field: number, wire: number): void {
  varint((field << 3) | wire);
}

/** A varint; negative and 64-bit integers as int64 (two's complement, ten bytes), as the official writer does. */
function varint(value: number): void {
  room(10);
  if (value >= 0 && value <= 0xffffffff) {
    let v = value >>> 0;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    return;
  }
  const abs = Math.abs(value);
  let low = abs >>> 0;
  let high = (abs / 0x100000000) >>> 0;
  if (value < 0) {
    low = ~low >>> 0;
    high = ~high >>> 0;
    low = (low + 1) >>> 0;
    if (low === 0) high = (high + 1) >>> 0;
  }
  while (high > 0 || low > 0x7f) {
    buf[pos++] = (low & 0x7f) | 0x80;
    low = ((low >>> 7) | (high << 25)) >>> 0;
    high >>>= 7;
  }
  buf[pos++] = low & 0x7f;
}

function fixed32(value: number): void {
  room(4);
  buf.writeUInt32LE(value >>> 0, pos);
  pos += 4;
}

/** HrTime as fixed64 nanoseconds, exactly (seconds split so no product leaves the safe integers). */
function time([seconds, nanos]: HrTime): void {
  const low16 = (seconds & 0xffff) * 1e9;
  const high = Math.floor(seconds / 0x10000) * 1e9; // to be shifted left by 16 bits
  const lowWord = (low16 >>> 0) + (((high % 0x10000) * 0x10000) >>> 0) + nanos;
  const highWord = Math.floor(low16 / 0x100000000) + Math.floor(high / 0x10000) + Math.floor(lowWord / 0x100000000);
  room(8);
  buf.writeUInt32LE(lowWord >>> 0, pos);
  buf.writeUInt32LE(highWord >>> 0, pos + 4);
  pos += 8;
}

/** Lower-case hex ids as bytes, length-prefixed. */
function hex(id: string): void {
  const bytes = id.length >>> 1;
  room(bytes + 1);
  buf[pos++] = bytes;
  pos += buf.write(id, pos, bytes, 'hex');
}

/** UTF-8, length-prefixed (lone surrogates as U+FFFD, as TextEncoder writes them). */
function string(text: string): void {
  const length = text.length;
  // Most strings here (attribute names, header values, methods) are short ASCII: a loop in JS beats a call into
  // Buffer.write for them. One byte of length: under 128 bytes.
  if (length < 128) {
    room(1 + length);
    let at = pos + 1;
    let i = 0;
    for (; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) break;
      buf[at++] = code;
    }
    if (i === length) {
      buf[pos] = length;
      pos = at;
      return;
    }
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  varint(bytes);
  room(bytes);
  pos += buf.write(text, pos, bytes, 'utf8');
}

/** Reserves one byte for the length of a message that starts here; `close` writes it (moving the message if longer). */
function open(): number {
  room(1);
  return pos++;
}

function close(at: number): void {
  const length = pos - at - 1;
  if (length < 0x80) {
    buf[at] = length;
    return;
  }
  let size = 1;
  for (let v = length; v >= 0x80; v = Math.floor(v / 128)) size++;
  room(size - 1);
  buf.copy(buf, at + size, at + 1, pos);
  pos += size - 1;
  let v = length;
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[at] = v;
}
