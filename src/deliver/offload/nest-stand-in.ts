import Module from 'node:module';
import { parentPort } from 'node:worker_threads';
import type { LogLevel } from './protocol';

/*
 * Loaded first in the offload worker, before the pipeline's modules: the Dispatcher, RecordFormatter and
 * MetricsLogger import @nestjs/common for their decorators and Logger only. Loading Nest in the worker cost ~175 ms
 * of startup and ~14 MB of RSS (measured: worker with the pipeline ~100 ms / +9 MB, with @nestjs/common too ~275 ms /
 * +23 MB, Node 20), for decorators that do nothing without Nest's injector. So the worker's `require('@nestjs/common')`
 * gets this stand-in, put in `require.cache` under the path Node resolves the real one to (a documented way: "adding
 * or replacing entries is also possible"); the worker has its own module cache, the main thread's is untouched.
 * Its Logger posts each line to the main thread, where the app's Nest logger writes it.
 */

const noDecorator = () => () => undefined;

function forward(level: LogLevel, message: unknown, detail: unknown[]): void {
  const text =
    typeof message === 'string'
      ? message
      : message instanceof Error
        ? (message.stack ?? message.message)
        : String(message);
  const stack = level === 'error' && typeof detail[0] === 'string' ? `\n${detail[0]}` : '';
  parentPort?.postMessage({ type: 'log', level, message: text + stack });
}

class ForwardingLogger {
  constructor(readonly context?: string) {}
  log(message: unknown, ...detail: unknown[]): void {
    forward('log', message, detail);
  }
  error(message: unknown, ...detail: unknown[]): void {
    forward('error', message, detail);
  }
  warn(message: unknown, ...detail: unknown[]): void {
    forward('warn', message, detail);
  }
  debug(message: unknown, ...detail: unknown[]): void {
    forward('debug', message, detail);
  }
  verbose(message: unknown, ...detail: unknown[]): void {
    forward('verbose', message, detail);
  }
  fatal(message: unknown, ...detail: unknown[]): void {
    forward('fatal', message, detail);
  }
}

const provided: Record<string, unknown> = { Injectable: noDecorator, Inject: noDecorator, Logger: ForwardingLogger };

/** Anything else the pipeline may one day import from Nest fails loudly (at startup), not as a silent undefined. */
const standIn = new Proxy(provided, {
  get(target, key) {
    if (typeof key === 'symbol' || key in target || key === '__esModule' || key === 'default' || key === 'then') {
      return typeof key === 'symbol' ? undefined : target[key];
    }
    throw new Error(`nestjs-api-metrics: the offload worker provides no @nestjs/common export "${key}"`);
  },
});

function install(): void {
  let path: string;
  try {
    path = require.resolve('@nestjs/common');
  } catch {
    return; // the pipeline's own require then says what is missing
  }
  const module = new Module(path);
  module.filename = path;
  module.loaded = true;
  module.exports = standIn;
  require.cache[path] = module;
}

install();
