/*
 * Child process of otlp-sdk-node.e2e.spec: an app that runs the OpenTelemetry Node SDK with http instrumentation
 * (its own exporter, http/protobuf) and our OtlpTransport (http/json) to the same receiver. The SDK registers its
 * globals first, as apps do (`--require` or the first lines of main), then the app is loaded.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { SimpleSpanProcessor } from '@opentelemetry/sdk-trace';

async function main(): Promise<void> {
  const receiverUrl = process.env.RECEIVER_URL ?? '';
  const adapter = (process.env.ADAPTER ?? 'express') as 'express' | 'fastify';
  const sdk = new NodeSDK({
    serviceName: 'app-own',
    spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: receiverUrl }) })],
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded after the SDK patched http, as in a real app */
  require('reflect-metadata');
  const { startApp } = require('./adapters') as typeof import('./adapters');
  const { httpRequest } = require('./http') as typeof import('./http');
  const { otlpAppModule, otlpTargets } = require('./otlp-app') as typeof import('./otlp-app');
  const { MetricsService, OtlpTransport } = require('../../src') as typeof import('../../src');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const running = await startApp(
    otlpAppModule({ transport: new OtlpTransport({ url: receiverUrl, protocol: 'http/json', serviceName: 'ours' }) }),
    adapter,
  );
  otlpTargets.self = running.url;
  const statuses = [
    (await httpRequest(`${running.url}/shop/items/42`)).status,
    (await httpRequest(`${running.url}/shop/target?n=1`)).status,
  ];
  await running.app.get(MetricsService).flush();
  await running.close();
  await sdk.shutdown();
  process.stdout.write(`${JSON.stringify({ statuses })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
