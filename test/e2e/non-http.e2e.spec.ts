import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Controller, Get, Module } from '@nestjs/common';
import {
  ClientProxyFactory,
  MessagePattern,
  RpcException,
  Transport,
  type ClientProxy,
  type MicroserviceOptions,
} from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { MetricsModule, MetricsService } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { Collector } from '../support/collector';
import { httpRequest } from '../support/http';

@Controller('hybrid')
class HybridController {
  @Get()
  http() {
    return { via: 'http' };
  }

  @MessagePattern('sum')
  sum(values: number[]) {
    return values.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('rpc-error')
  rpcError() {
    throw new RpcException({ code: 'E_RPC', detail: 'expected' });
  }

  @MessagePattern('plain-error')
  plainError() {
    throw new Error('unexpected');
  }
}

/** A free loopback port: the TCP transport needs one the client can be told about. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const adapter of ADAPTERS) {
  describe(`non-HTTP contexts pass through untouched (${adapter})`, () => {
    let collector: Collector;
    let running: RunningApp | undefined;
    let client: ClientProxy | undefined;

    before(async () => {
      collector = await Collector.start();
      const port = await freePort();
      @Module({
        imports: [MetricsModule.forRoot({ apiKey: 'k', baseUrl: collector.url })],
        controllers: [HybridController],
      })
      class HybridModule {}
      running = await startApp(HybridModule, adapter, async (app) => {
        app.connectMicroservice<MicroserviceOptions>({
          transport: Transport.TCP,
          options: { host: '127.0.0.1', port },
        });
        await app.startAllMicroservices();
      });
      client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
      await client.connect();
    });
    after(async () => {
      client?.close();
      await running?.close();
      await collector?.close();
    });

    it('RPC results and errors are what Nest gives without the module; only HTTP is recorded', async () => {
      assert.equal(await firstValueFrom(client!.send('sum', [1, 2, 3])), 6);
      await assert.rejects(firstValueFrom(client!.send('rpc-error', {})), (error: unknown) => {
        assert.deepEqual(error, { code: 'E_RPC', detail: 'expected' });
        return true;
      });
      await assert.rejects(firstValueFrom(client!.send('plain-error', {})), (error: unknown) => {
        assert.deepEqual(error, { status: 'error', message: 'Internal server error' });
        return true;
      });
      assert.equal((await httpRequest(`${running!.url}/hybrid`)).status, 200);
      await running!.app.get(MetricsService).flush();
      assert.equal(collector.records.length, 1);
      assert.equal(collector.records[0]!.request.log.entries[0]!.request.url, `${running!.url}/hybrid`);
      assert.equal(running!.app.get(MetricsService).stats().captured, 1);
    });
  });
}
