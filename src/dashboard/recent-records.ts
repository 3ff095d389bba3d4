/** One record the ring holds: where its bytes are, and what the page read of it (once, when it first asked). */
interface Slot<S> {
  seq: number;
  /** ms since the epoch when the record was written. */
  at: number;
  start: number;
  length: number;
  summary?: S;
  unreadable?: true;
}

/**
 * The recent records, newest last, in one preallocated byte ring of `capacity` bytes: a record is copied in when it
 * is written (one memcpy, nothing parsed) and overwritten, oldest first, when newer ones need the room. The bound is
 * exact: the ring holds `capacity` bytes however small or large the records are (keeping the writer's own Buffers
 * instead would keep their 8 KB pool slabs alive), plus an index entry per record and, once the page has read it, its
 * summary. A record larger than the ring is not kept (counted in `tooLarge`).
 */
export class RecentRecords<S> {
  private ring?: Buffer;
  private slots: Slot<S>[] = [];
  /** Index of the oldest slot in `slots` (shifting an array per eviction would copy it). */
  private head = 0;
  private write = 0;
  private nextSeq = 1;
  /** Records too large to keep. */
  tooLarge = 0;
  /** Records overwritten by newer ones. */
  evicted = 0;

  constructor(readonly capacity: number) {}

  /** The tap: copies the record in. Never throws. */
  readonly push = (record: Buffer): void => {
    try {
      this.add(record);
    } catch {
      // The dashboard must never break the record path.
    }
  };

  get length(): number {
    return this.slots.length - this.head;
  }

  /** Bytes the kept records take in the ring. */
  get bytes(): number {
    let total = 0;
    for (let i = this.head; i < this.slots.length; i++) total += this.slots[i]!.length;
    return total;
  }

  private add(record: Buffer): void {
    const n = record.length;
    if (n > this.capacity) {
      this.tooLarge++;
      return;
    }
    this.ring ??= Buffer.allocUnsafeSlow(this.capacity);
    if (this.write + n > this.capacity) {
      // Wrap: the slots between here and the end of the ring are the oldest; they go first.
      while (this.length > 0 && this.oldest().start >= this.write) this.evict();
      this.write = 0;
    }
    // The oldest records lie ahead of the write position (from the previous lap): those in the way go.
    while (this.length > 0 && this.oldest().start >= this.write && this.oldest().start < this.write + n) this.evict();
    record.copy(this.ring, this.write);
    this.slots.push({ seq: this.nextSeq++, at: Date.now(), start: this.write, length: n });
    this.write += n;
  }

  private oldest(): Slot<S> {
    return this.slots[this.head]!;
  }

  private evict(): void {
    this.slots[this.head++] = undefined as never;
    this.evicted++;
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Summarizes the records not read yet (`summarize` runs once per record, the first time the page asks), newest
   * first, in slices of `sliceMs`: between slices the event loop serves the app (a full ring of 2 KB records takes
   * ~45 ms of parsing in all). A record `summarize` cannot read is marked and skipped.
   */
  async summarizeAll(summarize: (bytes: Buffer) => S | undefined, sliceMs = 2): Promise<void> {
    for (;;) {
      const until = performance.now() + sliceMs;
      let pending = false;
      for (let i = this.slots.length - 1; i >= this.head; i--) {
        const slot = this.slots[i]!;
        if (slot.summary !== undefined || slot.unreadable) continue;
        if (performance.now() > until) {
          pending = true;
          break;
        }
        const summary = summarize(this.bytesOf(slot));
        if (summary === undefined) slot.unreadable = true;
        else slot.summary = summary;
      }
      if (!pending) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The kept records that were summarized, newest first. */
  *newestFirst(): Generator<{ seq: number; at: number; summary: S }> {
    for (let i = this.slots.length - 1; i >= this.head; i--) {
      const slot = this.slots[i]!;
      if (slot.summary !== undefined) yield { seq: slot.seq, at: slot.at, summary: slot.summary };
    }
  }

  /** The bytes of record `seq` as written (a copy), or undefined once it was overwritten. */
  get(seq: number): Buffer | undefined {
    const first = this.length > 0 ? this.oldest().seq : this.nextSeq;
    if (!Number.isInteger(seq) || seq < first || seq >= this.nextSeq) return undefined;
    const slot = this.slots[this.head + (seq - first)]!;
    return Buffer.from(this.bytesOf(slot));
  }

  private bytesOf(slot: Slot<S>): Buffer {
    return this.ring!.subarray(slot.start, slot.start + slot.length);
  }
}
