import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * One HTTP exchange while it is in flight. Holds references and timestamps only: everything costly (HAR, redaction,
 * serialization) happens later, in batches, off the request path.
 */
export class Exchange {
  /** The record's `_id`, known from the start so errors and outgoing calls can link to it. */
  readonly id = randomUUID();
  readonly startedAt = Date.now();
  readonly startMark = performance.now();
  /** Express `Request` (same object as `req`) or `FastifyRequest`, once seen. */
  platformRequest: unknown;
  /** The controller method and class that handle this request, once Nest resolved them. */
  handler?: (...args: unknown[]) => unknown;
  controller?: abstract new (...args: never[]) => unknown;
  /** What the handler returned (or the error body Nest sends), kept as a reference. */
  responseBody: unknown;
  hasResponseBody = false;
  /** True once the record was handed over (or dropped): every exchange is recorded at most once. */
  settled = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    this.platformRequest = req;
  }
}
