import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { CapturedBody, CapturedExchange, CapturedGraphql } from '../interfaces/captured-exchange.interface';
import type { MetricsGroupInfo } from '../interfaces/metrics-group.interface';
import type { ReportedError } from '../interfaces/reported-error.interface';
import { describeError } from './reported-error';

/**
 * One HTTP exchange while it is in flight. Holds the Node request/response (for the platform hooks, until it is
 * settled), timestamps, and the bodies as captured on the wire: plain strings cut to budget, never a live object of
 * the app. The record is written from it when the response is done (src/write), not while the request runs.
 */
export class Exchange {
  private uuid?: string;
  /**
   * The record's `_id`, made on first use (a sampled-out exchange never needs one) and the same from then on, so
   * errors, outgoing calls and a response header set before the head is written can all name it.
   */
  get id(): string {
    return (this.uuid ??= randomUUID());
  }
  readonly startedAt = Date.now();
  readonly startMark = performance.now();
  /** Express `Request` (same object as `req`) or `FastifyRequest`, once seen. */
  platformRequest: unknown;
  /** The controller method and class that handle this request, once Nest resolved them. */
  handler?: (...args: unknown[]) => unknown;
  controller?: abstract new (...args: never[]) => unknown;
  /** The request body as captured (before the handler ran); `requestBodyTaken` once it was looked at. */
  requestBody?: CapturedBody;
  requestBodyTaken = false;
  /** The response body as the platform sent it; `responseBodyTaken` once it was seen. */
  responseBody?: CapturedBody;
  responseBodyTaken = false;
  /** Bytes of the response body as written (traffic metrics), taken whether or not the exchange is sampled in. */
  responseBytes?: number;
  /** A resolver of this request ran (a `graphql` execution context was seen): it is a GraphQL request. */
  graphqlSeen = false;
  /** A GraphQL request, once read at settle: its operation (the endpoint) and whether it failed (src/graphql). */
  graphql?: CapturedGraphql;
  /** The sampling draw, once made (see ExchangeRecorder.sampled). */
  sampled?: boolean;
  /** True once the record was built (or dropped): every exchange is recorded at most once. */
  settled = false;
  /**
   * Errors reported while the request was open (`_errors`), and the thrown values already seen (no duplicates).
   * Created on first use: most requests have none, and this object is made for every request.
   */
  errors?: ReportedError[];
  private reportedValues?: Set<unknown>;
  /** Outgoing calls that finished while the request was open: shipped in its HAR log as entries[1..]. */
  outgoing?: CapturedExchange[];
  /** Outgoing calls that finished after the response while the group decision was pending. */
  lateOutgoing?: Omit<CapturedExchange, 'group'>[];
  /**
   * The group decision: undefined while pending (async group function), the group when recorded, null when not
   * recorded (skipped, filtered, no group, group function failed or timed out).
   */
  group?: MetricsGroupInfo | null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.platformRequest = req;
  }

  /** Notes the handler and its class an execution context names (a filter's host names none: nothing changes). */
  noteHandler(context: { getHandler?(): unknown; getClass?(): unknown }): void {
    const handler = context.getHandler?.();
    if (typeof handler !== 'function') return;
    this.handler = handler as Exchange['handler'];
    this.controller = context.getClass?.() as Exchange['controller'];
  }

  /** Attaches an error to this request's record, once per thrown value; ignored once the record was handed over. */
  reportError(error: unknown, source: ReportedError['source'], httpException = false): void {
    if (this.settled || this.reportedValues?.has(error)) return;
    (this.reportedValues ??= new Set()).add(error);
    (this.errors ??= []).push(describeError(error, source, httpException));
  }
}
