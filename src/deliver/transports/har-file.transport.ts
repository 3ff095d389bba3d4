import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { HAR_CREATOR } from '../../format/record-formatter';
import type { HarEntry } from '../../interfaces/har.interface';
import type { MetricsRecord } from '../../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../../interfaces/metrics-transport.interface';
import { rememberOrigin } from './transport-origin';

export interface HarFileTransportOptions {
  /** File to write; created (with its folder) or replaced when the app starts (a path that cannot be written stops it). */
  path: string;
}

const TAIL = ']}}\n';

/**
 * Writes records to a local HAR 1.2 file, openable with "Import HAR" in browser DevTools. The file is valid JSON
 * after every flush: each batch overwrites the closing brackets and writes them again after the new entries.
 * Each entry carries the record's id and group as `_id` and `_group` (masked key, label, email).
 */
export class HarFileTransport implements MetricsTransport {
  readonly path: string;
  private file?: Promise<FileHandle>;
  /** Where the closing brackets start; the next entries go there. */
  private tailOffset = 0;
  private entryCount = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(options: HarFileTransportOptions) {
    if (!options || typeof options.path !== 'string' || options.path === '') {
      throw new Error('nestjs-api-metrics: HarFileTransport needs { path }, e.g. { path: "./api-metrics.har" }.');
    }
    this.path = resolve(options.path);
    rememberOrigin(this, 'har-file', { path: this.path });
  }

  /**
   * Creates the file (and its folder) now; rejects with a message naming the path when it cannot be written. The
   * module calls it at startup, so a bad path stops the app instead of failing deliveries later.
   */
  async ready(): Promise<void> {
    try {
      await this.open();
    } catch (error) {
      this.file = undefined;
      const reason = (error as { message?: string } | undefined)?.message ?? String(error);
      throw new Error(`nestjs-api-metrics: HarFileTransport cannot write ${JSON.stringify(this.path)}: ${reason}`, {
        cause: error,
      });
    }
  }

  send(records: MetricsRecord[]): Promise<void> {
    const write = this.writing.then(() => this.append(records));
    this.writing = write.catch(() => undefined); // one failed write must not block later ones
    return write;
  }

  async close(): Promise<void> {
    await this.writing;
    const file = this.file;
    this.file = undefined;
    if (file) await (await file).close();
  }

  private async append(records: MetricsRecord[]): Promise<void> {
    const handle = await this.open();
    // The file has no `pages` (one per route would have to be rewritten with every batch), so entries name none:
    // the route stays in `_pageref` (origin + route template, as ReadMe gets it).
    const entries = records.flatMap((r) =>
      r.request.log.entries.map(({ pageref, ...entry }): HarEntry => ({
        ...entry,
        ...(pageref !== undefined && { _pageref: pageref }),
        _id: r._id,
        _group: r.group,
      })),
    );
    if (!entries.length) return;
    const json = entries.map((e) => JSON.stringify(e)).join(',\n');
    const chunk = Buffer.from(`${this.entryCount > 0 ? ',\n' : ''}${json}${TAIL}`);
    await handle.write(chunk, 0, chunk.length, this.tailOffset);
    this.tailOffset += chunk.length - Buffer.byteLength(TAIL);
    this.entryCount += entries.length;
  }

  private open(): Promise<FileHandle> {
    this.file ??= (async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(this.path, 'w');
      const head = Buffer.from(
        `{"log":{"version":"1.2","creator":${JSON.stringify(HAR_CREATOR)},"pages":[],"entries":[\n`,
      );
      await handle.write(Buffer.concat([head, Buffer.from(TAIL)]), 0, head.length + Buffer.byteLength(TAIL), 0);
      this.tailOffset = head.length;
      return handle;
    })();
    return this.file;
  }
}
