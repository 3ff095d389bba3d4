import type { MetricsRecord } from './metrics-record.interface';

/**
 * Where records go. Implement it to ship anywhere (a queue, a log, another vendor) and pass it as the `transport`
 * option. `send` is called off the request path with a batch; a rejection is logged and counted, never rethrown
 * into the app.
 */
export interface MetricsTransport {
  send(records: MetricsRecord[]): Promise<void>;
  /** Called once on application shutdown, after the last flush. */
  close?(): Promise<void>;
}
