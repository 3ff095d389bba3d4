import { HttpModule, HttpService } from '@nestjs/axios';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  HttpException,
  Module,
  Param,
  Post,
  Query,
  type DynamicModule,
} from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import { MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';

/** Where the app's outgoing calls go (the app itself, set once it listens). */
export const otlpTargets = { self: '' };

@Controller('shop')
class ShopController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly http: HttpService,
  ) {}

  @Get('items/:id')
  @Header('x-shop', 'one')
  async item(@Param('id') id: string, @Query('page') page?: string) {
    const reply = await firstValueFrom(this.http.get(`${otlpTargets.self}/shop/target?key=outgoing-secret&n=${id}`));
    this.metrics.reportError(new Error('soft failure', { cause: new RangeError('root cause') }));
    return { id, page, target: reply.data };
  }

  @Post('items')
  @HttpCode(201)
  create(@Body() body: unknown) {
    return { created: body, password: 'response-secret' };
  }

  @Get('target')
  target(@Query('n') n?: string) {
    return { target: 'ok', n };
  }

  @Get('boom')
  boom() {
    throw new Error('handler exploded');
  }

  @Get('missing')
  missing() {
    throw new HttpException({ reason: 'gone' }, 404);
  }
}

/** The app of the OTLP tests: every caller is "Acme" with key `otlp-key-1234`; one outgoing call per item read. */
export function otlpAppModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class OtlpAppModule {}
  return {
    module: OtlpAppModule,
    imports: [
      HttpModule,
      MetricsModule.forRoot({
        group: () => ({ apiKey: 'otlp-key-1234', label: 'Acme', email: 'dev@acme.io' }),
        ...options,
      }),
    ],
    controllers: [ShopController],
  };
}
