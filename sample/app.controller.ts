import { Body, Controller, Get, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { AnyFilesInterceptor } from '@nestjs/platform-express';
import { SkipMetrics } from '../src';

/** ReadMe's cross-SDK example contract: GET / and POST / (JSON, +json, text, urlencoded and multipart bodies). */
@Controller()
export class AppController {
  @Get()
  hello() {
    return { message: 'hello world' };
  }

  @Post()
  @HttpCode(200)
  @UseInterceptors(AnyFilesInterceptor())
  accept(@Body() _body: unknown) {
    return '';
  }

  /** Liveness probes would drown real traffic in the dashboard: never recorded. */
  @Get('health')
  @SkipMetrics()
  health() {
    return { status: 'ok' };
  }
}
