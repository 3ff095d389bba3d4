import 'reflect-metadata';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  Post,
  Sse,
  StreamableFile,
  type DynamicModule,
} from '@nestjs/common';
import { interval, map, take } from 'rxjs';
import { MetricsModule, MetricsService, type MetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp, type RunningApp } from '../support/adapters';
import { watchUnexpectedErrors } from '../support/unexpected';
import { Collector } from '../support/collector';
import { assertValidHar, entryOf } from '../support/har';
import { httpRequest } from '../support/http';

const STREAM_BYTES = 300 * 1024;

@Controller('odd')
class OddController {
  @Get('big')
  big() {
    return 'x'.repeat(200_000);
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return { length: JSON.stringify(body).length };
  }

  @Get('circular')
  circular() {
    const node: Record<string, unknown> = { name: 'loop' };
    node.self = node;
    return node;
  }

  @Get('bigint')
  bigint() {
    return { n: 10n };
  }

  @Get('nothing')
  nothing() {
    return undefined;
  }

  @Get('no-content')
  @HttpCode(204)
  noContent() {}

  @Get('stream')
  stream() {
    return new StreamableFile(Readable.from([Buffer.alloc(STREAM_BYTES, 97)]), { type: 'application/octet-stream' });
  }

  @Sse('events')
  events() {
    return interval(10).pipe(
      take(3),
      map((i) => ({ data: { i } })),
    );
  }

  @Get('latin1')
  @Header('content-type', 'text/plain; charset=iso-8859-1')
  latin1() {
    return Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
  }

  @Get('gzip')
  @Header('content-type', 'application/json')
  @Header('content-encoding', 'gzip')
  gzip() {
    return gzipSync(JSON.stringify({ compressed: true }));
  }
}

function oddModule(options: MetricsModuleOptions): DynamicModule {
  @Module({})
  class OddAppModule {}
  return { module: OddAppModule, imports: [MetricsModule.forRoot(options)], controllers: [OddController] };
}

/** Sends a JSON body in several chunks with `transfer-encoding: chunked`. */
function chunkedPost(url: string, chunks: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

for (const adapter of ADAPTERS) {
  describe(`big and odd traffic (${adapter})`, () => {
    let collector: Collector;
    let running: RunningApp;
    const unexpected = watchUnexpectedErrors();

    before(async () => {
      collector = await Collector.start();
      running = await startApp(
        oddModule({ apiKey: 'k', baseUrl: collector.url, maxBodyBytes: 1024, bufferLength: 100 }),
        adapter,
        (app) => {
          if (adapter === 'express')
            (app as unknown as { useBodyParser(t: string, o: object): void }).useBodyParser('json', { limit: '1mb' });
        },
      );
    });
    afterEach(() => {
      collector.reset();
      assert.deepEqual(unexpected, []);
    });
    after(async () => {
      await running?.close();
      await collector?.close();
    });

    async function recorded(path: string, init: Parameters<typeof httpRequest>[1] = {}) {
      const res = await httpRequest(running.url + path, init);
      await new Promise((r) => setTimeout(r, 20));
      await running.app.get(MetricsService).flush();
      const entries = collector.records.map(entryOf).filter((e) => e.request.url.endsWith(path));
      assert.equal(entries.length, 1, `one record for ${path}`);
      for (const record of collector.records) await assertValidHar(record);
      collector.reset();
      return { res, entry: entries[0]! };
    }

    it('cuts big bodies to maxBodyBytes, keeping the real size and marking the cut', async () => {
      const { res, entry } = await recorded('/odd/big');
      assert.equal(res.body.length, 200_000);
      assert.equal(entry.response.content.text?.length, 1024);
      assert.equal(entry.response.content.size, 200_000);
      assert.match(entry.response.content.comment ?? '', /truncated to 1024 of 200000 bytes/);

      const big = JSON.stringify({ data: 'y'.repeat(50_000) });
      const post = await recorded('/odd/echo', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      });
      assert.equal(post.res.status, 200);
      assert.equal(post.entry.request.postData?.text?.length, 1024);
      assert.match(post.entry.request.postData?.comment ?? '', /truncated to 1024 of 50011 bytes/);
      assert.equal(post.entry.request.bodySize, 50_011);
    });

    it('records values JSON cannot represent (cycles, BigInt) without breaking the answer Nest gives', async () => {
      for (const path of ['/odd/circular', '/odd/bigint']) {
        const { res, entry } = await recorded(path);
        assert.equal(entry.response.status, res.status);
        assert.equal(res.status, 500);
      }
    });

    it('handles empty answers: undefined, 204, HEAD', async () => {
      const nothing = await recorded('/odd/nothing');
      assert.equal(nothing.entry.response.status, 200);
      assert.equal(nothing.entry.response.content.text, '');
      const noContent = await recorded('/odd/no-content');
      assert.equal(noContent.entry.response.status, 204);
      assert.equal(noContent.entry.response.content.size, 0);
      const head = await recorded('/odd/big', { method: 'HEAD' });
      assert.equal(head.res.body.length, 0);
      assert.equal(head.entry.request.method, 'HEAD');
      assert.equal(head.entry.response.content.text, '');
    });

    it('passes streams through untouched and does not buffer them', async () => {
      const { res, entry } = await recorded('/odd/stream');
      assert.equal(res.body.length, STREAM_BYTES);
      assert.equal(entry.response.content.text, '');
      assert.match(entry.response.content.comment ?? '', /streamed body, not captured/);
      const sse = await recorded('/odd/events');
      assert.equal((sse.res.body.toString().match(/data: /g) ?? []).length, 3);
      assert.equal(sse.entry.response.status, 200);
      assert.match(sse.entry.response.content.mimeType, /text\/event-stream/);
    });

    it('records chunked uploads, non-UTF-8 text (as base64) and gzip answers (decoded)', async () => {
      const status = await chunkedPost(`${running.url}/odd/echo`, ['{"parts":', '[1,2,', '3]}']);
      assert.equal(status, 200);
      await new Promise((r) => setTimeout(r, 20));
      await running.app.get(MetricsService).flush();
      assert.equal(entryOf(collector.records[0]!).request.postData?.text, '{"parts":[1,2,3]}');
      collector.reset();

      const latin1 = await recorded('/odd/latin1');
      const gzip = await recorded('/odd/gzip');
      if (adapter === 'fastify') {
        assert.equal(latin1.entry.response.content.encoding, 'base64');
        assert.deepEqual(
          Buffer.from(latin1.entry.response.content.text ?? '', 'base64'),
          Buffer.from([0x63, 0x61, 0x66, 0xe9]),
        );
        assert.equal(gzip.entry.response.content.text, '{"compressed":true}');
      } else {
        // Nest's Express adapter sends returned Buffers as JSON text: the records show exactly that.
        assert.equal(latin1.entry.response.content.text, latin1.res.body.toString());
        assert.equal(gzip.entry.response.content.text, gzip.res.body.toString());
      }
    });
  });
}
