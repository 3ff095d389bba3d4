import { STATUS_CODES } from 'node:http';
import type { CapturedExchange } from '../interfaces/captured-exchange.interface';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { RecordSink } from '../interfaces/record-sink.interface';
import type { MetricsLogger } from '../metrics.logger';
import type { ResolvedMetricsOptions } from '../metrics.options';
import type { TrafficCounter } from '../traffic/traffic-counter';
import type { TrafficMeasure } from '../traffic/traffic-measure';
import type { GraphqlCapture } from '../graphql/graphql-capture';
import type { BodyTaker } from './body-taker';
import type { Exchange } from './exchange';
import { ANONYMOUS, type GroupResolver, isPromiseLike } from './group-resolver';
import type { RoutePolicy } from './route-policy';
import type { SkipLog } from './skip-log';
import { pairsOf, snapshotOf, type SettledResponse } from './snapshot';

/** Status and headers of a response about to be written (backgroundWorkerMode false). */
export interface PendingResponse {
  status: number;
  headers: Record<string, number | string | string[] | undefined>;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Closes an exchange exactly once: when the response is done or the client went away (background mode), or just
 * before the response is written (backgroundWorkerMode false). Applies the route's rules, counts it (traffic), runs
 * the group function (bounded by `timeout`) and hands the record to the sink; outgoing calls follow their request.
 */
export class ExchangeSettler {
  /** Finished exchanges whose async group function has not answered yet. */
  private readonly pendingGroups = new Set<Promise<void>>();

  constructor(
    private readonly options: ResolvedMetricsOptions,
    private readonly policy: RoutePolicy,
    private readonly bodies: BodyTaker,
    private readonly dispatcher: RecordSink,
    private readonly traffic: TrafficCounter,
    private readonly groups: GroupResolver,
    private readonly graphql: GraphqlCapture | undefined,
    private readonly logger: MetricsLogger,
    private readonly skipLog: SkipLog,
  ) {}

  /**
   * Resolves once every finished exchange was handed to delivery (or dropped), so a flush includes requests whose
   * async group function is still running. Bounded by `timeoutMs`; never rejects.
   */
  async whenHandedOver(timeoutMs: number): Promise<void> {
    if (!this.pendingGroups.size) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled([...this.pendingGroups]), timeout]);
    clearTimeout(timer);
  }

  /** Background mode: the response is complete (or abandoned); hand the exchange to delivery. */
  close(exchange: Exchange): void {
    if (exchange.settled) return;
    const { req, res } = exchange;
    const aborted = !res.writableFinished;
    // An upload the client abandoned mid-body got no answer, whatever the platform tried to write after it.
    const status = res.headersSent && !(aborted && !req.complete) ? res.statusCode : 0;
    const head = (res as unknown as { _header?: unknown })._header;
    void this.settle(exchange, {
      status,
      statusText: status ? res.statusMessage || STATUS_CODES[status] || '' : '',
      responseHead: typeof head === 'string' ? head : undefined,
      responseHeaders: typeof head === 'string' ? [] : pairsOf(res.getHeaders()),
      aborted,
    });
  }

  /** backgroundWorkerMode false: record and deliver before the response is written. Never rejects. */
  async deliverBeforeResponse(exchange: Exchange, pending: PendingResponse): Promise<void> {
    if (exchange.settled) return;
    await this.settle(
      exchange,
      {
        status: pending.status,
        statusText: STATUS_CODES[pending.status] ?? '',
        responseHeaders: pairsOf(pending.headers),
        aborted: false,
      },
      true,
    );
  }

  /**
   * Builds the record (plain strings, now: nothing of the app is read later), decides whether and under which
   * group it is recorded, and hands it over. Synchronous unless the group function returns a promise, which gets
   * `timeout` ms to settle. Never throws or rejects.
   */
  private settle(exchange: Exchange, response: SettledResponse, awaitDelivery = false): Promise<void> | undefined {
    exchange.settled = true;
    try {
      const rules = this.policy.rulesFor(exchange);
      if (rules.skip || !this.policy.isAllowedHost(exchange.req) || this.policy.isExcluded(exchange)) {
        return this.decide(exchange, null);
      }
      const sampledOut = !this.policy.sampled(exchange, true) && response.status < 500;
      // GraphQL: the operation is the endpoint, of the record and of its traffic series, so it is read before
      // counting (for sampled-out requests too when they are counted). Introspection queries and WebSocket
      // upgrades on a GraphQL path are neither recorded nor counted.
      if ((!sampledOut || this.traffic.enabled) && this.graphql?.applies(exchange) && !this.readGraphql(exchange)) {
        return this.decide(exchange, null);
      }
      // Counted whether sampled in or not (sampling decides what is shipped); the consumer needs the group.
      const measure = this.traffic.measure(exchange, response.status);
      if (sampledOut) {
        this.dispatcher.countSampledOut();
        this.decide(exchange, null);
        if (!measure) return undefined;
      }
      const group = this.groups.resolve(rules.group, exchange.platformRequest);
      if (group === undefined) {
        this.traffic.count(measure, undefined);
        return sampledOut ? undefined : this.decide(exchange, null);
      }
      let captured: ReturnType<typeof snapshotOf> | undefined;
      if (!sampledOut) {
        this.bodies.takeRequestBody(exchange, true);
        captured = snapshotOf(exchange, response, rules);
      }
      if (!isPromiseLike(group)) return this.handOver(exchange, captured, group, awaitDelivery, measure);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(resolve, this.options.timeout, TIMED_OUT);
        timer.unref();
      });
      const pending: Promise<void> = Promise.race([group, deadline])
        .then(
          (resolved) => {
            if (resolved !== TIMED_OUT) {
              return this.handOver(
                exchange,
                captured,
                resolved as MetricsGroupInfo | undefined,
                awaitDelivery,
                measure,
              );
            }
            this.traffic.count(measure, undefined);
            if (captured) this.groupTimedOut(exchange);
          },
          (error: unknown) => {
            this.traffic.count(measure, undefined);
            this.groupFailed(exchange, error);
          },
        )
        .finally(() => {
          clearTimeout(timer);
          this.pendingGroups.delete(pending);
        });
      this.pendingGroups.add(pending);
      // A sampled-out exchange waits for its group only to be counted: never the response (backgroundWorkerMode false).
      return captured ? pending : undefined;
    } catch (error) {
      // Nothing from the module may reach the app: the record is lost, the request is not.
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
      this.decide(exchange, null);
      return undefined;
    }
  }

  private readGraphql(exchange: Exchange): boolean {
    this.bodies.takeRequestBody(exchange, true);
    return this.graphql!.read(exchange);
  }

  /** `captured` undefined: a sampled-out exchange, only counted. */
  private handOver(
    exchange: Exchange,
    captured: Omit<CapturedExchange, 'group'> | undefined,
    group: MetricsGroupInfo | undefined,
    awaitDelivery: boolean,
    measure?: TrafficMeasure,
  ): Promise<void> | undefined {
    // Without a group function (ANONYMOUS) the exchange has no consumer.
    this.traffic.count(measure, group === ANONYMOUS ? undefined : group);
    if (!captured) return undefined;
    try {
      if (!group) return this.decide(exchange, null);
      // The snapshot is this exchange's own object, made at settle for this record: completed, not copied.
      const record = captured as CapturedExchange;
      record.group = group;
      record.outgoing = exchange.outgoing;
      if (this.options.debug) {
        this.logger.debug(
          `captured ${record.method} ${record.url} -> ${record.status} (${record.durationMs.toFixed(2)} ms)`,
        );
      }
      if (awaitDelivery) {
        const delivered = this.dispatcher.deliverNow(record);
        this.decide(exchange, group);
        return delivered;
      }
      this.dispatcher.enqueue(record);
      this.decide(exchange, group);
    } catch (error) {
      this.logger.errorOnce('capture', 'Could not record an exchange', error);
      this.decide(exchange, null);
    }
    return undefined;
  }

  /**
   * Records the group decision; outgoing calls that finished after the response while it was pending follow it.
   * Drops the exchange's references to the app's request and response.
   */
  private decide(exchange: Exchange, group: MetricsGroupInfo | null): undefined {
    exchange.group = group;
    const late = exchange.lateOutgoing;
    exchange.lateOutgoing = undefined;
    if (group && late) for (const call of late) this.dispatcher.enqueue({ ...call, group });
    return undefined;
  }

  private groupFailed(exchange: Exchange, error: unknown): void {
    this.decide(exchange, null);
    this.logger.errorOnce('group', 'The group function threw; the exchange was not recorded', error);
    this.skipLog.note('the group function threw');
  }

  private groupTimedOut(exchange: Exchange): void {
    this.decide(exchange, null);
    this.dispatcher.countGroupTimeout();
    this.logger.errorOnce(
      'group-timeout',
      `The group function did not settle within ${this.options.timeout} ms (the "timeout" option); the exchange was not recorded`,
    );
  }

  /**
   * An outgoing call finished. While its request is open it joins that request's record; after, it is shipped as a
   * record of its own (with `_parentId`) under the request's final group; if the request is not recorded, neither
   * is it. Calls made outside any request are not recorded: there is nothing to link them to.
   */
  recordOutgoing(parent: Exchange | undefined, call: Omit<CapturedExchange, 'group'>): void {
    if (!parent) return;
    if (!parent.settled) {
      (parent.outgoing ??= []).push({ ...call, group: ANONYMOUS });
      return;
    }
    if (parent.group === null) return;
    if (parent.group === undefined) {
      (parent.lateOutgoing ??= []).push(call); // the group function is still running: wait for its answer
      return;
    }
    this.dispatcher.enqueue({ ...call, group: parent.group });
  }
}
