import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { resolve } from 'node:path';
import { AppModule, HAR_FILE } from './app.module';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule);
  // ReadMe's example contract accepts vendored JSON (+json) and text/plain bodies too.
  app.useBodyParser('json', { type: ['application/json', 'application/*+json'] });
  app.useBodyParser('text');
  // On SIGTERM/SIGINT the module flushes what is queued before the process exits.
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? 3000);
  await (process.env.HOST ? app.listen(port, process.env.HOST) : app.listen(port));
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  process.env.CARRIER_URL ??= url.replace('localhost', '127.0.0.1'); // where the sample's outgoing calls go

  const logger = new Logger('Sample');
  if (process.env.README_API_KEY) {
    logger.log(`Shipping API metrics to ${process.env.README_METRICS_SERVER || 'https://metrics.readme.io'}`);
  } else {
    logger.log(
      `No README_API_KEY set: recording API metrics to ${resolve(HAR_FILE)} (open it with "Import HAR" in DevTools)`,
    );
  }
  logger.log(`Listening on ${url} - try: curl ${url}/orders/1 -H 'x-api-key: acme-key-0001'`);
}

void bootstrap();
