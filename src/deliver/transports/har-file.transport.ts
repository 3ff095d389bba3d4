import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { HAR_CREATOR } from '../../format/record-formatter';
import type { MetricsRecord } from '../../interfaces/metrics-record.interface';
import type { MetricsTransport } from '../../interfaces/metrics-transport.interface';
import { ENCODED_SENDER, type EncodedSender } from '../../interfaces/encoded-transport.interface';
import { writeHarFileEntries } from '../../write/har-file-entries';
import { rememberOrigin } from './transport-origin';

export interface HarFileTransportOptions {
  /** File to write; created (with its folder) or replaced when the app starts (a path that cannot be written stops it). */
  path: string;
}

const TAIL = ']}}\n';
const TAIL_BYTES = Buffer.from(TAIL);
const SEPARATOR = Buffer.from(',\n');

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
  /** Records whose entries were written (a `,\n` goes before the next one). */
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

  /** Built-in only (see encodedSenderOf): records written once, at settle, by `writeHarFileEntries`. */
  [ENCODED_SENDER](): EncodedSender | undefined {
    if (this.send !== HarFileTransport.prototype.send) return undefined;
    return { format: 'har-entries', send: (records) => this.sendEncoded(records) };
  }

  /** Appends records written by `writeHarFileEntries` (each: its entries' JSON, `,\n` between them). */
  private sendEncoded(records: Buffer[]): Promise<void> {
    const write = this.writing.then(() => this.appendEncoded(records));
    this.writing = write.catch(() => undefined);
    return write;
  }

  private append(records: MetricsRecord[]): Promise<void> {
    return this.appendEncoded(records.map(writeHarFileEntries));
  }

  private async appendEncoded(records: Buffer[]): Promise<void> {
    const handle = await this.open();
    const parts: Buffer[] = [];
    let written = 0;
    for (const record of records) {
      if (record.length === 0) continue; // a record with no entries
      if (this.entryCount + written > 0) parts.push(SEPARATOR);
      parts.push(record);
      written++;
    }
    if (!written) return;
    parts.push(TAIL_BYTES);
    const chunk = Buffer.concat(parts);
    await handle.write(chunk, 0, chunk.length, this.tailOffset);
    this.tailOffset += chunk.length - TAIL_BYTES.length;
    this.entryCount += written;
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
