import { seconds } from './durations';

export type QueueBound = 'maxQueueSize' | 'maxQueueBytes';

const DROP_WARNING_INTERVAL_MS = 60_000;

/** What a drop warning says: the drops since the last one, by bound, and when that was. */
export interface DropReport {
  bySize: number;
  byBytes: number;
  /** "since start", "in the last 42 s". */
  since: string;
}

/**
 * The one throttle of "queue full" warnings (Dispatcher and its offload stand-in): the first drop of a quiet minute is
 * logged at once, the rest when the minute ends (or at shutdown, `report()`), so a full queue cannot flood the logs.
 * `write` words the warning; nothing is logged when no record was dropped.
 */
export class DropWarnings {
  private lastWarning = -Infinity;
  private readonly pending: Record<QueueBound, number> = { maxQueueSize: 0, maxQueueBytes: 0 };
  private timer?: NodeJS.Timeout;

  constructor(private readonly write: (report: DropReport) => void) {}

  /** Counts a drop by `bound`. */
  note(bound: QueueBound): void {
    this.pending[bound]++;
    const wait = this.lastWarning + DROP_WARNING_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.report();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.report(), wait);
      this.timer.unref();
    }
  }

  /** Logs the drops not reported yet. */
  report(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const { maxQueueSize: bySize, maxQueueBytes: byBytes } = this.pending;
    if (bySize + byBytes === 0) return;
    const since = Number.isFinite(this.lastWarning)
      ? `in the last ${seconds(Date.now() - this.lastWarning)}`
      : 'since start';
    this.pending.maxQueueSize = 0;
    this.pending.maxQueueBytes = 0;
    this.lastWarning = Date.now();
    this.write({ bySize, byBytes, since });
  }
}

/** The wording of a drop warning: which bounds dropped how many, why (a paused delivery), how many in all. */
export function dropWarning(
  { bySize, byBytes, since }: DropReport,
  bounds: { maxQueueSize: number; maxQueueBytes: number },
  pausedStatus: number | undefined,
  droppedInAll: number,
): string {
  const size = `maxQueueSize = ${bounds.maxQueueSize} records`;
  const bytes = `maxQueueBytes = ${bounds.maxQueueBytes} bytes`;
  const which = bySize && byBytes ? `${size}: ${bySize} dropped; ${bytes}: ${byBytes} dropped` : bySize ? size : bytes;
  const why = pausedStatus !== undefined ? `, delivery paused (HTTP ${pausedStatus})` : '';
  return (
    `Metrics queue full (${which}${why}): dropped ${bySize + byBytes} oldest records ${since}; ` +
    `${droppedInAll} dropped in all.`
  );
}
