/**
 * The bounded queue of records waiting for delivery, oldest first, with the bytes each holds and their sum. It only
 * holds and counts; the bounds are applied by its owner (Dispatcher, OffloadDispatcher), which knows what else is
 * held (records in flight, in the worker).
 */
export class RecordQueue<T> {
  private items: T[] = [];
  private sizes: number[] = [];
  private total = 0;

  get length(): number {
    return this.items.length;
  }

  /** Bytes held by the queued records, as given to `push`. */
  get bytes(): number {
    return this.total;
  }

  push(item: T, bytes: number): void {
    this.items.push(item);
    this.sizes.push(bytes);
    this.total += bytes;
  }

  /**
   * Drops the oldest records until one of `size` bytes fits: fewer than `maxCount` records, and the bytes held with
   * `otherBytes` (what is held elsewhere, in flight) plus `size` within `maxBytes`. `dropped` hears of each, by bound.
   */
  makeRoom(
    size: number,
    otherBytes: number,
    maxCount: number,
    maxBytes: number,
    dropped: (bound: 'maxQueueSize' | 'maxQueueBytes') => void,
  ): void {
    while (this.items.length > 0 && (this.items.length >= maxCount || this.total + otherBytes + size > maxBytes)) {
      const bound = this.items.length >= maxCount ? 'maxQueueSize' : 'maxQueueBytes';
      this.take(1);
      dropped(bound);
    }
  }

  /** Bytes held by the `count` oldest records. */
  bytesOfOldest(count: number): number {
    let sum = 0;
    for (let i = 0; i < count && i < this.sizes.length; i++) sum += this.sizes[i] as number;
    return sum;
  }

  /** How many of the oldest records fit in `maxBytes` (at least one, when any is queued), up to `maxCount`. */
  countWithin(maxCount: number, maxBytes: number): number {
    const n = Math.min(maxCount, this.sizes.length);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += this.sizes[i] as number;
      if (sum > maxBytes) return Math.max(1, i);
    }
    return n;
  }

  /** Removes and returns the `count` oldest records. */
  take(count: number): T[] {
    if (count >= this.items.length) return this.takeAll();
    for (const size of this.sizes.splice(0, count)) this.total -= size;
    return this.items.splice(0, count);
  }

  /** Removes and returns every record. */
  takeAll(): T[] {
    const items = this.items;
    this.items = [];
    this.sizes = [];
    this.total = 0;
    return items;
  }
}
