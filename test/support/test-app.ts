import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  Param,
  ParseIntPipe,
  Post,
  Redirect,
  Req,
  ServiceUnavailableException,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
  type CanActivate,
  type DynamicModule,
  type ExecutionContext,
  type CallHandler,
  type INestApplication,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import { AnyFilesInterceptor as ExpressAnyFiles, type NestExpressApplication } from '@nestjs/platform-express';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { MetricsGroup, MetricsModule, SkipMetrics, type MetricsModuleOptions } from '../../src';
import type { AdapterName } from './adapters';

export const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe]);

interface TestRequest {
  headers: Record<string, string | undefined>;
  user?: { key: string; name: string };
}

class KeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<TestRequest>();
    if (req.headers['x-api-key'] !== 'good-key') throw new UnauthorizedException('bad key');
    req.user = { key: 'user-key-1234', name: 'Good User' };
    return true;
  }
}

@Controller('orders')
@MetricsGroup(() => ({ apiKey: 'controller-key', label: 'Controller' }))
class OrdersController {
  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    if (id === 500) throw new Error('boom');
    return { id, item: 'book' };
  }

  @Post()
  @HttpCode(202)
  create(@Body() body: unknown) {
    return { created: body };
  }

  @Get(':id/handler-group')
  @MetricsGroup((req: TestRequest) => ({ apiKey: 'handler-key', label: 'Handler', email: req.headers['x-email'] }))
  handlerGroup() {
    return { ok: true };
  }

  @Get(':id/secure')
  @UseGuards(KeyGuard)
  @MetricsGroup((req: TestRequest) => (req.user ? { apiKey: req.user.key, label: req.user.name } : null))
  secure(@Req() req: TestRequest) {
    return { user: req.user?.name };
  }

  @Get('skip/me')
  @SkipMetrics()
  skipped() {
    return { skipped: true };
  }
}

@Controller('misc')
class MiscController {
  @Get('redirect')
  @Redirect('https://example.com/target', 302)
  redirect() {}

  @Get('header')
  @Header('x-custom', 'yes')
  @Header('content-type', 'text/plain; charset=utf-8')
  header() {
    return 'hello text';
  }

  @Get('binary')
  @Header('content-type', 'image/png')
  binary() {
    return PNG_BYTES;
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return body ?? null;
  }

  @Get('slow')
  async slow() {
    await sleep(300);
    return { done: true };
  }

  /** Fails after the client may have left: the filter then runs for a closed response. */
  @Get('slow-fail')
  async slowFail() {
    await sleep(300);
    throw new ServiceUnavailableException('too late');
  }
}

/**
 * The upload interceptor of the platform, or undefined where the platform has none: Fastify's
 * (`@nestjs/platform-fastify/multipart`) is new in NestJS 12, and NestJS 11 runs this suite too.
 */
function filesInterceptor(adapter: AdapterName): Type<NestInterceptor> | undefined {
  if (adapter === 'express') return ExpressAnyFiles();
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const multipart = require('@nestjs/platform-fastify/multipart') as {
      AnyFilesInterceptor: () => Type<NestInterceptor>;
    };
    return multipart.AnyFilesInterceptor();
  } catch {
    return undefined;
  }
}

export function supportsMultipart(adapter: AdapterName): boolean {
  return filesInterceptor(adapter) !== undefined;
}

function uploadController(adapter: AdapterName) {
  const interceptor = filesInterceptor(adapter);
  @Controller('upload')
  class UploadController {
    @Post()
    @HttpCode(200)
    @UseInterceptors(interceptor ?? { intercept: (_c: unknown, next: CallHandler) => next.handle() })
    upload(@Body() body: unknown) {
      return { fields: body };
    }
  }
  return UploadController;
}

/** The global group fn of the tests: `x-api-key` names the caller; `x-no-record` opts out. */
export function testGroup(req: TestRequest) {
  if (req.headers['x-no-record']) return null;
  return { apiKey: req.headers['x-api-key'] ?? 'anonymous-key', label: 'Acme', email: 'dev@acme.io' };
}

/** Body parsing the apps must opt into: `+json` on both platforms, `text/plain` on Express. */
export function allowJsonVariantsAndText(app: INestApplication, adapter: AdapterName): void {
  if (adapter === 'express') {
    const express = app as NestExpressApplication;
    express.useBodyParser('json', { type: ['application/json', 'application/*+json'] });
    express.useBodyParser('text');
  } else {
    const fastify = (app as NestFastifyApplication).getHttpAdapter().getInstance();
    fastify.addContentTypeParser(/^application\/.+\+json$/, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
  }
}

export function testAppModule(adapter: AdapterName, options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class TestAppModule {}
  return {
    module: TestAppModule,
    imports: [MetricsModule.forRoot({ group: testGroup, ...options })],
    controllers: [OrdersController, MiscController, uploadController(adapter)],
  };
}
