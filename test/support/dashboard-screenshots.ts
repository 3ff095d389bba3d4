/**
 * Takes the screenshots of docs/dashboard.md: the sample app (Express) with known traffic, the page in headless
 * Chromium. `npx tsc -p tsconfig.json && node dist/test/support/dashboard-screenshots.js` (from the repo root).
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { join } from 'node:path';
import { AppModule } from '../../sample/app.module';
import { launchBrowser } from './browser';
import { httpRequest } from './http';

async function main(): Promise<void> {
  process.env.README_API_KEY = '';
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
  app.useBodyParser('json');
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  process.env.CARRIER_URL = url;
  const acme = { 'x-api-key': 'acme-key-0001' };
  const json = { ...acme, 'content-type': 'application/json' };
  for (let i = 0; i < 40; i++) await httpRequest(`${url}/orders/1`, { headers: acme });
  for (let i = 0; i < 12; i++) await httpRequest(`${url}/orders/1/shipping`, { headers: acme });
  for (let i = 0; i < 6; i++) {
    await httpRequest(`${url}/orders`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ item: 'Owl plush', quantity: i + 1, card: { number: '4242424242424242' } }),
    });
  }
  await httpRequest(`${url}/orders/1/refund`, { method: 'POST', headers: acme });
  for (let i = 0; i < 5; i++) await httpRequest(`${url}/orders/1`, { headers: { 'x-api-key': 'wrong-key' } });
  for (let i = 0; i < 3; i++) await httpRequest(`${url}/orders/99`, { headers: acme });
  await httpRequest(`${url}/`);
  await new Promise((resolve) => setTimeout(resolve, 1500));

  const browser = await launchBrowser();
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
  await page.goto(`${url}/api-metrics`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('#routes tbody')?.textContent?.includes('/orders/:id'));
  await page.waitForSelector('#exchanges tbody tr.clickable');
  const out = (name: string) => join(__dirname, '..', '..', '..', 'docs', 'images', name) as `${string}.png`;
  await page.screenshot({ path: out('dashboard-overview.png'), fullPage: false });
  // The refund (an error reported after an await), then the shipping call with its outgoing call.
  await page.select('#f-route', 'GET /orders/:id/shipping');
  await page.waitForFunction(() => document.querySelectorAll('#exchanges tbody tr').length <= 12);
  await page.click('#exchanges tbody tr.clickable');
  await page.waitForSelector('#detail:not([hidden]) .entry + .entry');
  const detail = await page.$('#detail');
  await detail!.screenshot({ path: out('dashboard-exchange.png') });
  await browser.close();
  await app.close();
}

void main();
