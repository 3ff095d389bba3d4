/*
 * Child process for the shutdown test: an app with the module takes a few requests, then `app.close()`.
 * It never calls process.exit: the test checks that nothing of ours keeps the process alive.
 */
import 'reflect-metadata';
import { startApp, type AdapterName } from './adapters';
import { httpRequest } from './http';
import { testAppModule } from './test-app';

async function main(): Promise<void> {
  const adapter = (process.env.ADAPTER ?? 'express') as AdapterName;
  const running = await startApp(
    testAppModule(adapter, {
      apiKey: 'k',
      baseUrl: process.env.COLLECTOR_URL,
      bufferLength: 100,
      flushInterval: 60_000,
      timeout: 10_000,
      shutdownTimeout: Number(process.env.SHUTDOWN_TIMEOUT ?? 5000),
      ...(process.env.OFFLOAD && { offload: 'worker' as const }),
    }),
    adapter,
  );
  for (let i = 0; i < 7; i++) await httpRequest(`${running.url}/orders/${i}`);
  const started = performance.now();
  await running.close();
  process.stdout.write(`closed after ${(performance.now() - started).toFixed(0)} ms\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
