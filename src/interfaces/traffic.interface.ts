/**
 * The exact traffic aggregates (`MetricsService.traffic()`): every exchange the module sees is counted, sampled out or
 * not, per method × route × status × consumer. Plain data: numbers, strings and arrays.
 */
export interface TrafficSnapshot {
  /** When counting started (ms since the epoch): the start of every cumulative series. */
  startTime: number;
  /** When this snapshot was taken (ms since the epoch). */
  time: number;
  /** Upper bounds of the buckets of `duration` (seconds) and of the body sizes (bytes), as exported. */
  bounds: { duration: readonly number[]; bodySize: readonly number[] };
  /**
   * How many distinct consumers (API keys a group function returned) have been counted since the app started: at most
   * `maxConsumers`, the later ones sharing the consumer `other`. Requests without a group have no consumer.
   */
  consumers: number;
  series: TrafficSeries[];
}

/** One series: the exchanges that share a method, route, status and consumer. */
export interface TrafficSeries {
  /** `http.request.method`: upper-case; methods outside the HTTP standard ones are `_OTHER`. */
  method: string;
  /** `http.route`: the route template (`/orders/:id`); undefined for requests no route matched (all share it). */
  route?: string;
  /** `http.response.status_code`; 0 when no response reached the client. */
  status: number;
  /**
   * `error.type` of an exchange that failed below status 500: `graphql` for a GraphQL answer with `errors` (the
   * status is then 200). 5xx series carry their status as `error.type` over OTLP instead.
   */
  errorType?: string;
  /**
   * Who called: the group's label, else its masked API key (`user.name` / `user.id` over OTLP); `other` past
   * `maxConsumers`; undefined for exchanges without a group (no group function, or it returned nothing).
   */
  consumer?: TrafficConsumer;
  /** Request duration, seconds (`http.server.request.duration`). */
  duration: TrafficHistogram;
  /** Request body size, bytes (`http.server.request.body.size`), of the requests whose size is known. */
  requestBodySize: TrafficHistogram;
  /** Response body size, bytes (`http.server.response.body.size`), of the responses whose size is known. */
  responseBodySize: TrafficHistogram;
}

export interface TrafficConsumer {
  /**
   * What dashboards show (the Prometheus label `consumer`): the label, else the masked key shortened to 8 hash
   * characters, `sha512-AbCdEfGh?0001` (stable; starts and ends as `id` does); `other` past `maxConsumers`.
   */
  name: string;
  /** The masked API key (`user.id`), never the raw one; `other` past `maxConsumers`. */
  id: string;
  /** The group's label, when it has one (`user.name`). */
  label?: string;
}

/** An explicit-bucket histogram: `counts[i]` values were ≤ `bounds[i]` (and > the bound before); the last is +Inf. */
export interface TrafficHistogram {
  count: number;
  sum: number;
  /** Undefined while `count` is 0. */
  min?: number;
  max?: number;
  /** One more than the bounds: the last counts what exceeded every bound. Not cumulative. */
  counts: number[];
}

/** Options of the Prometheus exporter (`prometheus: { registry }`). */
export interface TrafficPrometheusOptions {
  /**
   * A `prom-client` Registry of the app (e.g. one of several). Default: `prom-client`'s default registry (`register`),
   * from the app's own `prom-client`.
   */
  registry?: PrometheusRegistryLike;
}

/** What the module uses of a `prom-client` Registry. */
export interface PrometheusRegistryLike {
  registerMetric(metric: never): void;
  getSingleMetric(name: string): unknown;
  removeSingleMetric(name: string): void;
}
