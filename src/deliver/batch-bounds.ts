/*
 * How big a batch gets and how often calls start (docs/delivery.md#batching). A call costs the app 300-570 us of CPU
 * whatever its size, 1 KB or 1 MB (measured: 10-record batches ~40 us a record, 100-record ~15), so under load fewer,
 * bigger calls cost less per record.
 */

/** Under load more than bufferLength records wait: up to this many (or bufferLength, if larger) go in one call. */
export const MAX_BATCH = 1000;

/**
 * Records written for a built-in transport: no more than this many bytes of them in one call (a single bigger record
 * goes alone). It binds first with records of a few KB, and keeps a call's body (held twice while in flight, counted
 * against maxQueueBytes) and a collector's request size modest.
 */
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * Under load, calls start at most this often unless a full batch waits, so a busy server sends fewer, bigger ones. At
 * low traffic every batch still goes as soon as bufferLength records are queued.
 */
export const MIN_CALL_GAP_MS = 50;
