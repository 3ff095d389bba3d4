/*
 * The benchmark's collector on 127.0.0.1: accepts whatever the variants ship, counts calls, bytes and (for
 * ReadMe-format arrays, and OTLP http/protobuf spans at /v1/traces) records, and checks that each record's response body arrived (text over 500 chars).
 * GET /stats, POST /reset.
 *
 * It shares the two cores with the app, so it must cost as little as it can: a real collector's CPU is not the
 * app's. Records are counted by a marker scan over the raw bytes, never parsed: each ReadMe record is an object that
 * opens with `{"_id":"`, a sequence no JSON string can hold unescaped (its quotes would be `\"`).
 */
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';

let stats = { calls: 0, bytes: 0, records: 0, recordsWithBodies: 0 };

const RECORD = Buffer.from('{"_id":"');
const CONTENT = Buffer.from('"content":{"size":');
const TEXT = Buffer.from('"text":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The length in bytes of the JSON string whose contents start at `from` (up to its closing unescaped quote). */
function stringLength(body: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const quote = body.indexOf(QUOTE, at);
    if (quote < 0) return body.length - from;
    let backslashes = 0;
    while (body[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote - from;
    at = quote + 1;
  }
}

/** Counts the records of a ReadMe batch, and those whose first response body (the exchange's own) is over 500. */
function scan(body: Buffer): void {
  let at = body.indexOf(RECORD);
  while (at >= 0) {
    stats.records++;
    const next = body.indexOf(RECORD, at + RECORD.length);
    // The record's own entry comes first, and its first `"content":{"size":` is its response's (postData has none).
    const content = body.indexOf(CONTENT, at);
    if (content >= 0 && (next < 0 || content < next)) {
      const text = body.indexOf(TEXT, content);
      if (text >= 0 && (next < 0 || text < next) && stringLength(body, text + TEXT.length) > 500) {
        stats.recordsWithBodies++;
      }
    }
    at = next;
  }
}

/** Reads a protobuf varint at `at`: [value, next position]. */
function varint(body: Buffer, at: number): [number, number] {
  let value = 0;
  for (let scale = 1; ; scale *= 128) {
    const byte = body[at++];
    if (byte === undefined) throw new Error('truncated');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, at];
  }
}

/** Calls `each` with the [start, end) of every length-delimited field `field` of the message in body[from, to). */
function lengthDelimited(body: Buffer, from: number, to: number, field: number, each: (s: number, e: number) => void) {
  let at = from;
  while (at < to) {
    let tag: number;
    [tag, at] = varint(body, at);
    const wire = tag & 7;
    if (wire === 0) [, at] = varint(body, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let length: number;
      [length, at] = varint(body, at);
      if (tag >>> 3 === field) each(at, at + length);
      at += length;
    } else throw new Error(`wire type ${wire}`);
  }
}

/** Counts the spans of an OTLP http/protobuf ExportTraceServiceRequest: resourceSpans(1) > scopeSpans(2) > spans(2). */
function scanSpans(body: Buffer): void {
  lengthDelimited(body, 0, body.length, 1, (rs, rsEnd) =>
    lengthDelimited(body, rs, rsEnd, 2, (ss, ssEnd) => lengthDelimited(body, ss, ssEnd, 2, () => stats.records++)),
  );
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  if (req.method === 'POST' && req.url === '/reset') {
    stats = { calls: 0, bytes: 0, records: 0, recordsWithBodies: 0 };
    res.writeHead(204).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    stats.calls++;
    stats.bytes += body.length;
    if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/x-protobuf') {
      try {
        scanSpans(body);
      } catch {
        // counted in calls and bytes only
      }
    } else if (req.url === '/v1/request') {
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        scan(body);
      } catch {
        // other vendors' formats are only counted in calls and bytes
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`ready ${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
