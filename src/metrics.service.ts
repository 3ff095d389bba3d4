import { Injectable } from '@nestjs/common';
import { currentExchange } from './capture/request-context';
import { Dispatcher, type MetricsStats } from './deliver/dispatcher';

/** The module's public handle: inject it anywhere. */
@Injectable()
export class MetricsService {
  constructor(private readonly dispatcher: Dispatcher) {}

  /** Resolves when every record captured so far was delivered or given up on. Never rejects. */
  flush(): Promise<void> {
    return this.dispatcher.flush();
  }

  /** Delivery counters: captured, sent, dropped, failed, retried, queued, inFlight. */
  stats(): MetricsStats {
    return this.dispatcher.stats();
  }

  /** The record id (`_id`) of the request being handled, or undefined outside a request. */
  currentRequestId(): string | undefined {
    return currentExchange()?.id;
  }
}
