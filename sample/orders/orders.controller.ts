import { Body, Controller, Get, NotFoundException, Param, ParseIntPipe, Post, UseGuards } from '@nestjs/common';
import { HttpService } from '@nestjs/axios';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom } from 'rxjs';
import { MetricsGroup, MetricsService } from '../../src';
import { ApiKeyGuard, type CustomerRequest } from './api-key.guard';

interface Order {
  id: number;
  item: string;
  quantity: number;
}

/**
 * Orders of the calling customer. `@MetricsGroup` overrides the module's group function here: the guard has
 * identified the customer by then, so records carry their key (masked), name and email.
 */
@Controller('orders')
@UseGuards(ApiKeyGuard)
@MetricsGroup((req: CustomerRequest) =>
  req.customer
    ? { apiKey: req.customer.key, label: req.customer.name, email: req.customer.email }
    : { apiKey: String(req.headers['x-api-key'] ?? 'unknown'), label: 'Rejected caller' },
)
export class OrdersController {
  private readonly orders = new Map<number, Order>([[1, { id: 1, item: 'Owl plush', quantity: 2 }]]);
  private nextId = 2;

  constructor(
    private readonly http: HttpService,
    private readonly metrics: MetricsService,
  ) {}

  @Get()
  list() {
    return [...this.orders.values()];
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    const order = this.orders.get(id);
    if (!order) throw new NotFoundException(`No order ${id}`);
    return order;
  }

  /** Calls the carrier through HttpService: the call is recorded inside this request's record (entries[1]). */
  @Get(':id/shipping')
  async shipping(@Param('id', ParseIntPipe) id: number) {
    this.get(id);
    const carrier = process.env.CARRIER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
    const { data } = await firstValueFrom(this.http.get(`${carrier}/carrier/track/${id}`));
    return data;
  }

  /** A failure the app handles itself: reported after an await, it still lands on this request's record. */
  @Post(':id/refund')
  async refund(@Param('id', ParseIntPipe) id: number) {
    const order = this.get(id);
    await sleep(5); // e.g. asking the payment provider
    const declined = new Error('Refund declined by payment provider', {
      cause: new Error(`card expired for order ${order.id}`),
    });
    this.metrics.reportError(declined);
    return { refunded: false, reason: 'declined' };
  }

  @Post()
  create(@Body() body: { item?: string; quantity?: number }) {
    const order = { id: this.nextId++, item: String(body?.item ?? 'unknown'), quantity: Number(body?.quantity ?? 1) };
    this.orders.set(order.id, order);
    return order;
  }
}
