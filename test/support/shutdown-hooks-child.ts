/*
 * Child process for the shutdown-hooks test: an app with the module (Express or Fastify), shutdown hooks as HOOKS says
 * ('nest' before listen, 'after-listen', 'own' SIGTERM handler, 'none'), three requests, then END: 'close'
 * (app.close()) or 'drain' (the HTTP server closed without app.close(): the event loop runs dry). The module's log
 * lines go to stdout as `LEVEL message`.
 */
import 'reflect-metadata';
import type { LoggerService } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, type AdapterName } from './adapters';
import { httpRequest } from './http';
import { testAppModule } from './test-app';

const line = (level: string) => (message: unknown) => void process.stdout.write(`${level} ${String(message)}\n`);
const logger: LoggerService = { log: line('LOG'), warn: line('WARN'), error: line('ERROR'), debug: line('DEBUG') };

async function main(): Promise<void> {
  const adapter = (process.env.ADAPTER ?? 'express') as AdapterName;
  const hooks = process.env.HOOKS ?? 'none';
  const running = await startApp(
    testAppModule(adapter, {
      apiKey: 'k',
      baseUrl: process.env.COLLECTOR_URL,
      bufferLength: 100,
      flushInterval: 60_000,
      enabled: process.env.ENABLED !== '0',
    }),
    adapter,
    (app) => {
      if (hooks === 'nest') app.enableShutdownHooks();
    },
    logger,
  );
  if (hooks === 'after-listen') running.app.enableShutdownHooks();
  if (hooks === 'own') process.on('SIGTERM', () => void running.close());
  for (let i = 0; i < 3; i++) await httpRequest(`${running.url}/orders/${i}`);
  await sleep(200);
  if (process.env.END === 'drain') {
    const server = running.app.getHttpServer() as import('node:http').Server;
    server.closeAllConnections();
    server.close();
    process.stdout.write('server closed\n');
    return;
  }
  await running.close();
  process.stdout.write('closed\n');
  process.removeAllListeners('SIGTERM');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
