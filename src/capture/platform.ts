import type { IncomingMessage, ServerResponse } from 'node:http';

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
  params?: unknown;
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

/**
 * An Express request whose app trusts no proxy (Express's default): its `protocol`, `host` and `ip` getters then
 * answer what the socket and the Host header say, and cost ~4.6 µs a request together (each compiles or runs the
 * trust check and parses forwarding headers), so they are read from the socket and the header directly.
 */
function trustsNoProxy(r: PlatformRequestLike, raw: IncomingMessage): boolean {
  if ((r as unknown) !== raw) return false; // Fastify: its getters are plain reads already
  const settings = (r as { app?: { settings?: Record<string, unknown> } }).app?.settings;
  return settings !== undefined && !settings['trust proxy'];
}

/** Scheme and host honouring the app's proxy settings (`trust proxy` / `trustProxy`), as the platform computes them. */
export function originOf(req: unknown, raw: IncomingMessage): string {
  const r = req as PlatformRequestLike;
  const direct = trustsNoProxy(r, raw);
  const protocol =
    !direct && typeof r.protocol === 'string' && SCHEME.test(r.protocol)
      ? r.protocol
      : (raw.socket as { encrypted?: boolean }).encrypted
        ? 'https'
        : 'http';
  const host = (!direct && typeof r.host === 'string' && r.host) || raw.headers.host || '';
  // Never a header that could move where the path or query starts (`?`, `#`, `/`, `@`, spaces): the socket's address.
  if (VALID_HOST.test(host)) return `${protocol}://${host}`;
  const { localAddress, localPort } = raw.socket ?? {};
  const address = localAddress?.includes(':') ? `[${localAddress}]` : (localAddress ?? 'localhost');
  return `${protocol}://${address}${localPort ? `:${localPort}` : ''}`;
}

export function clientIpOf(req: unknown, raw: IncomingMessage): string {
  if (trustsNoProxy(req as PlatformRequestLike, raw)) return raw.socket?.remoteAddress ?? '';
  const ip = (req as PlatformRequestLike).ip;
  return typeof ip === 'string' ? ip : (raw.socket?.remoteAddress ?? '');
}

/** The bytes the platform kept of the request body (`rawBody: true` in NestFactory.create), if any. */
export function rawBodyOf(req: unknown): Buffer | undefined {
  const raw = (req as PlatformRequestLike).rawBody;
  return Buffer.isBuffer(raw) ? raw : undefined;
}

export function parsedBodyOf(req: unknown): unknown {
  return (req as PlatformRequestLike).body;
}

/** Route parameters as a copy of strings (Express `req.params`, Fastify `request.params`). */
export function pathParamsOf(req: unknown): Record<string, string> | undefined {
  const params = (req as PlatformRequestLike).params;
  if (!params || typeof params !== 'object') return undefined;
  let copy: Record<string, string> | undefined;
  for (const key in params) {
    if (!Object.prototype.hasOwnProperty.call(params, key)) continue;
    const value = (params as Record<string, unknown>)[key];
    if (value !== undefined) (copy ??= {})[key] = String(value);
  }
  return copy;
}
