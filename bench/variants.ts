/**
 * The benchmark's variants: bare NestJS; `noop-interceptor`, bare plus one global interceptor that only calls
 * `next.handle()` (the floor of any design that captures through Nest's interceptor pipeline, as the module does);
 * this library with everything on (headers, both bodies, 2 JSONPath rules + the default rules, a group function,
 * delivery over HTTP to the bench's sink); and the peers.
 *
 * The ablation variants (`--ablation`) cut the library's pipeline after one stage, so a change shows where its µs go:
 * - `capture-only`: exchanges are captured and handed to the record sink, which discards them (nothing written);
 * - `+format`: records are written once to their ReadMe bytes when they settle, with no redaction rule at all
 *   (`redactDefaults: false`, no JSONPath), queued and batched; each batch is discarded instead of sent;
 * - `+redact`: the same with the bench's rules (2 JSONPath rules + the defaults);
 * - `+deliver` is `nestjs-api-metrics` itself (the batches go over HTTP to the sink).
 *
 * `nestjs-api-metrics-offload` is `nestjs-api-metrics` with `offload: 'worker'` (format, redact and deliver in a worker
 * thread): compare its main-thread CPU with its process CPU. `no-interceptor` is `nestjs-api-metrics` with
 * `interceptor: false`, `offload-no-interceptor` both. `no-traffic-metrics` is `nestjs-api-metrics` with
 * `trafficMetrics: false` (the exact traffic counters off; on everywhere else). `dashboard` is `nestjs-api-metrics` with
 * `dashboard: true` and no page open (the records tapped into the ring). They run only when named in `--variants`.
 *
 * `floor` is the yardstick (#25): a hand-written minimal recorder (bench/floor.ts) doing the work of this library's
 * variant (same capture, rules, group, ReadMe records, HTTP delivery to the sink, every record delivered) plus the
 * same no-op global interceptor, since the library has one by default. `module − floor` in the same run is what our
 * design costs above the job itself.
 *
 * `otlp` is `nestjs-api-metrics` with the OpenTelemetry transport instead of ReadMe's (http/protobuf to the sink's
 * /v1/traces, which counts the spans it gets): compare its µs added with `nestjs-api-metrics`'s. `otlp-batch` is the
 * same through a subclass that overrides `send`, so records take the object path (redacted and encoded when their
 * batch goes, by the official serializer), as every OTLP record did before #25.
 *
 * `pino-http` is a reference, not a peer: a plain request logger (no bodies, no delivery), bare plus pino-http as a
 * middleware writing one JSON line per request to a file (pino's asynchronous destination), on both adapters.
 */
export const VARIANTS = [
  'bare',
  'noop-interceptor',
  'floor',
  'capture-only',
  '+format',
  '+redact',
  'nestjs-api-metrics',
  'otlp',
  'otlp-batch',
  'nestjs-api-metrics-offload',
  'no-interceptor',
  'offload-no-interceptor',
  'no-traffic-metrics',
  'dashboard',
  'readmeio',
  'moesif-nodejs',
  'apitally',
  'pino-http',
] as const;
export type Variant = (typeof VARIANTS)[number];

/** The stages that only `--ablation` (or naming them in `--variants`) runs. */
export const ABLATION: readonly Variant[] = ['capture-only', '+format', '+redact'];

/** The variants that ship ReadMe records to the sink (it counts them): this library's, and the floor. */
export const RECORDING: readonly Variant[] = [
  'floor',
  'nestjs-api-metrics',
  'otlp',
  'otlp-batch',
  'nestjs-api-metrics-offload',
  'no-interceptor',
  'offload-no-interceptor',
  'no-traffic-metrics',
  'dashboard',
];

/** Variants that run only when named in `--variants`. */
export const OPT_IN: readonly Variant[] = [
  'otlp',
  'otlp-batch',
  'nestjs-api-metrics-offload',
  'no-interceptor',
  'offload-no-interceptor',
  'no-traffic-metrics',
  'dashboard',
];

/** The peers are Express middlewares (apitally's NestJS integration too): they run on Express only. */
export const PEERS: readonly Variant[] = ['readmeio', 'moesif-nodejs', 'apitally'];

/** ~1 KB of JSON, with the two fields the library's variant redacts (`$.user.password`, `$.card.number`). */
export const PAYLOAD = {
  user: { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', password: 'not-a-real-secret' },
  card: { number: '4111111111111111', brand: 'visa' },
  items: Array.from({ length: 12 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    name: `Item number ${i}`,
    qty: i,
    price: 9.99,
  })),
};
