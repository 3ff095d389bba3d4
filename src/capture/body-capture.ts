import { Readable } from 'node:stream';
import { brotliDecompressSync, constants, gunzipSync, inflateSync } from 'node:zlib';
import type { CapturedBody } from '../interfaces/captured-exchange.interface';
import type { HarPostParam } from '../interfaces/har.interface';

/*
 * Takes a body at the moment it crosses the wire and keeps at most `maxBytes` of it, as a string of its own: a cut
 * string or Buffer must not keep its (possibly huge) parent alive, so the kept part is always copied. Nothing here
 * mutates or keeps what it is given.
 */

const TEXTUAL =
  /^(text\/|application\/(?:[\w.+-]+\+)?(?:json|xml|javascript|x-www-form-urlencoded|graphql)\b)|\+(json|xml)\b/i;

/** Text we can decode: UTF-8 (or its ASCII subset, or no charset named). Other charsets are kept as base64. */
function isUtf8Text(mimeType: string): boolean {
  if (!TEXTUAL.test(mimeType)) return false;
  const charset = /;\s*charset\s*=\s*"?([\w.-]+)/i.exec(mimeType)?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii';
}

/** A string body: the first `maxBytes` bytes (whole UTF-8 characters), copied. `size` when the caller knows it. */
export function captureString(
  text: string,
  maxBytes: number,
  source: CapturedBody['source'] = 'wire',
  size = -1,
): CapturedBody {
  // A string of n UTF-16 units has at most 3n UTF-8 bytes: most bodies are known to fit without counting.
  if (text.length * 3 <= maxBytes) {
    return { text, size: size >= 0 ? size : Buffer.byteLength(text), truncated: false, source };
  }
  if (text.length <= maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes <= maxBytes) return { text, size: size >= 0 ? size : bytes, truncated: false, source };
  }
  // Never measure or copy more than the budget: a 100 MB answer costs what a maxBytes one does.
  const head = Buffer.from(text.slice(0, maxBytes), 'utf8');
  let cut = head.toString('utf8', 0, Math.min(head.length, maxBytes));
  if (cut.endsWith('\uFFFD') && !text.slice(0, cut.length).endsWith('\uFFFD')) cut = cut.slice(0, -1);
  // The whole size, when counting it is cheap; else the caller's (Content-Length) or unknown.
  const whole = size >= 0 ? size : text.length <= 1 << 20 ? Buffer.byteLength(text) : -1;
  return { text: cut, size: whole, truncated: true, source };
}

/** Bytes: UTF-8 text for textual types, base64 otherwise; at most `maxBytes` of them, copied. */
export function captureBytes(
  bytes: Uint8Array,
  mimeType: string,
  maxBytes: number,
  size = bytes.byteLength,
): CapturedBody {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const truncated = buf.length > maxBytes;
  const kept = truncated ? buf.subarray(0, maxBytes) : buf;
  if (isUtf8Text(mimeType)) {
    let text = kept.toString('utf8');
    if (truncated && text.endsWith('\uFFFD')) text = text.slice(0, -1);
    return { text, size, truncated, source: 'wire' };
  }
  return { text: kept.toString('base64'), encoding: 'base64', size, truncated, source: 'wire' };
}

const DECODERS: Record<string, typeof gunzipSync> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * HAR's `content.text` is the decoded body: a gzip/deflate/br-encoded answer is decoded, its output bounded so a
 * compression bomb cannot blow up memory. Undecodable bodies stay as they were (base64).
 */
export function captureEncoded(
  bytes: Uint8Array,
  contentEncoding: string,
  mimeType: string,
  maxBytes: number,
): CapturedBody {
  const decoder = DECODERS[contentEncoding.trim().toLowerCase()];
  if (!decoder) return captureBytes(bytes, mimeType, maxBytes);
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const flush = decoder === brotliDecompressSync ? constants.BROTLI_OPERATION_FLUSH : constants.Z_SYNC_FLUSH;
    const decoded = decoder(buf, { maxOutputLength: maxBytes + 4, finishFlush: flush });
    return { ...captureBytes(decoded, mimeType, maxBytes), size: bytes.byteLength };
  } catch {
    return captureBytes(bytes, mimeType, maxBytes);
  }
}

/** A request body the platform parsed without keeping its bytes: JSON of the parsed value, taken once. */
export function snapshotParsed(value: unknown, maxBytes: number, size: number): CapturedBody | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return captureString(value, maxBytes, 'wire', size);
  if (ArrayBuffer.isView(value)) return captureBytes(value as Uint8Array, '', maxBytes, size);
  if (isStream(value))
    return { text: '', size, truncated: false, source: 'parsed', comment: 'streamed body, not captured' };
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return undefined;
    return captureString(text, maxBytes, 'parsed', size);
  } catch (error) {
    return {
      text: '',
      size,
      truncated: false,
      source: 'parsed',
      comment: `body could not be serialized: ${(error as Error).message}`,
    };
  }
}

export function isStream(value: unknown): boolean {
  if (value instanceof Readable) return true;
  // StreamableFile (no import: its class differs between Nest versions) and other stream-like bodies.
  const v = value as { getStream?: unknown; pipe?: unknown };
  return typeof v.getStream === 'function' || typeof v.pipe === 'function';
}

interface UploadedFileLike {
  fieldname?: string;
  originalname?: string;
  filename?: string;
  mimetype?: string;
}

/** Multipart file parts as HAR params (name, fileName, contentType); the file bytes are never recorded. */
export function uploadedFilesOf(req: unknown): HarPostParam[] {
  const r = req as { file?: unknown; files?: unknown };
  const files: UploadedFileLike[] = [];
  const collect = (value: unknown, depth: number): void => {
    if (depth > 3) return;
    if (Array.isArray(value)) for (const v of value) collect(v, depth + 1);
    else if (value && typeof value === 'object') {
      const f = value as UploadedFileLike;
      if (typeof f.fieldname === 'string') files.push(f);
      else for (const v of Object.values(value)) collect(v, depth + 1); // multer's FileFieldsInterceptor
    }
  };
  collect(r.file, 0);
  collect(r.files, 0);
  return files.map((f) => ({
    name: String(f.fieldname ?? ''),
    fileName: String(f.originalname ?? f.filename ?? ''),
    contentType: String(f.mimetype ?? 'application/octet-stream'),
  }));
}

/** A body the rules leave out: its size is kept, its bytes never taken. */
export function omittedBody(size: number, option: 'captureRequestBody' | 'captureResponseBody'): CapturedBody {
  return { text: '', size, truncated: false, source: 'wire', comment: `body not recorded (${option})` };
}
