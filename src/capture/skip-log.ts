import type { MetricsLogger } from '../metrics.logger';

const INTERVAL_MS = 60_000;

/**
 * Counts exchanges not recorded for a reason worth telling (a group function that returned no apiKey, one that
 * threw) and says so: the first one at once, then at most once a minute with the count and reasons since the last
 * line ("skipped 42 exchanges in the last minute: 40 group function returned no apiKey, 2 ..."). Never silent
 * forever, never a line per request.
 */
export class SkipLog {
  private readonly counts = new Map<string, number>();
  private lastLog = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(private readonly logger: Pick<MetricsLogger, 'warn'>) {}

  note(reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const now = Date.now();
    if (now - this.lastLog >= INTERVAL_MS) this.flush(now);
    else this.timer ??= setTimeout(() => this.flush(Date.now()), this.lastLog + INTERVAL_MS - now).unref();
  }

  private flush(now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.counts.size) return;
    const first = this.lastLog === -Infinity;
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    const reasons = [...this.counts].map(([reason, n]) => (this.counts.size > 1 ? `${n} ${reason}` : reason));
    this.counts.clear();
    this.lastLog = now;
    this.logger.warn(
      `skipped ${total} exchange${total === 1 ? '' : 's'}${first ? '' : ' in the last minute'}: ${reasons.join('; ')}` +
        (first ? ' (further skips are summed up once a minute)' : ''),
    );
  }
}
