import type { MetricsGraphqlOptions } from './metrics-graphql-options.interface';
import type { MetricsGroupFn } from './metrics-group.interface';
import type { ExchangeTransport, MetricsTransport } from './metrics-transport.interface';
import type { TrafficPrometheusOptions } from './traffic.interface';

/**
 * A path not to record, matched against the route template (`/users/:id`, global prefix and version included) or,
 * for requests no route matched, the path the client asked for (query dropped). `*` matches any run of characters,
 * `/` included: `/internal/*` matches `/internal/a/b`. A trailing `/` is ignored. `method`: only these methods.
 */
export type MetricsExcludeRule = string | { path: string; method?: string | string[] };

/** Options of `MetricsModule.forRoot()` / `forRootAsync()`. Validated at startup; a bad value stops the app with a clear error. */
export interface MetricsModuleOptions {
  /** ReadMe project API key. Required unless `transport` is given. */
  apiKey?: string;
  /** ReadMe Metrics server; records are POSTed to `{baseUrl}/v1/request`. Default `https://metrics.readme.io`. */
  baseUrl?: string;
  /**
   * Your ReadMe project's log URL, e.g. `https://example.readme.io`. When set, each response whose exchange will be
   * recorded gets an `x-documentation-url: {baseLogUrl}/logs/{record _id}` header, so whoever reads a surprising
   * answer can open its log in ReadMe. Only on requests a route handles, and never on `@SkipMetrics()`, `exclude`d,
   * sampled-out or `allowedHttpHosts`-filtered ones. Opt-in: the app's responses change only when it is set. Not
   * set by default.
   */
  baseLogUrl?: string;
  /**
   * HTTP(S) proxy for the calls to `baseUrl`, e.g. `http://user:pass@proxy.corp:3128`; `false`: always connect
   * directly. Default: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the environment, as axios and curl read them.
   */
  proxy?: string | false;
  /**
   * Tells who made each request. `null`/`undefined` from it means "do not record this exchange"; a throwing
   * function skips the record (logged once) and never breaks the request. Overridden per controller or handler by
   * `@MetricsGroup()`. Without any group function, every exchange is recorded under the group
   * `{ apiKey: 'anonymous', label: 'Anonymous' }`.
   */
  group?: MetricsGroupFn;
  /** Send as soon as this many records are queued. Default 10. */
  bufferLength?: number;
  /** Also send whatever is queued after this many ms, so a quiet API's records never wait forever. Default 1000. */
  flushInterval?: number;
  /** Marks records as development data (ReadMe keeps them apart from production). Default false. */
  developmentMode?: boolean;
  /**
   * true (default): the response never waits for delivery. false: delivery of the exchange's record is awaited
   * before the response is written (serverless, where work after the response may never run).
   */
  backgroundWorkerMode?: boolean;
  /**
   * ms to connect and send a batch (past it: retried); once sent, its answer is awaited up to 3 × timeout and never
   * resent. Also the deadline of an async group function. Default 3000.
   */
  timeout?: number;
  /** Only requests whose Host header (port dropped, case-insensitive) is listed are recorded. Default: all. */
  allowedHttpHosts?: string[];
  /** Version of your service, carried in every record as the HAR entry field `_serviceVersion`. */
  serviceVersion?: string;
  /** Tags carried in every record as the HAR entry field `_tags`. */
  tags?: string[];
  /** Log each captured exchange and each delivery (status, count, ms) through Nest's Logger. Default false. */
  debug?: boolean;
  /**
   * Observe every `HttpService` (`@nestjs/axios`) of the app: calls made while handling a request are recorded and
   * linked to it (`_parentId`). Default true. Any other axios instance: `MetricsService.observeAxios(instance)`.
   */
  captureOutgoing?: boolean;
  /**
   * Where records go instead of ReadMe: `HarFileTransport` or any `MetricsTransport`; `OtlpTransport` /
   * `ApitoolkitTransport` (or any `ExchangeTransport`) for OpenTelemetry spans.
   */
  transport?: MetricsTransport | ExchangeTransport;

  /**
   * Key names whose values are replaced by `"[REDACTED]"` in request and response headers (case-insensitive),
   * query parameters, form fields and top-level JSON body properties. Wins over `allowlist`.
   */
  denylist?: string[];
  /** Only these key names keep their values (same places as `denylist`); every other value becomes `"[REDACTED]"`. */
  allowlist?: string[];
  /** Header names (case-insensitive) whose values are replaced by `"[REDACTED]"`, in requests and responses. */
  redactHeaders?: string[];
  /** JSONPath expressions (e.g. `$.user.password`, `$..token`) redacted in JSON and form request bodies. */
  redactRequestBody?: string[];
  /** JSONPath expressions redacted in JSON response bodies. */
  redactResponseBody?: string[];
  /**
   * Redact well-known secrets with no configuration: credential headers and keys such as `password`, `token`,
   * `secret`, `api_key` anywhere in bodies and query strings (see docs/redaction.md). Default true.
   */
  redactDefaults?: boolean;

  /** Most bytes kept of each request or response body; longer bodies are cut and marked. Default 65536. */
  maxBodyBytes?: number;
  /** Most records waiting for delivery; past it the oldest are dropped and counted. Default 10000. */
  maxQueueSize?: number;
  /**
   * Most memory held by records waiting for delivery and in flight: their strings (bodies are cut to `maxBodyBytes`
   * at capture) at 2 bytes a character plus 1 KiB a record, counted twice while in flight (captured and formatted);
   * past it the oldest are dropped and counted. Default 8388608 (8 MiB).
   */
  maxQueueBytes?: number;
  /** Most delivery calls in flight at once. Default 4. */
  maxConcurrentRequests?: number;
  /** Most ms spent flushing on application shutdown. Default 5000. */
  shutdownTimeout?: number;

  /**
   * false: the module records nothing, needs no `apiKey`, and registers nothing on the request path (no middleware,
   * hook, guard, interceptor or filter); `MetricsService` still works (`stats()` stays at zero). For unit/e2e tests
   * and local runs, e.g. `enabled: process.env.NODE_ENV === 'production'`. Default true.
   */
  enabled?: boolean;
  /**
   * false: the module registers no global interceptor. Nest's interceptor pipeline is the costliest layer a request
   * crosses (a no-op global interceptor alone added 7-29 µs of CPU per request on Node 24 at saturation, see
   * docs/performance.md), and the platform hooks, the guard and the exception filter record everything else. What is
   * given up: an error a handler throws that one of your controller- or method-scoped exception filters answers is not
   * attached to the record (our global filter never sees it) unless that filter's `catch` has `@ReportToMetrics()`
   * or you call `MetricsService.reportError()`. Default true.
   */
  interceptor?: boolean;
  /**
   * Routes never recorded, without decorators (e.g. third-party controllers): `['/health', { path: '/internal/*',
   * method: 'GET' }]`. Matched against the route template, global prefix and version included (see
   * `MetricsExcludeRule`); compiled once at startup. Default: none.
   */
  exclude?: MetricsExcludeRule[];
  /**
   * Share of exchanges recorded, from 0 to 1 (0.1: one in ten, drawn at random per request). Responses with a 5xx
   * status are always recorded. `@MetricsSample(rate)` sets it per controller or handler. Sampled-out exchanges cost
   * the draw only, and are counted in `stats().sampledOut`. Default 1.
   */
  sampleRate?: number;
  /**
   * false: request bodies are not recorded (the HAR `postData` keeps the MIME type, with a comment saying so).
   * `@MetricsCapture({ requestBody })` sets it per controller or handler. Default true.
   */
  captureRequestBody?: boolean;
  /**
   * false: response bodies are not recorded (HAR `content` keeps MIME type and size, with a comment saying so).
   * `@MetricsCapture({ responseBody })` sets it per controller or handler. Default true.
   */
  captureResponseBody?: boolean;
  /**
   * `'worker'`: formatting, redaction and delivery run in one `worker_thread`; the main thread only captures and
   * posts each batch of captured exchanges (plain strings) to it, every 25 ms or 64 records. It takes that work
   * off the event loop that serves requests (in the bench, 50-170 µs of main-thread CPU a request, a quarter to
   * two fifths of the module's), for the same total CPU, ~100 ms of startup and 9-18 MB for the thread (Node 20-24). Only built-in transports (ReadMe,
   * `HarFileTransport`, `OtlpTransport`, `ApitoolkitTransport`, not subclassed) can be rebuilt in the worker: a
   * custom `transport` (functions cannot cross threads) stops the app at startup with a `MetricsOptionsError`.
   * `maxQueueSize` / `maxQueueBytes` count what both threads hold. Default `false` (everything on the main thread).
   */
  offload?: false | 'worker';

  /**
   * Exact traffic metrics beside the records: every exchange is counted (sampled out or not; `@SkipMetrics()` and
   * `exclude` routes are not) per method × route template × status × consumer, with duration and body-size
   * histograms; `MetricsService.traffic()` returns them, `OtlpTransport` / `ApitoolkitTransport` export them as OTLP
   * metrics, `prometheus` serves them to Prometheus. Counting per consumer calls the group function for sampled-out
   * exchanges too. false: nothing is counted or exported, and sampled-out exchanges skip the group function. Default true.
   */
  trafficMetrics?: boolean;
  /**
   * Most distinct consumers the traffic metrics keep apart (by API key); later ones are counted as `other`. Bounds the
   * series count and memory. Default 1000.
   */
  maxConsumers?: number;
  /**
   * ms between two exports of the traffic metrics over OTLP (OtlpTransport, ApitoolkitTransport); false: no OTLP
   * metrics (e.g. a collector without a metrics pipeline), Prometheus and `traffic()` unchanged. Default 60000.
   */
  metricsInterval?: number | false;
  /**
   * Aggregation temporality of the OTLP traffic metrics: `'cumulative'` (totals since start, what Prometheus-style
   * backends expect) or `'delta'` (what changed since the last accepted export). Default `'cumulative'`.
   */
  metricsTemporality?: 'cumulative' | 'delta';
  /**
   * true: the traffic metrics join your app's own `prom-client` default registry as collect-on-scrape histograms
   * (`http_server_request_duration_seconds`, `http_server_request_body_size_bytes`,
   * `http_server_response_body_size_bytes`), so the app's `/metrics` endpoint serves them; `{ registry }`: that
   * registry. prom-client is not bundled: a missing one stops the app at startup. Default false.
   */
  prometheus?: boolean | TrafficPrometheusOptions;
  /**
   * GraphQL requests (Apollo or Mercurius, through `@nestjs/graphql`) are recorded one per HTTP request, named by
   * their operation (`query GetOrder`), failed when the response has `errors`, and with secret arguments and their
   * variables redacted in the document (docs/graphql.md). `paths`: more paths it is served on (default
   * `['/graphql']`); `introspection`: record introspection queries (default false). `false`: GraphQL requests are
   * recorded as plain HTTP exchanges (secret literals inside documents are then NOT redacted).
   */
  graphql?: false | MetricsGraphqlOptions;
  /**
   * A live page served by the app itself at `/api-metrics` (or `{ path }`): exact traffic per route, consumer and
   * status over time, the recent records (redacted, as written) with their bodies, errors and outgoing calls, and
   * delivery health. Only clients on a loopback address see it (the socket's address, never a header); others get
   * the app's 404. `{ allow }` opens it to your own check. Needs `enabled`. See docs/dashboard.md. Default false.
   */
  dashboard?: boolean | MetricsDashboardOptions;
}

/** `dashboard: { ... }`: where the page is served and who may see it. */
export interface MetricsDashboardOptions {
  /**
   * Path of the page; its script, style and JSON are under it. Letters, digits and `._~-` between slashes; the app's
   * global prefix is not added. Default `/api-metrics`.
   */
  path?: string;
  /**
   * Who may see the page, instead of "loopback clients only": called with the platform's request (Express `Request`,
   * Fastify `FastifyRequest`) for every request of the page; only `true` (or a promise of it, within `timeout` ms)
   * lets it through, anything else, a throw included, answers the app's 404.
   */
  allow?: (req: any) => boolean | Promise<boolean>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /**
   * Bytes of recent records kept for the page, in one ring allocated when the first record is written; older records
   * are overwritten. Default 4 MB (4194304).
   */
  maxRecordBytes?: number;
}
