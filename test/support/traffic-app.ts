import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpException,
  Module,
  Param,
  Post,
  type DynamicModule,
} from '@nestjs/common';
import { MetricsModule, SkipMetrics, type MetricsModuleOptions } from '../../src';
import { httpRequest, type SimpleResponse } from './http';

@Controller('shop')
class ShopController {
  @Get('items/:id')
  item(@Param('id') id: string) {
    return { id, name: `item ${id}` };
  }

  @Post('items')
  @HttpCode(201)
  create(@Body() body: unknown) {
    return { created: body };
  }

  @Get('boom')
  boom() {
    throw new Error('handler exploded');
  }

  @Get('gone')
  gone() {
    throw new HttpException({ reason: 'gone' }, 410);
  }

  @Get('health')
  health() {
    return 'ok';
  }

  @Get('internal')
  @SkipMetrics()
  internal() {
    return 'internal';
  }
}

/** `x-api-key` names the caller, `x-label` labels it; no key: no group (null). */
export function trafficGroup(req: { headers: Record<string, string | undefined> }) {
  const apiKey = req.headers['x-api-key'];
  if (!apiKey) return null;
  const label = req.headers['x-label'];
  return label ? { apiKey, label } : { apiKey };
}

export function trafficAppModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class TrafficAppModule {}
  return {
    module: TrafficAppModule,
    imports: [MetricsModule.forRoot({ group: trafficGroup, exclude: ['/shop/health'], ...options })],
    controllers: [ShopController],
  };
}

/** One request of the traffic mix, and the series it must land in. */
export interface SentRequest {
  method: string;
  path: string;
  route?: string;
  status: number;
  headers: Record<string, string>;
  body?: string;
  /** The consumer's name in the metrics (label, else masked key); undefined: no group. */
  consumer?: string;
  counted: boolean;
}

const CALLERS: { headers: Record<string, string>; consumer?: string; keyed?: string }[] = [
  { headers: { 'x-api-key': 'acme-key-0001', 'x-label': 'Acme' }, consumer: 'Acme' },
  { headers: { 'x-api-key': 'globex-key-0002', 'x-label': 'Globex' }, consumer: 'Globex' },
  { headers: { 'x-api-key': 'initech-key-0003' }, keyed: 'initech-key-0003' },
  { headers: {} },
];

/** A deterministic mix of `n` requests over every route kind, caller kind and status class. */
export function trafficMix(n: number, maskedKey: (key: string) => string): SentRequest[] {
  const out: SentRequest[] = [];
  for (let i = 0; i < n; i++) {
    const caller = CALLERS[i % CALLERS.length]!;
    const consumer = caller.consumer ?? (caller.keyed ? maskedKey(caller.keyed) : undefined);
    const base = { headers: { ...caller.headers }, consumer, counted: true };
    switch (i % 7) {
      case 0:
      case 1:
        // HEAD: the route answers with the GET's Content-Length and sends no body (0 bytes transferred).
        out.push({
          ...base,
          method: i % 14 === 1 ? 'HEAD' : 'GET',
          path: `/shop/items/${i}`,
          route: '/shop/items/:id',
          status: 200,
        });
        break;
      case 2: {
        const body = JSON.stringify({ n: i, note: 'x'.repeat(i % 50) });
        out.push({
          ...base,
          method: 'POST',
          path: '/shop/items',
          route: '/shop/items',
          status: 201,
          body,
          headers: { ...base.headers, 'content-type': 'application/json' },
        });
        break;
      }
      case 3:
        out.push({ ...base, method: 'GET', path: '/shop/boom', route: '/shop/boom', status: 500 });
        break;
      case 4:
        out.push({ ...base, method: 'GET', path: `/nowhere/${i}`, status: 404 });
        break;
      case 5:
        out.push({ ...base, method: 'GET', path: '/shop/health', route: '/shop/health', status: 200, counted: false });
        break;
      default:
        out.push({
          ...base,
          method: 'GET',
          path: '/shop/internal',
          route: '/shop/internal',
          status: 200,
          counted: false,
        });
    }
  }
  return out;
}

/** Sends the mix, a few at a time; returns the responses in order. */
export async function sendMix(url: string, mix: SentRequest[]): Promise<SimpleResponse[]> {
  const responses: SimpleResponse[] = [];
  for (let i = 0; i < mix.length; i += 8) {
    const slice = mix.slice(i, i + 8);
    responses.push(
      ...(await Promise.all(
        slice.map((r) => httpRequest(`${url}${r.path}`, { method: r.method, headers: r.headers, body: r.body })),
      )),
    );
  }
  return responses;
}

/** The expected count per `method route status consumer`, of the counted requests. */
export function expectedCounts(mix: SentRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of mix) {
    if (!r.counted) continue;
    const key = seriesKey(r.method, r.route, r.status, r.consumer);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function seriesKey(method: string, route: string | undefined, status: number, consumer: string | undefined) {
  return `${method} ${route ?? '(unmatched)'} ${status} ${consumer ?? '(none)'}`;
}
