import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { MetricsRecord } from '../../src';

export interface ReceivedCall {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  records: MetricsRecord[];
  /** performance.now() when the call's head arrived. */
  receivedAt: number;
  /** The status the collector answered, once the answer was sent (undefined while it hangs). */
  status?: number;
}

/** What the collector answers; the default accepts everything with 202. */
export type CollectorBehaviour = (call: ReceivedCall, res: ServerResponse) => void;

/** A real ReadMe-like collector on 127.0.0.1:0 that keeps every call it receives. */
const acceptAll: CollectorBehaviour = (_call, res) => {
  res.writeHead(202).end();
};

export class Collector {
  readonly calls: ReceivedCall[] = [];
  /** How the collector answers each call; `reset()` restores this default (202). */
  behaviour: CollectorBehaviour = acceptAll;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    private readonly scheme: 'http' | 'https',
  ) {}

  /** With `tls` (key and certificate), the collector speaks HTTPS. */
  static async start(tls?: { key: Buffer; cert: Buffer }): Promise<Collector> {
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      const receivedAt = performance.now();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let records: MetricsRecord[] = [];
        try {
          records = JSON.parse(raw) as MetricsRecord[];
        } catch {
          // kept as raw; a test asserting on records will fail
        }
        const call: ReceivedCall = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          records,
          receivedAt,
        };
        res.on('finish', () => (call.status = res.statusCode));
        collector.calls.push(call);
        collector.behaviour(call, res);
        collector.waiters.forEach((w) => w());
      });
    };
    const server: Server = tls ? createTlsServer(tls, handle) : createServer(handle);
    const collector = new Collector(server, tls ? 'https' : 'http');
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return collector;
  }

  get url(): string {
    return `${this.scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get records(): MetricsRecord[] {
    return this.calls.flatMap((c) => c.records);
  }

  /** How many times each record `_id` arrived, over every call received. */
  arrivals(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const record of this.records) counts.set(record._id, (counts.get(record._id) ?? 0) + 1);
    return counts;
  }

  /** Waits (bounded) until at least `count` records arrived; returns them all. */
  async waitForRecords(count: number, timeoutMs = 5000): Promise<MetricsRecord[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.records.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`collector got ${this.records.length} records, expected ${count}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
    return this.records;
  }

  /** Forgets the calls received and answers 202 again. */
  reset(): void {
    this.calls.length = 0;
    this.behaviour = acceptAll;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
