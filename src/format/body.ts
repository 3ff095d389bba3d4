import { Readable } from 'node:stream';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/** A body turned into text, ready for HAR. */
export interface SerializedBody {
  text: string;
  /** Set for binary bodies: `text` is base64. */
  encoding?: 'base64';
  /** Size in bytes of the body as produced, before any cut. */
  size: number;
  comment?: string;
}

const TEXTUAL =
  /^(text\/|application\/(?:[\w.+-]+\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql)\b)|\+(json|xml)\b/i;

export function isTextual(mimeType: string): boolean {
  return TEXTUAL.test(mimeType);
}

/** Text we can decode: UTF-8 (or its ASCII subset, or no charset named). Other charsets are kept as base64. */
function isUtf8Text(mimeType: string): boolean {
  const charset = /;\s*charset\s*=\s*"?([\w.-]+)/i.exec(mimeType)?.[1]?.toLowerCase();
  return (
    isTextual(mimeType) &&
    (charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii')
  );
}

export function isJson(mimeType: string): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\b|\+json\b/i.test(mimeType);
}

export const EMPTY_BODY: SerializedBody = { text: '', size: 0 };

/**
 * Serializes what a handler returned the way Nest's platforms send it: objects as JSON, strings as they are,
 * binary as base64 (or, with `binaryAsJson`, as JSON: Nest's Express adapter sends every object, Buffers included,
 * through `res.json`). Streams are never read (they belong to the client). Values JSON cannot represent (cycles,
 * BigInt) are marked, never thrown. `stringify` turns an object into JSON (the redactor's serializer).
 */
export function serializeBody(
  value: unknown,
  mimeType: string,
  binaryAsJson = false,
  stringify: (value: object) => string | undefined = JSON.stringify,
): SerializedBody {
  if (value === undefined || value === null) return EMPTY_BODY;
  if (typeof value === 'string') return { text: value, size: Buffer.byteLength(value) };
  if (typeof value !== 'object') return serializeBody(String(value), mimeType);
  if (!binaryAsJson && (ArrayBuffer.isView(value) || value instanceof ArrayBuffer)) {
    const bytes = ArrayBuffer.isView(value)
      ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      : Buffer.from(value);
    return isUtf8Text(mimeType)
      ? { text: bytes.toString('utf8'), size: bytes.length }
      : { text: bytes.toString('base64'), encoding: 'base64', size: bytes.length };
  }
  if (isStream(value)) return { text: '', size: -1, comment: 'streamed body, not captured' };
  try {
    const text = stringify(value);
    if (text === undefined) return EMPTY_BODY;
    return { text, size: Buffer.byteLength(text) };
  } catch (error) {
    return { text: '', size: -1, comment: `body could not be serialized: ${(error as Error).message}` };
  }
}

const DECODERS: Record<string, (buf: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * HAR's `content.text` is the decoded body: a gzip/deflate/br-encoded binary body is decoded, its output bounded so
 * a compression bomb cannot blow up memory. Undecodable bodies stay as they were (base64).
 */
export function decodeContentEncoding(value: unknown, encoding: string | undefined, maxBytes: number): unknown {
  const decoder = encoding && DECODERS[encoding.trim().toLowerCase()];
  if (!decoder || !ArrayBuffer.isView(value)) return value;
  try {
    return decoder(Buffer.from(value.buffer, value.byteOffset, value.byteLength), { maxOutputLength: maxBytes });
  } catch {
    return value;
  }
}

function isStream(value: unknown): boolean {
  if (value instanceof Readable) return true;
  // StreamableFile (no import: its class differs between Nest versions) and other stream-like bodies.
  const v = value as { getStream?: unknown; pipe?: unknown };
  return typeof v.getStream === 'function' || typeof v.pipe === 'function';
}

/** Cuts a body to `maxBytes` (whole UTF-8 characters), keeping its real size and marking the cut. */
export function capBody(body: SerializedBody, maxBytes: number): SerializedBody {
  const limit = body.encoding === 'base64' ? Math.floor(maxBytes / 3) * 4 : maxBytes;
  if (body.text.length <= limit && Buffer.byteLength(body.text) <= limit) return body;
  let cut = Buffer.from(body.text).subarray(0, limit).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return { ...body, text: cut, comment: `truncated to ${maxBytes} of ${body.size} bytes` };
}
