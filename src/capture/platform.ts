import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HarPostParam } from '../interfaces/har.interface';

/*
 * Express and Fastify differences, in one place. Every function here only reads: the user's req/res are never
 * changed. `req` is the platform request (Express Request or FastifyRequest); `raw` the Node IncomingMessage.
 */

interface PlatformRequestLike {
  raw?: IncomingMessage;
  originalUrl?: string;
  url?: string;
  ip?: string;
  protocol?: string;
  host?: string;
  body?: unknown;
  rawBody?: Buffer;
  baseUrl?: string;
  route?: { path?: unknown };
  routeOptions?: { url?: string };
  file?: unknown;
  files?: unknown;
}

export function rawResponseOf(res: unknown): ServerResponse {
  const raw = (res as { raw?: ServerResponse }).raw;
  return raw ?? (res as ServerResponse);
}

/** The route template as registered (global prefix, version and RouterModule paths included), none for 404s. */
export function routeTemplateOf(req: unknown): string | undefined {
  const r = req as PlatformRequestLike;
  if (r.routeOptions) return r.routeOptions.url || undefined;
  const path = r.route?.path;
  return typeof path === 'string' ? `${r.baseUrl ?? ''}${path}` : undefined;
}

/** Path and query as the client sent them (middleware may have rewritten `url`). */
export function originalUrlOf(raw: IncomingMessage): string {
  const url = (raw as PlatformRequestLike).originalUrl ?? raw.url ?? '/';
  // An absolute-form target (`GET http://user:pw@host/path?x HTTP/1.1`): its path and query (the origin comes apart).
  const authority = url.charCodeAt(0) === 0x2f ? undefined : ABSOLUTE_FORM.exec(url)?.[0];
  if (authority === undefined) return url;
  const rest = url.slice(authority.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** `scheme://authority` of an absolute-form request target, up to the path. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
const SCHEME = /^[a-z][a-z0-9+.-]*$/i;
/** A host as a Host header may carry it: a name, an IPv4 or a bracketed IPv6 address, and an optional port. */
const VALID_HOST = /^(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** Scheme and host honouring the app's proxy settings (`trust proxy` / `trustProxy`), as the platform computes them. */
export function originOf(req: unknown, raw: IncomingMessage): string {
  const r = req as PlatformRequestLike;
  const protocol =
    typeof r.protocol === 'string' && SCHEME.test(r.protocol)
      ? r.protocol
      : (raw.socket as { encrypted?: boolean }).encrypted
        ? 'https'
        : 'http';
  const host = (typeof r.host === 'string' && r.host) || raw.headers.host || '';
  // Never a header that could move where the path or query starts (`?`, `#`, `/`, `@`, spaces): the socket's address.
  if (VALID_HOST.test(host)) return `${protocol}://${host}`;
  const { localAddress, localPort } = raw.socket ?? {};
  const address = localAddress?.includes(':') ? `[${localAddress}]` : (localAddress ?? 'localhost');
  return `${protocol}://${address}${localPort ? `:${localPort}` : ''}`;
}

export function clientIpOf(req: unknown, raw: IncomingMessage): string {
  const ip = (req as PlatformRequestLike).ip;
  return typeof ip === 'string' ? ip : (raw.socket?.remoteAddress ?? '');
}

export function requestBodyOf(req: unknown): { body: unknown; rawBody?: Buffer } {
  const r = req as PlatformRequestLike;
  return { body: r.body, rawBody: Buffer.isBuffer(r.rawBody) ? r.rawBody : undefined };
}

interface UploadedFileLike {
  fieldname?: string;
  originalname?: string;
  filename?: string;
  mimetype?: string;
}

/** Multipart file parts as HAR params (name, fileName, contentType); the file bytes are never recorded. */
export function uploadedFilesOf(req: unknown): HarPostParam[] {
  const r = req as PlatformRequestLike;
  const files: UploadedFileLike[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collect);
    else if (value && typeof value === 'object') {
      const f = value as UploadedFileLike;
      if (typeof f.fieldname === 'string') files.push(f);
      else Object.values(value).forEach(collect); // multer's FileFieldsInterceptor: { field: File[] }
    }
  };
  collect(r.file);
  collect(r.files);
  return files.map((f) => ({
    name: f.fieldname ?? '',
    fileName: f.originalname ?? f.filename ?? '',
    contentType: f.mimetype ?? 'application/octet-stream',
  }));
}
