import { Body, Controller, Get, NotFoundException, Param, ParseIntPipe, Post, UseGuards } from '@nestjs/common';
import { MetricsGroup } from '../../src';
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

  @Post()
  create(@Body() body: { item?: string; quantity?: number }) {
    const order = { id: this.nextId++, item: String(body?.item ?? 'unknown'), quantity: Number(body?.quantity ?? 1) };
    this.orders.set(order.id, order);
    return order;
  }
}
