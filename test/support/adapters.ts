import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

export type AdapterName = 'express' | 'fastify';

export interface RunningApp {
  app: INestApplication;
  url: string;
  close(): Promise<void>;
}

/** The two platforms every e2e test runs on (`for (const adapter of ADAPTERS) describe(...)`). */
export const ADAPTERS: AdapterName[] = ['express', 'fastify'];

/** A real Nest app on 127.0.0.1:0. */
export async function startApp(
  module: unknown,
  adapter: AdapterName,
  configure?: (app: INestApplication) => void | Promise<void>,
  logger: LoggerService | false = false,
): Promise<RunningApp> {
  const httpAdapter = adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = await NestFactory.create(module as never, httpAdapter as never, { logger, abortOnError: false });
  await configure?.(app);
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}
