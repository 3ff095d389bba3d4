import { parentPort, workerData } from 'node:worker_threads';
import { RecordFormatter } from '../../format/record-formatter';
import type { AnyMetricsTransport } from '../../interfaces/metrics-transport.interface';
import type { ResolvedMetricsOptions } from '../../metrics.options';
import { Redactor } from '../../redact/redactor';
import { Dispatcher } from '../dispatcher';
import { HarFileTransport } from '../transports/har-file.transport';
import type { CoreLogger } from '../../interfaces/core-logger.interface';
import type { FromWorker, LogLevel, ToWorker, WorkerInit, WorkerState } from './protocol';
import { buildTransport } from './transport-description';

/*
 * The offload worker: the module's own pipeline core (Dispatcher, RecordFormatter, Redactor, transport), plain
 * TypeScript with constructor arguments, so no Nest is loaded here (it cost ~175 ms of startup and ~14 MB of RSS);
 * fed by the main thread's OffloadDispatcher. Its log lines go to the main thread, where the app's Nest logger
 * writes them. Counters go back after every batch (which acknowledges it) and,
 * while anything changes, every STATE_INTERVAL_MS.
 */

const STATE_INTERVAL_MS = 25;

/** Each line goes to the main thread, which writes it through the app's Nest logger. */
function forwardingLogger(send: (message: FromWorker) => void): CoreLogger {
  const forward = (level: LogLevel) => (message: string) => send({ type: 'log', level, message });
  return { log: forward('log'), warn: forward('warn'), error: forward('error'), debug: forward('debug') };
}

/** The dashboard's records written since the last message (see `tapRecords`). */
const tapped: Buffer[] = [];

/** One message for them all, in a buffer of its own that is transferred, not copied. */
function sendTapped(send: (message: FromWorker, transfer?: ArrayBuffer[]) => void): void {
  if (tapped.length === 0) return;
  const lengths = tapped.map((r) => r.length);
  const bytes = Buffer.allocUnsafeSlow(lengths.reduce((a, b) => a + b, 0));
  let at = 0;
  for (const r of tapped.splice(0)) at += r.copy(bytes, at);
  send({ type: 'records', bytes, lengths }, [bytes.buffer as ArrayBuffer]);
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('nestjs-api-metrics: offload-worker.js runs as a worker thread only');
  const send = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
  const init = workerData as WorkerInit;
  const options = init.options as ResolvedMetricsOptions;
  let transport: AnyMetricsTransport;
  let dispatcher: Dispatcher;
  try {
    transport = buildTransport(init.transport);
    // A file that cannot be written stops the app at startup, as without offload.
    if (transport instanceof HarFileTransport) await transport.ready();
    const redactor = new Redactor(options);
    dispatcher = new Dispatcher(
      options,
      transport,
      new RecordFormatter(options, redactor),
      forwardingLogger(send),
      init.tapRecords ? (record) => tapped.push(record) : undefined,
    );
  } catch (error) {
    send({ type: 'failed', message: (error as Error)?.message ?? String(error) });
    return; // nothing listens on the port: the thread ends
  }

  let received = 0;
  let lastSent = '';
  const state = (): WorkerState => ({ stats: dispatcher.stats(), bytes: dispatcher.bytesHeld(), received });
  const report = () => {
    sendTapped(send);
    const now = state();
    lastSent = JSON.stringify(now);
    send({ type: 'state', state: now });
  };
  const done = (id: number) => send({ type: 'done', id, state: state() });

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'batch':
        for (const exchange of message.exchanges) dispatcher.enqueue(exchange);
        received += message.exchanges.length;
        report();
        return;
      case 'now':
        received++;
        void dispatcher.deliverNow(message.exchange).then(() => done(message.id));
        report();
        return;
      case 'flush':
        void dispatcher.flush().then(() => done(message.id));
        return;
      case 'shutdown':
        void dispatcher.onApplicationShutdown().then(() => done(message.id));
        return;
      default:
        // Only our own main thread posts here: anything else is a bug, and ends the thread (reported there).
        throw new Error(`nestjs-api-metrics: unknown message ${JSON.stringify((message as { type?: unknown }).type)}`);
    }
  });
  // Deliveries change the counters between batches: the main thread's stats() follow within STATE_INTERVAL_MS.
  setInterval(() => {
    sendTapped(send);
    if (JSON.stringify(state()) !== lastSent) report();
  }, STATE_INTERVAL_MS).unref();
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({ type: 'failed', message: (error as Error)?.message ?? String(error) } satisfies FromWorker);
});
