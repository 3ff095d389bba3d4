/* global require */
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script, run by .ci/test-types.sh */
// offload: 'worker' starts its worker thread from the installed package (dist/src/deliver/offload/offload-worker.js),
// without Nest in the thread: a HAR file written through it proves the whole path.
require('reflect-metadata');
const { readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { Module } = require('@nestjs/common');
const { MetricsModule, HarFileTransport, MetricsService } = require('nestjs-api-metrics');

const path = join(tmpdir(), `offload-check-${process.pid}.har`);
class App {}
Module({ imports: [MetricsModule.forRoot({ transport: new HarFileTransport({ path }), offload: 'worker' })] })(App);

(async () => {
  const app = await NestFactory.createApplicationContext(App, { logger: false });
  await app.get(MetricsService).flush();
  await app.close();
  const har = JSON.parse(readFileSync(path, 'utf8'));
  rmSync(path);
  if (!Array.isArray(har.log.entries)) throw new Error('no HAR written through the worker');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
