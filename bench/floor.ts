/*
 * The bench's `floor`: a hand-written minimal recorder doing the work the library's bench config does, and nothing
 * more, so `module − floor` (same run, same rounds) says what our design costs above the job itself (#25).
 * Raw req/res listeners (an Express middleware / a Fastify `onRequest` hook); both bodies kept as the chunks that
 * crossed the wire (cut at 64 KiB); headers from `rawHeaders`, credentials masked (masks cached per value); the group
 * function, its masked key cached as JSON per key; the default denylist plus two JSONPath rules per body, by
 * `JSON.parse` → walk → `JSON.stringify`; one ReadMe record per exchange written as ONE template string (only the
 * variable strings through `JSON.stringify`); batches of 100 (or each second) joined and POSTed over a keep-alive agent.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Agent, ServerResponse, request, type IncomingMessage } from 'node:http';
import { DEFAULT_REDACTED_KEYS } from '../src/redact/redaction-defaults';

type Group = (req: { headers: IncomingMessage['headers'] }) => { apiKey: string; label: string; email: string };
type Chunk = string | Buffer;
interface Rec {
  req: IncomingMessage;
  start: number;
  t0: number;
  reqChunks: Chunk[];
  reqBytes: number;
  resChunks: Chunk[];
  resBytes: number;
}

const MAX_BODY = 64 * 1024;
const BATCH = 100;
const REDACTED = '"[REDACTED]"';
const DENY = new Set(DEFAULT_REDACTED_KEYS);
const S = JSON.stringify;
const CREATOR = S({ name: 'readme-metrics (node)', version: '0.1.0', comment: `${process.arch}-${process.platform}` });
const REC = Symbol('floor');
const hash = (v: string) => `sha512-${createHash('sha512').update(v).digest('base64')}`;
const cached = (map: Map<string, string>, key: string, make: (k: string) => string) => {
  let v = map.get(key);
  if (v === undefined) map.set(key, (v = make(key)));
  return v;
};
const masks = new Map<string, string>();
const groups = new Map<string, string>();

/** `value` as a JSON string for header `name`: authorization hashed, other denylisted names redacted. */
function headerValue(name: string, value: string): string {
  const lower = name.toLowerCase();
  if (lower === 'authorization') return cached(masks, value, (v) => S(hash(v)));
  return DENY.has(lower) ? REDACTED : S(value);
}

function headersJson(pairs: string[]): string {
  let out = '[';
  for (let i = 0; i < pairs.length; i += 2) {
    out += `${i ? ',' : ''}{"name":${S(pairs[i])},"value":${headerValue(pairs[i]!, pairs[i + 1]!)}}`;
  }
  return out + ']';
}

/** The denylist at any depth, then `$.user.password` and `$.card.number`. */
function walk(node: unknown): void {
  if (Array.isArray(node)) for (const x of node) walk(x);
  else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    for (const k in o) {
      if (DENY.has(k.toLowerCase())) o[k] = '[REDACTED]';
      else walk(o[k]);
    }
  }
}
function redactBody(chunks: Chunk[], type: string): string {
  const text = chunks.length === 1 ? String(chunks[0]) : chunks.map(String).join('');
  if (!type.includes('json')) return S(text);
  try {
    const doc = JSON.parse(text) as Record<string, Record<string, unknown> | undefined>;
    walk(doc);
    if (doc?.user && 'password' in doc.user) doc.user.password = '[REDACTED]';
    if (doc?.card && 'number' in doc.card) doc.card.number = '[REDACTED]';
    return S(S(doc));
  } catch {
    return S(text);
  }
}

function keep(list: Chunk[], bytes: number, chunk: unknown): number {
  if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk)) return bytes;
  if (bytes < MAX_BODY) list.push(chunk);
  return bytes + chunk.length;
}

/** Installs the recorder on the Nest app's HTTP server; `close()` sends what is left. */
export function installFloor(
  app: { getHttpAdapter(): { getInstance(): unknown } },
  adapter: string,
  sink: string,
  group: Group,
) {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const url = new URL('/v1/request', sink);
  const auth = `Basic ${Buffer.from('bench-project-key:').toString('base64')}`;
  let batch: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const send = () => {
    if (!batch.length) return;
    const body = `[${batch.join(',')}]`;
    batch = [];
    const sent = new Promise<void>((resolve) => {
      const req = request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: auth },
      });
      req.on('response', (res) => res.resume().on('end', resolve)).on('error', () => resolve());
      req.end(body);
    }).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  };
  const timer = setInterval(send, 1000).unref();

  const settle = (res: ServerResponse, r: Rec) => {
    const req = r.req;
    const time = performance.now() - r.t0;
    const g = group(req);
    const id = cached(groups, g.apiKey, (k) => S(`${hash(k)}?${k.slice(-4)}`));
    const origin = `http://${req.headers.host ?? 'localhost'}`;
    const q = req.url!.indexOf('?');
    // The response head as it went to the socket (Fastify writes it with writeHead, past getHeader).
    const resPairs: string[] = [];
    let resType = '';
    const head = (res as unknown as { _header: string | null })._header ?? '';
    for (let at = head.indexOf('\r\n') + 2, end; (end = head.indexOf('\r\n', at)) > at; at = end + 2) {
      const colon = head.indexOf(':', at);
      const name = head.slice(at, colon);
      const value = head.slice(colon + 1, end).trim();
      if (name.length === 12 && name.toLowerCase() === 'content-type') resType = value;
      resPairs.push(name, value);
    }
    const reqType = req.headers['content-type'] ?? '';
    const postData = r.reqChunks.length
      ? `,"postData":{"mimeType":${S(reqType)},"text":${redactBody(r.reqChunks, reqType)}}`
      : '';
    batch.push(
      `{"_id":"${randomUUID()}","_version":3,"group":{"id":${id},"label":${S(g.label)},"email":${S(g.email)}},"clientIPAddress":${S(req.socket.remoteAddress ?? '')},"development":false,"request":{"log":{"version":"1.2","creator":${CREATOR},"entries":[{"pageref":${S(origin + (q < 0 ? req.url! : req.url!.slice(0, q)))},"startedDateTime":"${new Date(r.start).toISOString()}","time":${time},"request":{"method":${S(req.method)},"url":${S(origin + req.url!)},"httpVersion":"HTTP/${req.httpVersion}","cookies":[],"headers":${headersJson(req.rawHeaders)},"queryString":[]${postData},"headersSize":-1,"bodySize":${r.reqBytes}},"response":{"status":${res.statusCode},"statusText":${S(res.statusMessage)},"httpVersion":"HTTP/1.1","cookies":[],"headers":${headersJson(resPairs)},"content":{"size":${r.resBytes},"mimeType":${S(resType)},"text":${redactBody(r.resChunks, resType)}},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{"send":0,"wait":${time},"receive":0}}]}}}`,
    );
    if (batch.length >= BATCH) send();
  };

  const open = (req: IncomingMessage, res: ServerResponse) => {
    const r: Rec = {
      req,
      start: Date.now(),
      t0: performance.now(),
      reqChunks: [],
      reqBytes: 0,
      resChunks: [],
      resBytes: 0,
    };
    (res as unknown as Record<symbol, Rec>)[REC] = r;
    req.on('data', (c: Buffer) => (r.reqBytes = keep(r.reqChunks, r.reqBytes, c)));
    res.once('finish', () => settle(res, r));
  };
  // The response body as it is written: write/end of Node's ServerResponse, for the recorded responses only.
  const proto = ServerResponse.prototype as unknown as Record<
    'write' | 'end',
    (this: ServerResponse, ...a: unknown[]) => unknown
  >;
  for (const m of ['write', 'end'] as const) {
    const original = proto[m];
    proto[m] = function (this: ServerResponse, ...args: unknown[]) {
      const r = (this as unknown as Record<symbol, Rec | undefined>)[REC];
      if (r) r.resBytes = keep(r.resChunks, r.resBytes, args[0]);
      return original.apply(this, args);
    };
  }
  const server = app.getHttpAdapter().getInstance() as {
    use?(fn: (req: IncomingMessage, res: ServerResponse, next: () => void) => void): void;
    addHook?(
      name: 'onRequest',
      fn: (req: { raw: IncomingMessage }, reply: { raw: ServerResponse }, done: () => void) => void,
    ): void;
  };
  if (adapter === 'fastify') server.addHook!('onRequest', (req, reply, done) => (open(req.raw, reply.raw), done()));
  else server.use!((req, res, next) => (open(req, res), next()));

  return {
    async close(): Promise<void> {
      clearInterval(timer);
      send();
      await Promise.all(inFlight);
      agent.destroy();
    },
  };
}
