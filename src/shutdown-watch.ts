import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RECORD_SINK, type RecordSink } from './interfaces/record-sink.interface';
import { METRICS_RESOLVED_OPTIONS } from './metrics.constants';
import { MetricsLogger } from './metrics.logger';
import type { ResolvedMetricsOptions } from './metrics.options';

/** The warning when nothing handles SIGTERM (exported for the tests, which look for it). */
export const NO_SHUTDOWN_HOOKS_WARNING =
  'No shutdown hooks: a SIGTERM (docker stop, Kubernetes, systemd, PM2) ends the process at once and the records ' +
  'still queued are lost without a word. Add app.enableShutdownHooks() in main.ts, before app.listen() ' +
  '(app.close() flushes them too).';

/**
 * Records lost without a word, made visible (the one Nest shell piece for it):
 *
 * - At startup, once the app listens (after what `main.ts` does right after `app.listen()`), it warns once when
 *   nothing listens to SIGTERM. That is exactly when a SIGTERM loses the queued records: with no listener Node ends
 *   the process at once, before any JavaScript runs. `app.enableShutdownHooks()` adds Nest's listener (NestJS 11 and 12
 *   alike: `process.on(signal, …)`), so does an app's own handler; either way the process is no longer killed outright,
 *   and we cannot tell a handler that closes the app from one that does not, so we only warn when there is none. This
 *   reads public process state, not Nest internals (`shutdownCleanupRef` in 11, `shutdownCleanupRefs` in 12).
 * - If the process ends anyway without `app.close()` (the event loop ran dry: our timers never keep it alive; or
 *   a call to `process.exit`), it counts what was still queued or in flight, and says so once. Node runs nothing after a
 *   fatal signal, so that case is what the startup warning is for. `app.close()` counts what its bounded flush left
 *   itself (the dispatcher's "Shutdown: N records not delivered").
 */
@Injectable()
export class ShutdownWatch implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new MetricsLogger();
  private closed = false;
  private reported = false;
  private readonly onEnd = () => this.reportUnsent();
  private listening?: { server: { off(event: string, fn: () => void): unknown }; fn: () => void };
  private check?: NodeJS.Immediate;

  constructor(
    @Inject(METRICS_RESOLVED_OPTIONS) private readonly options: ResolvedMetricsOptions,
    @Inject(RECORD_SINK) private readonly sink: RecordSink,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    // Nothing is queued when disabled, or when each record is delivered before its response (backgroundWorkerMode).
    if (!this.options.enabled || !this.options.backgroundWorkerMode) return;
    process.on('beforeExit', this.onEnd).on('exit', this.onEnd);
    const server = this.adapterHost.httpAdapter?.getHttpServer() as
      | {
          listening?: boolean;
          once(event: string, fn: () => void): unknown;
          off(event: string, fn: () => void): unknown;
        }
      | undefined;
    // `main.ts` may enable the hooks after `await app.listen()`: look once what it did right after (the next turn).
    const look = () => {
      this.listening = undefined;
      this.check = setImmediate(() => this.warnWithoutHooks());
      this.check.unref();
    };
    if (server && typeof server.once === 'function' && !server.listening) {
      this.listening = { server, fn: look };
      server.once('listening', look);
    } else {
      look();
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    if (this.check) clearImmediate(this.check);
    if (this.listening) this.listening.server.off('listening', this.listening.fn);
    process.off('beforeExit', this.onEnd).off('exit', this.onEnd);
  }

  private warnWithoutHooks(): void {
    if (this.closed || process.listenerCount('SIGTERM') > 0) return;
    this.logger.warn(NO_SHUTDOWN_HOOKS_WARNING);
  }

  /** The process ends without app.close(): what the queue still held is lost; say how much, once. */
  private reportUnsent(): void {
    if (this.closed || this.reported) return;
    let held: number;
    try {
      const stats = this.sink.stats();
      held = stats.queued + stats.inFlight;
    } catch {
      return; // never throw from a process event
    }
    if (held === 0) return;
    this.reported = true;
    this.logger.warn(
      `The process is ending without app.close(): ${held} records were still queued and are not sent. ` +
        'Call app.enableShutdownHooks() in main.ts (or await app.close() before the process ends) to flush them.',
    );
  }
}
